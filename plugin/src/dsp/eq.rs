//! The voice's 3-band EQ: low shelf, peak, high shelf (see `biquad`). Coefficients are only
//! recomputed when a setting changes; all bands at 0 dB pass the voice bit for bit.

use super::biquad::{Biquad, Coefficients};

/// EQ settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EqSettings {
    /// Low shelf corner and gain.
    pub low_hz: f32,
    pub low_db: f32,
    /// Peak centre, gain and Q.
    pub mid_hz: f32,
    pub mid_db: f32,
    pub mid_q: f32,
    /// High shelf corner and gain.
    pub high_hz: f32,
    pub high_db: f32,
}

impl Default for EqSettings {
    fn default() -> Self {
        Self {
            low_hz: 200.0,
            low_db: 0.0,
            mid_hz: 1500.0,
            mid_db: 0.0,
            mid_q: 1.0,
            high_hz: 6000.0,
            high_db: 0.0,
        }
    }
}

/// The EQ. Audio-thread state.
#[derive(Debug, Clone, Default)]
pub struct VoiceEq {
    sample_rate: f32,
    settings: Option<EqSettings>,
    bands: [Biquad; 3],
    flat: bool,
}

impl VoiceEq {
    /// Sets the sample rate; the coefficients are recomputed on the next `set`.
    pub fn prepare(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate.max(1.0);
        self.settings = None;
    }

    /// Clears the filters' state.
    pub fn reset(&mut self) {
        self.bands.iter_mut().for_each(Biquad::reset);
    }

    /// Applies new settings (free when unchanged).
    pub fn set(&mut self, s: EqSettings) {
        if self.settings == Some(s) {
            return;
        }
        let fs = self.sample_rate.max(1.0);
        self.bands[0].set(Coefficients::low_shelf(fs, s.low_hz, s.low_db));
        self.bands[1].set(Coefficients::peak(fs, s.mid_hz, s.mid_db, s.mid_q));
        self.bands[2].set(Coefficients::high_shelf(fs, s.high_hz, s.high_db));
        let flat = s.low_db == 0.0 && s.mid_db == 0.0 && s.high_db == 0.0;
        if self.flat && !flat {
            // The filters sat idle while flat: start them clean, not from a stale state.
            self.reset();
        }
        self.flat = flat;
        self.settings = Some(s);
    }

    /// Whether it does anything at its current settings.
    pub fn is_active(&self) -> bool {
        !self.flat
    }

    /// Filters `samples` in place.
    ///
    /// # Realtime safety
    /// No allocation; three biquads per sample, none when flat.
    pub fn process(&mut self, samples: &mut [f32]) {
        if self.flat {
            return;
        }
        let mut none = Biquad::default();
        self.run(samples, &mut none, &mut []);
    }

    /// Filters `samples` in place and runs `detector` on the result in the same pass, writing
    /// its output to `detected` (at least as long as `samples`). Two filters in one loop cost
    /// little more than one: their recursions overlap. Only when not flat.
    pub fn process_and_detect(
        &mut self,
        samples: &mut [f32],
        detector: &mut Biquad,
        detected: &mut [f32],
    ) {
        if !self.flat && detected.len() >= samples.len() {
            self.run(samples, detector, detected);
        }
    }

    /// The three bands (and a detector when `detected` is not empty) in one pass, on local
    /// copies of their state: the recursions overlap in the pipeline and nothing spills.
    fn run(&mut self, samples: &mut [f32], detector: &mut Biquad, detected: &mut [f32]) {
        let [low, mid, high] = &mut self.bands;
        let c = [low.coefficients(), mid.coefficients(), high.coefficients()];
        let mut states = [low.state(), mid.state(), high.state()];
        if detected.is_empty() {
            for v in samples.iter_mut() {
                *v = three_bands(&c, &mut states, *v);
            }
        } else {
            let cd = detector.coefficients();
            let mut sd = detector.state();
            for (v, d) in samples.iter_mut().zip(detected.iter_mut()) {
                let y = three_bands(&c, &mut states, *v);
                let (h, s) = cd.step(y, sd);
                sd = s;
                *v = y;
                *d = h;
            }
            detector.set_state(sd);
        }
        low.set_state(states[0]);
        mid.set_state(states[1]);
        high.set_state(states[2]);
    }
}

/// One sample through the three bands.
#[inline(always)]
fn three_bands(c: &[Coefficients; 3], states: &mut [(f32, f32); 3], x: f32) -> f32 {
    let (y, s) = c[0].step(x, states[0]);
    states[0] = s;
    let (y, s) = c[1].step(y, states[1]);
    states[1] = s;
    let (y, s) = c[2].step(y, states[2]);
    states[2] = s;
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_is_bit_exact_and_a_cut_band_cuts() {
        let mut eq = VoiceEq::default();
        eq.prepare(48_000.0);
        eq.set(EqSettings::default());
        let mut x: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let before = x.clone();
        eq.process(&mut x);
        assert_eq!(x, before);

        eq.set(EqSettings {
            high_db: -12.0,
            ..EqSettings::default()
        });
        let fs = 48_000.0;
        let tone = |f: f32| -> Vec<f32> {
            (0..48_000)
                .map(|i| (std::f32::consts::TAU * f * i as f32 / fs).sin())
                .collect()
        };
        let level = |eq: &mut VoiceEq, f: f32| {
            eq.reset();
            let mut t = tone(f);
            eq.process(&mut t);
            let tail = &t[24_000..];
            20.0 * (tail.iter().map(|v| v * v).sum::<f32>() / tail.len() as f32)
                .sqrt()
                .log10()
                + 3.0103
        };
        assert!(level(&mut eq, 15_000.0) < -11.0);
        assert!(level(&mut eq, 300.0).abs() < 0.2);
    }
}

//! A broadband de-esser: when the voice's energy above ~6 kHz (the "s" and "t" band, found by a
//! high-pass detector) exceeds a threshold, the whole voice is turned down by up to the set
//! amount, quickly, and released after the sibilant.

use super::biquad::{Biquad, Coefficients};
use super::gain::{approach, db_to_gain};

/// Where sibilance starts.
const DETECT_HZ: f32 = 6000.0;
/// Sibilant level (RMS of the high band) above which reduction starts: -30 dBFS.
const THRESHOLD: f32 = 0.031_622_78;

/// The de-esser. Audio-thread state.
#[derive(Debug, Clone, Default)]
pub struct DeEsser {
    detector: Biquad,
    envelope: f32,
    attack: f32,
    release: f32,
    /// Deepest reduction as a linear gain (1 = off).
    floor: f32,
    gain: f32,
}

impl DeEsser {
    /// Sets the sample rate.
    pub fn prepare(&mut self, sample_rate: f32) {
        let fs = sample_rate.max(1.0);
        self.detector
            .set(Coefficients::high_pass(fs, DETECT_HZ, 0.707));
        self.attack = 1.0 - (-1.0 / (0.001 * fs).max(1.0)).exp();
        self.release = 1.0 - (-1.0 / (0.060 * fs).max(1.0)).exp();
        self.gain = 1.0;
        if self.floor == 0.0 {
            self.floor = 1.0;
        }
    }

    /// Sets the deepest reduction in dB (0 = off).
    pub fn set(&mut self, amount_db: f32) {
        self.floor = db_to_gain(-amount_db.abs());
    }

    /// Clears the detector.
    pub fn reset(&mut self) {
        self.detector.reset();
        self.envelope = 0.0;
        self.gain = 1.0;
    }

    /// De-esses `samples` in place.
    ///
    /// # Realtime safety
    /// No allocation; bypassed when the amount is 0.
    pub fn process(&mut self, samples: &mut [f32]) {
        if self.floor >= 1.0 {
            return;
        }
        for x in samples.iter_mut() {
            let high = self.detector.tick(*x).abs();
            let coef = if high > self.envelope {
                self.attack
            } else {
                self.release
            };
            self.envelope += coef * (high - self.envelope);
            // Reduction grows with how far the sibilance exceeds the threshold, down to the floor.
            let target = if self.envelope > THRESHOLD {
                (THRESHOLD / self.envelope).max(self.floor)
            } else {
                1.0
            };
            let coef = if target < self.gain {
                self.attack
            } else {
                self.release
            };
            self.gain = approach(self.gain, target, coef);
            *x *= self.gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_after(d: &mut DeEsser, freq: f32) -> f32 {
        let fs = 48_000.0;
        d.reset();
        let mut x: Vec<f32> = (0..24_000)
            .map(|i| 0.5 * (std::f32::consts::TAU * freq * i as f32 / fs).sin())
            .collect();
        d.process(&mut x);
        let tail = &x[12_000..];
        20.0 * ((tail.iter().map(|v| v * v).sum::<f32>() / tail.len() as f32).sqrt()
            / (0.5 / 2f32.sqrt()))
        .log10()
    }

    #[test]
    fn sibilant_tones_are_turned_down_and_vowels_are_not() {
        let mut d = DeEsser::default();
        d.prepare(48_000.0);
        d.set(8.0);
        let s = level_after(&mut d, 9000.0);
        assert!((-8.5..-4.0).contains(&s), "sibilant band reduced by {s} dB");
        assert!(
            level_after(&mut d, 400.0).abs() < 0.1,
            "vowel band untouched"
        );
        d.set(0.0);
        let mut x: Vec<f32> = (0..1000).map(|i| (i as f32 * 1.3).sin()).collect();
        let before = x.clone();
        d.process(&mut x);
        assert_eq!(x, before, "0 dB is off, bit for bit");
    }
}

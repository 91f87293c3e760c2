//! A broadband de-esser: when the voice's energy above ~6 kHz (the "s" and "t" band, found by a
//! high-pass detector) exceeds a threshold, the whole voice is turned down by up to the set
//! amount, quickly, and released after the sibilant. The detector filter runs every sample;
//! the envelope and gain at control rate, the gain ramped linearly between updates.

use super::biquad::{Biquad, Coefficients};
use super::gain::{approach, db_to_gain};
use super::{CONTROL_BLOCK, apply_ramp, coef_for, coef_over};

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
    /// The same over a whole control block.
    attack_block: f32,
    release_block: f32,
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
        self.attack_block = coef_over(self.attack, CONTROL_BLOCK);
        self.release_block = coef_over(self.release, CONTROL_BLOCK);
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

    /// Whether it does anything at its current setting.
    pub fn is_active(&self) -> bool {
        self.floor < 1.0
    }

    /// De-esses `samples` in place.
    ///
    /// # Realtime safety
    /// No allocation; bypassed when the amount is 0.
    pub fn process(&mut self, samples: &mut [f32]) {
        if !self.is_active() {
            return;
        }
        for chunk in samples.chunks_mut(CONTROL_BLOCK) {
            let mut high = 0.0f32;
            let mut detector = self.detector;
            for &x in chunk.iter() {
                high = high.max(detector.tick(x).abs());
            }
            self.detector = detector;
            self.follow(chunk, high);
        }
        self.detector.flush();
    }

    /// The sibilance detector (a high-pass), for a caller that runs it inside its own loop
    /// and then calls [`DeEsser::process_detected`].
    pub fn detector_mut(&mut self) -> &mut Biquad {
        &mut self.detector
    }

    /// De-esses `samples` given `detected`, the detector's output for them (as from
    /// [`DeEsser::detector_mut`]; same length).
    pub fn process_detected(&mut self, samples: &mut [f32], detected: &[f32]) {
        if !self.is_active() {
            return;
        }
        for (chunk, detected) in samples
            .chunks_mut(CONTROL_BLOCK)
            .zip(detected.chunks(CONTROL_BLOCK))
        {
            let high = detected.iter().fold(0.0f32, |p, d| p.max(d.abs()));
            self.follow(chunk, high);
        }
    }

    /// One control block: the envelope follows the detector's peak `high`, and the gain the
    /// envelope, ramped across `chunk`.
    fn follow(&mut self, chunk: &mut [f32], high: f32) {
        let n = chunk.len();
        let coef = if high > self.envelope {
            coef_for(self.attack_block, self.attack, n)
        } else {
            coef_for(self.release_block, self.release, n)
        };
        self.envelope += coef * (high - self.envelope);
        if self.envelope < 1e-20 {
            self.envelope = 0.0;
        }
        // Reduction grows with how far the sibilance exceeds the threshold, down to the floor.
        let target = if self.envelope > THRESHOLD {
            (THRESHOLD / self.envelope).max(self.floor)
        } else {
            1.0
        };
        let coef = if target < self.gain {
            coef_for(self.attack_block, self.attack, n)
        } else {
            coef_for(self.release_block, self.release, n)
        };
        let from = self.gain;
        self.gain = approach(self.gain, target, coef);
        apply_ramp(chunk, from, self.gain);
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

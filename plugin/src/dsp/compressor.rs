//! An RMS compressor for the voice: a 10 ms RMS detector, a hard-knee gain computer
//! (threshold, ratio), attack/release smoothing of the gain reduction in dB, and makeup gain.
//! Plain code: fundsp has no compressor node.

use super::gain::db_to_gain;
use super::{CONTROL_BLOCK, apply_ramp, coef_for, coef_over};

/// RMS detector window.
const RMS_MS: f32 = 10.0;

fn coefficient(ms: f32, sample_rate: f32) -> f32 {
    let samples = (ms.max(0.01) * 0.001 * sample_rate.max(1.0)).max(1.0);
    1.0 - (-1.0 / samples).exp()
}

/// Compressor settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressorSettings {
    /// Level above which gain is reduced, dBFS.
    pub threshold_db: f32,
    /// Input dB over the threshold per output dB over it (1 = off).
    pub ratio: f32,
    pub attack_ms: f32,
    pub release_ms: f32,
    /// Gain added after compression, dB.
    pub makeup_db: f32,
}

impl Default for CompressorSettings {
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 1.0,
            attack_ms: 10.0,
            release_ms: 150.0,
            makeup_db: 0.0,
        }
    }
}

/// The compressor. Audio-thread state.
#[derive(Debug, Clone, Default)]
pub struct Compressor {
    sample_rate: f32,
    settings: CompressorSettings,
    /// Mean square of the input.
    mean_square: f32,
    rms_coef: f32,
    /// Each sample's weight in the mean square at the end of a control block.
    rms_weights: [f32; CONTROL_BLOCK],
    /// How much of the mean square survives a whole control block.
    rms_decay_block: f32,
    attack: f32,
    release: f32,
    /// The same over a whole control block.
    attack_block: f32,
    release_block: f32,
    /// Current gain reduction, dB (≤ 0).
    reduction_db: f32,
    /// Linear gain applied at the end of the last sub-block (reduction and makeup).
    applied: f32,
}

impl Compressor {
    /// Sets the sample rate.
    pub fn prepare(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate.max(1.0);
        self.rms_coef = coefficient(RMS_MS, self.sample_rate);
        // Sample i of a control block reaches its end decayed n − 1 − i times.
        let keep = 1.0 - self.rms_coef;
        for (i, w) in self.rms_weights.iter_mut().enumerate() {
            *w = self.rms_coef * keep.powi((CONTROL_BLOCK - 1 - i) as i32);
        }
        self.rms_decay_block = keep.powi(CONTROL_BLOCK as i32);
        self.set(self.settings);
    }

    /// Applies settings (cheap; call every block).
    pub fn set(&mut self, s: CompressorSettings) {
        self.settings = s;
        self.attack = coefficient(s.attack_ms, self.sample_rate);
        self.release = coefficient(s.release_ms, self.sample_rate);
        self.attack_block = coef_over(self.attack, CONTROL_BLOCK);
        self.release_block = coef_over(self.release, CONTROL_BLOCK);
    }

    /// Clears the detector and the gain reduction.
    pub fn reset(&mut self) {
        self.mean_square = 0.0;
        self.reduction_db = 0.0;
        self.applied = db_to_gain(self.settings.makeup_db);
    }

    /// The current gain reduction, dB (for the meters).
    pub fn reduction_db(&self) -> f32 {
        self.reduction_db
    }

    /// Compresses `samples` in place.
    ///
    /// # Realtime safety
    /// No allocation. A ratio of 1 with 0 dB makeup leaves the signal untouched.
    pub fn process(&mut self, samples: &mut [f32]) {
        let s = self.settings;
        let ratio = s.ratio.max(1.0);
        if ratio == 1.0 && s.makeup_db == 0.0 {
            return;
        }
        let slope = 1.0 - 1.0 / ratio;
        let makeup = db_to_gain(s.makeup_db);
        if self.applied == 0.0 {
            self.applied = makeup; // first use without a reset
        }
        // The gain computer (log and exp, the costly part) runs once per control block with the
        // gain ramped across it. The detector's one-pole mean square is only needed at the end
        // of each control block, where it is a weighted sum of the block's squares plus the
        // decayed previous value: a dot product instead of a chain of dependent updates.
        for chunk in samples.chunks_mut(CONTROL_BLOCK) {
            let n = chunk.len();
            let weights = &self.rms_weights[CONTROL_BLOCK - n..];
            let mut sums = [0.0f32; 4];
            let mut lanes = chunk.chunks_exact(4).zip(weights.chunks_exact(4));
            for (x, w) in &mut lanes {
                for lane in 0..4 {
                    sums[lane] += w[lane] * x[lane] * x[lane];
                }
            }
            let done = n - n % 4;
            let tail: f32 = chunk[done..]
                .iter()
                .zip(&weights[done..])
                .map(|(x, w)| w * x * x)
                .sum();
            let decay = if n == CONTROL_BLOCK {
                self.rms_decay_block
            } else {
                (1.0 - self.rms_coef).powi(n as i32)
            };
            self.mean_square = self.mean_square * decay + (sums.iter().sum::<f32>() + tail);
            if self.mean_square.is_nan() || self.mean_square < 1e-20 {
                // NaN from garbage input, or a decay towards subnormals.
                self.mean_square = 0.0;
            }
            // 10·log10 and 10^(x/20) through ln and exp, which cost half of log10 and powf.
            let level_db = self.mean_square.max(1e-12).ln() * (10.0 / std::f32::consts::LN_10);
            let target = -(level_db - s.threshold_db).max(0.0) * slope;
            let coef = if target < self.reduction_db {
                coef_for(self.attack_block, self.attack, n)
            } else {
                coef_for(self.release_block, self.release, n)
            };
            self.reduction_db += coef * (target - self.reduction_db);
            let gain = (self.reduction_db * (std::f32::consts::LN_10 / 20.0)).exp() * makeup;
            apply_ramp(chunk, self.applied, gain);
            self.applied = gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(c: &mut Compressor, amplitude: f32, fs: f32) -> f32 {
        let mut x: Vec<f32> = (0..fs as usize)
            .map(|i| amplitude * (std::f32::consts::TAU * 500.0 * i as f32 / fs).sin())
            .collect();
        c.process(&mut x);
        let tail = &x[x.len() / 2..];
        20.0 * (tail.iter().map(|v| v * v).sum::<f32>() / tail.len() as f32)
            .sqrt()
            .log10()
    }

    #[test]
    fn static_curve_follows_threshold_and_ratio() {
        let fs = 48_000.0;
        let mut c = Compressor::default();
        c.prepare(fs);
        c.set(CompressorSettings {
            threshold_db: -20.0,
            ratio: 4.0,
            ..Default::default()
        });
        // A sine of amplitude 0.4472 has an RMS of -10 dBFS: 10 dB over, 2.5 dB out.
        let out = settle(&mut c, 0.447_213_6, fs);
        assert!((out + 17.5).abs() < 0.3, "output {out} dB");
        // Below the threshold nothing changes.
        c.reset();
        let out = settle(&mut c, 0.02, fs);
        assert!((out - 20.0 * (0.02f32 / 2f32.sqrt()).log10()).abs() < 0.05);
    }

    #[test]
    fn ratio_one_is_a_bypass_and_makeup_adds_gain() {
        let mut c = Compressor::default();
        c.prepare(48_000.0);
        let mut x = vec![0.5f32; 64];
        c.process(&mut x);
        assert_eq!(x, vec![0.5f32; 64]);
        c.set(CompressorSettings {
            makeup_db: 6.0,
            ..Default::default()
        });
        c.process(&mut x);
        assert!((x[63] - 0.5 * db_to_gain(6.0)).abs() < 1e-4);
    }
}

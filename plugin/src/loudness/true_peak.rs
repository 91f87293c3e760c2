//! True peak after ITU-R BS.1770-4 Annex 2: the signal's peak between its samples, found by
//! oversampling (4× under 96 kHz, 2× under 192 kHz, none above, so the oversampled rate is
//! at least 176.4 kHz) with a windowed-sinc interpolator, 12 taps per phase.
//!
//! Offline analysis on whole buffers; any thread but the audio thread.

use std::f64::consts::PI;

/// Taps per phase of the interpolator.
pub const TAPS: usize = 12;
/// How many samples either side of a point the interpolator reads.
pub const TAPS_REACH: usize = TAPS / 2;

/// The oversampling factor for `rate`.
pub fn factor(rate: u32) -> usize {
    match rate {
        0..96_000 => 4,
        96_000..192_000 => 2,
        _ => 1,
    }
}

/// The taps that give the value `frac` of a sample past sample n from samples
/// n − TAPS/2 + 1 … n + TAPS/2: a Blackman-windowed sinc, summing to 1.
pub fn taps(frac: f64) -> [f64; TAPS] {
    let half = (TAPS / 2) as f64;
    let mut taps = [0.0; TAPS];
    for (k, tap) in taps.iter_mut().enumerate() {
        // Distance from the interpolated point to sample n − TAPS/2 + 1 + k.
        let t = frac + half - 1.0 - k as f64;
        let sinc = if t.abs() < 1e-12 {
            1.0
        } else {
            (PI * t).sin() / (PI * t)
        };
        // Blackman window over the span ±(TAPS/2).
        let w = (t / half).clamp(-1.0, 1.0);
        let window = 0.42 + 0.5 * (PI * w).cos() + 0.08 * (2.0 * PI * w).cos();
        *tap = sinc * window;
    }
    let sum: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|t| *t /= sum);
    taps
}

/// The interpolator: `factor` phases of `TAPS` taps; phase p gives the value `p / factor` of
/// a sample past sample n from samples n − TAPS/2 + 1 … n + TAPS/2. Each phase sums to 1.
pub struct Interpolator {
    phases: Vec<[f64; TAPS]>,
}

impl Interpolator {
    pub fn new(factor: usize) -> Self {
        let phases = (0..factor)
            .map(|p| taps(p as f64 / factor as f64))
            .collect();
        Self { phases }
    }

    /// The largest absolute value of `x` around each of its samples: the sample itself and
    /// the interpolated points between it and the next (non-finite samples count as 0).
    pub fn peaks(&self, x: &[f32]) -> Vec<f64> {
        let half = TAPS / 2;
        let at = |i: isize| -> f64 {
            if i < 0 || i as usize >= x.len() {
                0.0
            } else {
                let v = x[i as usize];
                if v.is_finite() { f64::from(v) } else { 0.0 }
            }
        };
        (0..x.len())
            .map(|n| {
                let first = n as isize - half as isize + 1;
                let mut peak = at(n as isize).abs();
                for taps in &self.phases[1..] {
                    let v: f64 = taps
                        .iter()
                        .enumerate()
                        .map(|(k, t)| t * at(first + k as isize))
                        .sum();
                    peak = peak.max(v.abs());
                }
                peak
            })
            .collect()
    }
}

/// The true peak of `channels` at `rate`, as a linear value (1 = 0 dBTP).
pub fn true_peak(channels: &[Vec<f32>], rate: u32) -> f64 {
    let interpolator = Interpolator::new(factor(rate));
    channels
        .iter()
        .flat_map(|c| interpolator.peaks(c))
        .fold(0.0, f64::max)
}

/// Decibels of a linear value (−∞ for 0).
pub fn db(linear: f64) -> f64 {
    20.0 * linear.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_rate_sine_between_its_samples_peaks_3_db_over_them() {
        // sin(πn/2 + π/4): every sample is ±0.707, the waveform reaches ±1 between them.
        let x: Vec<f32> = (0..4800)
            .map(|n| (PI * n as f64 / 2.0 + PI / 4.0).sin() as f32)
            .collect();
        let sample_peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((f64::from(sample_peak) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-3);
        let tp = true_peak(&[x], 48_000);
        assert!((db(tp) - 0.0).abs() < 0.2, "{} dBTP", db(tp));
    }

    #[test]
    fn a_low_sine_reads_its_amplitude() {
        let x: Vec<f32> = (0..48_000)
            .map(|n| (0.5 * (2.0 * PI * 997.0 * n as f64 / 48_000.0).sin()) as f32)
            .collect();
        let tp = true_peak(&[x], 48_000);
        assert!((tp - 0.5).abs() < 0.002, "{tp}");
    }

    #[test]
    fn high_rates_need_no_oversampling_and_garbage_reads_zero() {
        assert_eq!(factor(44_100), 4);
        assert_eq!(factor(96_000), 2);
        assert_eq!(factor(192_000), 1);
        assert_eq!(true_peak(&[vec![f32::NAN, f32::INFINITY]], 48_000), 0.0);
        assert_eq!(true_peak(&[], 48_000), 0.0);
    }
}

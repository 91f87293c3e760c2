//! Levels and counters the audio thread publishes for the editor: written once per block with
//! relaxed atomic stores (each value stands alone; a reader may see one block's peak with the
//! next block's RMS, which no display can tell), read at any time from any thread.

use crate::loudness::live::LiveLoudness;
use atomic_float::AtomicF32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Peak and RMS of one signal over the last block, linear.
#[derive(Debug, Default)]
pub struct Level {
    /// Largest absolute sample.
    pub peak: AtomicF32,
    /// Root mean square.
    pub rms: AtomicF32,
}

impl Level {
    /// Stores the level of `channels` (all channels together).
    ///
    /// # Realtime safety
    /// No allocation; two relaxed stores.
    pub fn measure<C: AsRef<[f32]>>(&self, channels: &[C]) {
        let (mut peak, mut sum, mut count) = (0.0f32, 0.0f32, 0usize);
        for channel in channels {
            let (p, s) = peak_and_sum_of_squares(channel.as_ref());
            peak = peak.max(p);
            sum += s;
            count += channel.as_ref().len();
        }
        // Input is measured before it is cleaned: garbage reads as silence, not NaN.
        let peak = if peak.is_finite() { peak } else { 0.0 };
        self.peak.store(peak, Ordering::Relaxed);
        let rms = if count > 0 && sum.is_finite() {
            (sum / count as f32).sqrt()
        } else {
            0.0
        };
        self.rms.store(rms, Ordering::Relaxed);
    }
}

/// Lanes of the meters' accumulators: independent partial results the compiler keeps in one
/// SIMD register, instead of one running sum whose every add waits for the previous one.
const LANES: usize = 8;

/// Largest absolute sample and sum of squares of `x`.
#[inline]
fn peak_and_sum_of_squares(x: &[f32]) -> (f32, f32) {
    let (mut peaks, mut sums) = ([0.0f32; LANES], [0.0f32; LANES]);
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for lane in 0..LANES {
            // A compare and select (one `maxps`), where `f32::max` adds NaN handling.
            let a = chunk[lane].abs();
            peaks[lane] = if a > peaks[lane] { a } else { peaks[lane] };
            sums[lane] += chunk[lane] * chunk[lane];
        }
    }
    for (lane, &v) in rest.iter().enumerate() {
        peaks[lane] = peaks[lane].max(v.abs());
        sums[lane] += v * v;
    }
    (
        peaks.iter().fold(0.0f32, |a, &b| a.max(b)),
        sums.iter().sum(),
    )
}

/// Everything the editor's meters and status line show.
#[derive(Debug, Default)]
pub struct Meters {
    /// The host's signal as it arrives.
    pub input: Level,
    /// The sidechain input as it arrives.
    pub sidechain: Level,
    /// The voice after its chain, before the voice gain.
    pub voice: Level,
    /// The same voice's short-term loudness and true peak (over the last 3 s).
    pub voice_loudness: LiveLoudness,
    /// The plugin's output.
    pub output: Level,
    /// The ducker's gain on the host signal, dB (≤ 0).
    pub duck_db: AtomicF32,
    /// The voice compressor's gain reduction, dB (≤ 0).
    pub compressor_db: AtomicF32,
    /// Voice samples that were due but had not arrived (speech thread late), in total.
    pub underruns: AtomicU64,
    /// The host's sample rate (set at activation), to show sample counts as time.
    pub sample_rate: AtomicF32,
    /// Input samples that were NaN, infinite or subnormal and replaced with silence, in total.
    pub replaced_inputs: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_is_the_peak_and_rms_across_channels() {
        let level = Level::default();
        level.measure(&[&[0.5, -1.0], &[0.0, 0.5]]);
        assert_eq!(level.peak.load(Ordering::Relaxed), 1.0);
        let rms = level.rms.load(Ordering::Relaxed);
        assert!((rms - (1.5f32 / 4.0).sqrt()).abs() < 1e-6);
        level.measure::<&[f32]>(&[]);
        assert_eq!(level.rms.load(Ordering::Relaxed), 0.0);
    }
}

//! Levels and counters the audio thread publishes for the editor: written once per block with
//! relaxed atomic stores (each value stands alone; a reader may see one block's peak with the
//! next block's RMS, which no display can tell), read at any time from any thread.

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
        let (peak, sum, count) = channels
            .iter()
            .fold((0.0f32, 0.0f32, 0usize), |(p, s, n), c| {
                let c = c.as_ref();
                let (cp, cs) = c
                    .iter()
                    .fold((p, s), |(p, s), &x| (p.max(x.abs()), s + x * x));
                (cp, cs, n + c.len())
            });
        self.peak.store(peak, Ordering::Relaxed);
        let rms = if count > 0 {
            (sum / count as f32).sqrt()
        } else {
            0.0
        };
        self.rms.store(rms, Ordering::Relaxed);
    }
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
    /// The plugin's output.
    pub output: Level,
    /// The ducker's gain on the host signal, dB (≤ 0).
    pub duck_db: AtomicF32,
    /// The voice compressor's gain reduction, dB (≤ 0).
    pub compressor_db: AtomicF32,
    /// Voice samples that were due but had not arrived (speech thread late), in total.
    pub underruns: AtomicU64,
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

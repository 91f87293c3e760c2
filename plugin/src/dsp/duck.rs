//! Ducking: lowers the host signal while a key signal (the voice, or a sidechain input such as
//! a microphone bus) is active, as a radio host's music dips under speech.
//!
//! Detection is a peak envelope (1 ms attack, 50 ms release) against a fixed threshold, with a
//! hold so the music does not pump back up between words. Both run at control rate (the key's
//! peak per [`CONTROL_BLOCK`]); the gain is ramped linearly between updates. The gain then glides towards the
//! ducked level with the attack time and back with the release time (one-pole smoothing in the
//! linear domain, time constants as the user sets them).
//!
//! Plain code rather than fundsp: fundsp has no ducker/compressor node, and this is a handful
//! of multiply-adds per sample.

use super::gain::{approach, db_to_gain};
use super::{CONTROL_BLOCK, coef_for, coef_over, fill_ramp, finite_peak};

/// Key level (linear) above which the key counts as active: -45 dBFS, well under speech and
/// above the noise floor of any real sidechain.
pub const KEY_THRESHOLD: f32 = 0.005_623_413;

/// How long the key may pause (between words) before the host signal comes back up.
pub const HOLD_MS: f32 = 250.0;

/// One-pole coefficient reaching ~63 % of a step after `ms` at `sample_rate`.
fn coefficient(ms: f32, sample_rate: f32) -> f32 {
    let samples = (ms.max(0.01) * 0.001 * sample_rate.max(1.0)).max(1.0);
    1.0 - (-1.0 / samples).exp()
}

/// The ducker. Audio-thread state; `prepare` sets the sample rate, `process` allocates nothing.
#[derive(Debug, Clone)]
pub struct Ducker {
    sample_rate: f32,
    /// Key envelope.
    envelope: f32,
    env_attack: f32,
    env_release: f32,
    /// The same over a whole control block.
    env_attack_block: f32,
    env_release_block: f32,
    /// Samples of hold left.
    hold_left: u32,
    hold_samples: u32,
    /// Current gain applied to the host signal.
    gain: f32,
    /// Gain while ducked (linear).
    ducked: f32,
    attack: f32,
    release: f32,
    /// The same over a whole control block.
    attack_block: f32,
    release_block: f32,
}

impl Default for Ducker {
    fn default() -> Self {
        let mut ducker = Self {
            sample_rate: 48_000.0,
            envelope: 0.0,
            env_attack: 0.0,
            env_release: 0.0,
            env_attack_block: 0.0,
            env_release_block: 0.0,
            hold_left: 0,
            hold_samples: 0,
            gain: 1.0,
            ducked: 1.0,
            attack: 0.0,
            release: 0.0,
            attack_block: 0.0,
            release_block: 0.0,
        };
        ducker.prepare(48_000.0);
        ducker.set(0.0, 10.0, 300.0);
        ducker
    }
}

impl Ducker {
    /// Sets the sample rate (keeps the settings).
    pub fn prepare(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate.max(1.0);
        self.env_attack = coefficient(1.0, self.sample_rate);
        self.env_release = coefficient(50.0, self.sample_rate);
        self.env_attack_block = coef_over(self.env_attack, CONTROL_BLOCK);
        self.env_release_block = coef_over(self.env_release, CONTROL_BLOCK);
        self.hold_samples = (HOLD_MS * 0.001 * self.sample_rate) as u32;
    }

    /// Sets depth (dB, 0 = off, negative = ducked), attack and release (ms). Cheap enough to call
    /// every block.
    pub fn set(&mut self, depth_db: f32, attack_ms: f32, release_ms: f32) {
        self.ducked = db_to_gain(depth_db.min(0.0));
        self.attack = coefficient(attack_ms, self.sample_rate);
        self.release = coefficient(release_ms, self.sample_rate);
        self.attack_block = coef_over(self.attack, CONTROL_BLOCK);
        self.release_block = coef_over(self.release, CONTROL_BLOCK);
    }

    /// Back to unity gain, no key memory.
    pub fn reset(&mut self) {
        self.envelope = 0.0;
        self.hold_left = 0;
        self.gain = 1.0;
    }

    /// The gain currently applied to the host signal, in dB (0 when not ducking).
    pub fn gain_reduction_db(&self) -> f32 {
        20.0 * self.gain.max(1e-6).log10()
    }

    /// Writes the host-signal gain for each sample of `key` into `gains`
    /// (`gains.len() == key.len()`; extra gains are left alone).
    ///
    /// # Realtime safety
    /// No allocation, no branches beyond the key detection.
    pub fn process(&mut self, key: &[f32], gains: &mut [f32]) {
        let len = key.len().min(gains.len());
        for (key, gains) in key[..len]
            .chunks(CONTROL_BLOCK)
            .zip(gains[..len].chunks_mut(CONTROL_BLOCK))
        {
            let n = key.len();
            let level = finite_peak(key);
            let coef = if level > self.envelope {
                coef_for(self.env_attack_block, self.env_attack, n)
            } else {
                coef_for(self.env_release_block, self.env_release, n)
            };
            self.envelope += coef * (level - self.envelope);
            if self.envelope > KEY_THRESHOLD {
                self.hold_left = self.hold_samples;
            } else {
                self.hold_left = self.hold_left.saturating_sub(n as u32);
            }
            let (target, coef) = if self.hold_left > 0 {
                (self.ducked, coef_for(self.attack_block, self.attack, n))
            } else {
                (1.0, coef_for(self.release_block, self.release, n))
            };
            let from = self.gain;
            self.gain = approach(self.gain, target, coef);
            fill_ramp(gains, from, self.gain);
        }
        if self.envelope < 1e-20 {
            self.envelope = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ducker: &mut Ducker, key: &[f32]) -> Vec<f32> {
        let mut gains = vec![0.0; key.len()];
        ducker.process(key, &mut gains);
        gains
    }

    #[test]
    fn ducks_by_the_depth_while_the_key_plays_and_recovers_after_the_hold() {
        let rate = 10_000.0;
        let mut ducker = Ducker::default();
        ducker.prepare(rate);
        ducker.set(-12.0, 10.0, 100.0);
        let talk = vec![0.3f32; 5_000]; // 0.5 s of key
        let gains = run(&mut ducker, &talk);
        let depth = 20.0 * gains[4_999].log10();
        assert!((depth + 12.0).abs() < 0.05, "ducked to {depth} dB");
        // 10 ms attack: most of the way down after 50 ms.
        assert!(20.0 * gains[500].log10() < -11.0);
        let silence = vec![0.0f32; 20_000];
        let gains = run(&mut ducker, &silence);
        // Held for 250 ms, then back to unity within the following second.
        assert!(
            20.0 * gains[2_000].log10() < -11.5,
            "still ducked during the hold"
        );
        assert!(gains[19_999] > 0.999, "recovered: {}", gains[19_999]);
        assert!(ducker.gain_reduction_db() > -0.01);
    }

    #[test]
    fn zero_depth_never_changes_the_gain_and_garbage_keys_are_ignored() {
        let mut ducker = Ducker::default();
        ducker.set(0.0, 10.0, 100.0);
        assert!(run(&mut ducker, &[0.9; 1000]).iter().all(|&g| g == 1.0));
        let mut ducker = Ducker::default();
        ducker.set(-20.0, 10.0, 100.0);
        assert!(
            run(&mut ducker, &[f32::NAN, f32::INFINITY, 1e-40])
                .iter()
                .all(|&g| g == 1.0)
        );
    }

    #[test]
    fn quiet_keys_below_the_threshold_do_not_duck() {
        let mut ducker = Ducker::default();
        ducker.set(-20.0, 1.0, 100.0);
        assert!(run(&mut ducker, &[0.001; 48_000]).iter().all(|&g| g == 1.0));
    }
}

//! Click-free gain changes.

/// Default time a gain change takes to reach its target. 20 ms is short enough to feel
/// immediate on a fader and long enough that a jump from silence to full scale does not click.
pub const DEFAULT_RAMP_MS: f32 = 20.0;

/// The lowest gain a fader shows as a number; anything at or below it is silence (`-inf`).
pub const SILENCE_DB: f32 = -80.0;

/// Converts decibels to linear amplitude, mapping [`SILENCE_DB`] and below to exactly zero so a
/// fader at its bottom really mutes.
#[inline]
pub fn db_to_gain(db: f32) -> f32 {
    if db <= SILENCE_DB || db.is_nan() {
        0.0
    } else {
        10f32.powf(db / 20.0)
    }
}

/// The smallest change per sample [`approach`] makes: −120 dB of full scale.
pub const MIN_GAIN_STEP: f32 = 1e-6;

/// One step of one-pole smoothing from `current` towards `target` with coefficient `coef`
/// (0..1), that really arrives.
///
/// Plain `current += coef * (target - current)` in `f32` stalls once the step falls under
/// half an ulp of `current`: with a 400 ms release at 48 kHz a gain heading for 1 stops
/// 5e-4 short (−66 dB of error, and never bit-exact pass-through). Here the step never falls
/// under [`MIN_GAIN_STEP`], so the last stretch is a short linear glide onto the target.
#[inline(always)]
pub fn approach(current: f32, target: f32, coef: f32) -> f32 {
    let delta = target - current;
    let step = coef * delta;
    if step.abs() >= MIN_GAIN_STEP {
        current + step
    } else if delta.abs() <= MIN_GAIN_STEP {
        target
    } else {
        current + MIN_GAIN_STEP.copysign(delta)
    }
}

/// Converts linear amplitude to decibels; zero (or less) maps to negative infinity.
#[inline]
pub fn gain_to_db(gain: f32) -> f32 {
    if gain > 0.0 {
        20.0 * gain.log10()
    } else {
        f32::NEG_INFINITY
    }
}

/// A linear ramp in the amplitude domain towards a target gain.
///
/// A linear ramp (rather than a ramp in decibels) can start or end at exactly zero, which a mute
/// needs, and its cost is one add per sample. Retargeting mid-ramp starts a fresh ramp from the
/// current value, so automation never jumps.
#[derive(Debug, Clone)]
pub struct GainRamp {
    /// The gain of the last sample produced.
    current: f32,
    /// Where the ramp is heading.
    target: f32,
    /// Added to `current` per sample while `remaining > 0`.
    step: f32,
    /// Samples left until `current == target`.
    remaining: u32,
    /// Length of a full ramp at the prepared sample rate.
    ramp_samples: u32,
}

impl GainRamp {
    /// A ramp resting at `gain`.
    pub fn new(gain: f32) -> Self {
        Self {
            current: gain,
            target: gain,
            step: 0.0,
            remaining: 0,
            ramp_samples: 1,
        }
    }

    /// Sets the ramp length for a sample rate. Any sample rate works; very low rates get a ramp
    /// of at least one sample.
    pub fn prepare(&mut self, sample_rate_hz: f32, ramp_ms: f32) {
        let samples = (sample_rate_hz.max(1.0) * ramp_ms.max(0.0) / 1000.0).round();
        self.ramp_samples = (samples as u32).max(1);
    }

    /// Jumps to the target at once (after a reset or a preset load while stopped).
    pub fn reset(&mut self) {
        self.current = self.target;
        self.remaining = 0;
        self.step = 0.0;
    }

    /// Heads towards `gain`. A target equal to the current one is free.
    #[inline]
    pub fn set_target(&mut self, gain: f32) {
        if gain == self.target {
            return;
        }
        self.target = gain;
        self.remaining = self.ramp_samples;
        self.step = (gain - self.current) / self.ramp_samples as f32;
    }

    /// Whether the gain is still changing.
    #[inline]
    pub fn is_ramping(&self) -> bool {
        self.remaining > 0
    }

    /// The gain of the last sample produced (the target once the ramp is over).
    #[inline]
    pub fn current(&self) -> f32 {
        self.current
    }

    /// Writes the next `out.len()` gains into `out`.
    ///
    /// # Realtime safety
    /// No allocation, no branches per sample.
    pub fn fill(&mut self, out: &mut [f32]) {
        let ramp_len = (self.remaining as usize).min(out.len());
        let (ramping, resting) = out.split_at_mut(ramp_len);
        // Each gain from the ramp's start, not from the previous gain: no chain of dependent
        // adds (so the loop vectorises) and no accumulated rounding.
        let start = self.current;
        for (i, gain) in ramping.iter_mut().enumerate() {
            *gain = start + self.step * (i + 1) as f32;
        }
        self.current = start + self.step * ramp_len as f32;
        self.remaining -= ramp_len as u32;
        if self.remaining == 0 {
            // Land exactly on the target, free of accumulated rounding error (which could
            // otherwise leave a mute at -7e-8 instead of 0).
            self.current = self.target;
            if let Some(last) = ramping.last_mut() {
                *last = self.target;
            }
        }
        resting.fill(self.current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approach_arrives_exactly_where_plain_smoothing_stalls() {
        let coef = 1.0 - (-1.0f32 / 19_200.0).exp(); // 400 ms at 48 kHz
        let (mut plain, mut smoothed) = (0.25f32, 0.25f32);
        for _ in 0..48_000 * 20 {
            plain += coef * (1.0 - plain);
            smoothed = approach(smoothed, 1.0, coef);
        }
        assert!(1.0 - plain > 1e-4, "plain smoothing stalls at {plain}");
        assert_eq!(smoothed, 1.0);
        // Early on it is the same one-pole curve.
        let early = (0..1000).fold(0.25f32, |g, _| approach(g, 1.0, coef));
        let expected = 1.0 - 0.75 * (1.0 - coef).powi(1000);
        assert!((early - expected).abs() < 1e-5);
    }

    #[test]
    fn db_conversions_round_trip_and_mute_at_the_floor() {
        assert_eq!(db_to_gain(0.0), 1.0);
        assert!((db_to_gain(-6.0) - 0.501_187).abs() < 1e-5);
        assert_eq!(db_to_gain(SILENCE_DB), 0.0);
        assert_eq!(db_to_gain(f32::NAN), 0.0);
        assert!((gain_to_db(db_to_gain(-12.5)) + 12.5).abs() < 1e-4);
        assert_eq!(gain_to_db(0.0), f32::NEG_INFINITY);
    }

    #[test]
    fn ramp_reaches_target_exactly_after_its_length() {
        let mut ramp = GainRamp::new(1.0);
        ramp.prepare(1000.0, 10.0); // 10 samples
        ramp.set_target(0.0);
        let mut out = [9.0f32; 16];
        ramp.fill(&mut out);
        assert!((out[0] - 0.9).abs() < 1e-6);
        assert!(out[..10].windows(2).all(|w| w[1] < w[0]));
        assert_eq!(&out[9..], &[0.0; 7]);
        assert!(!ramp.is_ramping());
    }

    #[test]
    fn retarget_mid_ramp_continues_from_current_value() {
        let mut ramp = GainRamp::new(0.0);
        ramp.prepare(1000.0, 10.0);
        ramp.set_target(1.0);
        let mut out = [0.0f32; 5];
        ramp.fill(&mut out);
        let midway = ramp.current();
        ramp.set_target(0.0);
        let mut next = [0.0f32; 1];
        ramp.fill(&mut next);
        assert!(next[0] < midway && next[0] > midway - 0.2);
    }

    #[test]
    fn tiny_sample_rates_still_ramp_one_sample() {
        let mut ramp = GainRamp::new(0.0);
        ramp.prepare(1.0, 20.0);
        ramp.set_target(1.0);
        let mut out = [0.0f32; 2];
        ramp.fill(&mut out);
        assert_eq!(out, [1.0, 1.0]);
    }
}

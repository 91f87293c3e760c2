//! Bringing a finished render to a loudness target under a true-peak ceiling: one gain for
//! the whole file, found from the integrated loudness ([`meter`]), and where that gain would
//! lift a peak over the ceiling, a look-ahead true-peak limiter on the peaks alone. Limiting
//! lowers the loudness a little, so the gain is raised by what was lost and the file limited
//! again, until it reads within 0.05 LU of the target (or six rounds have passed).
//!
//! Offline, on whole buffers; any thread but the audio thread.

use std::collections::VecDeque;

use super::meter;
use super::true_peak::{self, Interpolator};

/// The targets a user may ask for, LUFS.
pub const TARGET_RANGE: std::ops::RangeInclusive<f64> = -40.0..=-5.0;
/// The ceilings a user may ask for, dBTP.
pub const CEILING_RANGE: std::ops::RangeInclusive<f64> = -9.0..=0.0;
/// How far under the asked ceiling the limiter aims, dB: other meters interpolate between
/// samples differently from ours, by a few hundredths of a dB.
const MARGIN_DB: f64 = 0.1;
/// The limiter's attack (the look-ahead its gain ramps over) and release time constant.
const ATTACK_SECONDS: f64 = 0.0015;
const RELEASE_SECONDS: f64 = 0.05;
/// Rounds of raising the gain by what limiting cost.
const ROUNDS: usize = 6;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LoudnessError {
    #[error("a loudness target must be between -40 and -5 LUFS (got {0})")]
    Target(f64),
    #[error("a true-peak ceiling must be between -9 and 0 dBTP (got {0})")]
    Ceiling(f64),
    #[error("the audio is too short (under 0.4 s of sound) or too quiet to measure its loudness")]
    Unmeasurable,
}

/// What to reach: integrated loudness, LUFS, and the true-peak ceiling, dBTP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub lufs: f64,
    pub ceiling_dbtp: f64,
}

impl Target {
    /// A checked target.
    pub fn new(lufs: f64, ceiling_dbtp: f64) -> Result<Self, LoudnessError> {
        if !(lufs.is_finite() && TARGET_RANGE.contains(&lufs)) {
            return Err(LoudnessError::Target(lufs));
        }
        if !(ceiling_dbtp.is_finite() && CEILING_RANGE.contains(&ceiling_dbtp)) {
            return Err(LoudnessError::Ceiling(ceiling_dbtp));
        }
        Ok(Self { lufs, ceiling_dbtp })
    }
}

/// What normalising did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Loudness before and after, LUFS.
    pub before_lufs: f64,
    pub lufs: f64,
    /// True peak after, dBTP.
    pub true_peak_dbtp: f64,
    /// The gain applied before limiting, dB.
    pub gain_db: f64,
    /// The most the limiter took off any sample, dB (0 when it had nothing to do).
    pub limited_db: f64,
}

/// Brings `channels` (one buffer each, equal lengths) at `rate` to `target`.
pub fn normalize(
    channels: &mut [Vec<f32>],
    rate: u32,
    target: Target,
) -> Result<Outcome, LoudnessError> {
    let before_lufs = meter::integrated(channels, rate).ok_or(LoudnessError::Unmeasurable)?;
    let original = channels.to_vec();
    let ceiling = 10f64.powf((target.ceiling_dbtp - MARGIN_DB) / 20.0);
    let interpolator = Interpolator::new(true_peak::factor(rate));
    let mut gain_db = target.lufs - before_lufs;
    let mut out = original.clone();
    let mut lufs = before_lufs;
    let mut limited_db = 0.0;
    for _ in 0..ROUNDS {
        let gain = 10f64.powf(gain_db / 20.0);
        for (o, c) in out.iter_mut().zip(&original) {
            for (o, &c) in o.iter_mut().zip(c) {
                *o = if c.is_finite() {
                    (f64::from(c) * gain) as f32
                } else {
                    0.0
                };
            }
        }
        limited_db = limit(&mut out, rate, ceiling, &interpolator);
        lufs = meter::integrated(&out, rate).ok_or(LoudnessError::Unmeasurable)?;
        let error = target.lufs - lufs;
        if limited_db == 0.0 || error.abs() < 0.05 {
            break;
        }
        gain_db += error;
    }
    // The ramped gain bends the waveform between samples a little; a last whole-file trim
    // keeps the ceiling whatever that did.
    let peak = true_peak::true_peak(&out, rate);
    let hard = 10f64.powf(target.ceiling_dbtp / 20.0) * 10f64.powf(-MARGIN_DB / 40.0);
    if peak > hard {
        let trim = (hard / peak) as f32;
        out.iter_mut().flatten().for_each(|v| *v *= trim);
        lufs = meter::integrated(&out, rate).ok_or(LoudnessError::Unmeasurable)?;
    }
    let true_peak_dbtp = true_peak::db(true_peak::true_peak(&out, rate));
    for (c, o) in channels.iter_mut().zip(out) {
        *c = o;
    }
    Ok(Outcome {
        before_lufs,
        lufs,
        true_peak_dbtp,
        gain_db,
        limited_db,
    })
}

/// Limits `channels` so that their true peak stays under `ceiling` (linear): one gain for all
/// channels, held down from `ATTACK_SECONDS` (plus the interpolator's reach) before a peak,
/// ramped over that attack, recovering with `RELEASE_SECONDS`. Returns the deepest cut, dB.
fn limit(channels: &mut [Vec<f32>], rate: u32, ceiling: f64, interpolator: &Interpolator) -> f64 {
    let frames = channels.iter().map(Vec::len).min().unwrap_or(0);
    let mut peak = vec![0.0f64; frames];
    for channel in channels.iter() {
        for (p, v) in peak.iter_mut().zip(interpolator.peaks(&channel[..frames])) {
            *p = p.max(v);
        }
    }
    let need: Vec<f64> = peak
        .iter()
        .map(|&p| if p > ceiling { ceiling / p } else { 1.0 })
        .collect();
    let deepest = need.iter().copied().fold(1.0, f64::min);
    if deepest >= 1.0 {
        return 0.0;
    }
    let half = ((ATTACK_SECONDS * f64::from(rate)).round() as usize / 2).max(1);
    // Every gain averaged into sample n's ramp comes from within `half` of it, and each of
    // those is held at or under every need within `reach` of itself: so the ramped gain at n
    // is at most n's need, and so is every gain the interpolator reads around n.
    let reach = half + true_peak::TAPS_REACH;
    let held = sliding_min(&need, reach);
    let release = 1.0 - (-1.0 / (RELEASE_SECONDS * f64::from(rate))).exp();
    let mut gains = Vec::with_capacity(frames);
    let mut last = 1.0f64;
    for &h in &held {
        last = h.min(last + (1.0 - last) * release);
        gains.push(last);
    }
    let ramped = centred_mean(&gains, half);
    for channel in channels.iter_mut() {
        for (v, g) in channel.iter_mut().zip(&ramped) {
            *v = (f64::from(*v) * g) as f32;
        }
    }
    true_peak::db(deepest)
}

/// The minimum of `x` over [n − radius, n + radius] for every n (a monotonic queue: O(n)).
fn sliding_min(x: &[f64], radius: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut next = 0;
    for n in 0..x.len() {
        while next < x.len() && next <= n + radius {
            while queue.back().is_some_and(|&b| x[b] >= x[next]) {
                queue.pop_back();
            }
            queue.push_back(next);
            next += 1;
        }
        while queue.front().is_some_and(|&f| f + radius < n) {
            queue.pop_front();
        }
        out.push(queue.front().map_or(1.0, |&f| x[f]));
    }
    out
}

/// The mean of `x` over [n − half, n + half] (clipped to the buffer) for every n.
fn centred_mean(x: &[f64], half: usize) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(x.len() + 1);
    prefix.push(0.0);
    let mut sum = 0.0;
    for v in x {
        sum += v;
        prefix.push(sum);
    }
    (0..x.len())
        .map(|n| {
            let (a, b) = (n.saturating_sub(half), (n + half + 1).min(x.len()));
            (prefix[b] - prefix[a]) / (b - a) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Bursts of a tone with sharp peaks in them, like speech's plosives over its vowels.
    fn peaky(rate: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let burst = if (t * 3.0).fract() < 0.6 { 1.0 } else { 0.0 };
                let click = if i % 4801 == 0 { 0.9 } else { 0.0 };
                (burst * 0.05 * (2.0 * PI * 220.0 * t).sin() + click) as f32
            })
            .collect()
    }

    #[test]
    fn targets_out_of_range_are_refused() {
        assert_eq!(
            Target::new(-3.0, -1.0).err(),
            Some(LoudnessError::Target(-3.0))
        );
        assert!(matches!(
            Target::new(f64::NAN, -1.0),
            Err(LoudnessError::Target(_))
        ));
        assert_eq!(
            Target::new(-16.0, 1.0).err(),
            Some(LoudnessError::Ceiling(1.0))
        );
        assert!(Target::new(-23.0, -1.0).is_ok());
    }

    #[test]
    fn a_quiet_peaky_signal_reaches_its_target_under_its_ceiling() {
        for (rate, lufs) in [
            (48_000, -16.0),
            (44_100, -14.0),
            (24_000, -23.0),
            (96_000, -16.0),
        ] {
            let mut channels = vec![peaky(rate, 5.0), peaky(rate, 5.0)];
            let target = Target::new(lufs, -1.0).expect("valid");
            let outcome = normalize(&mut channels, rate, target).expect("measurable");
            assert!((outcome.lufs - lufs).abs() < 0.1, "{rate}: {outcome:?}");
            assert!(
                outcome.limited_db < 0.0,
                "{rate}: the clicks needed limiting"
            );
            let tp = true_peak::db(true_peak::true_peak(&channels, rate));
            assert!(tp <= -1.0, "{rate}: {tp} dBTP");
            assert_eq!(tp, outcome.true_peak_dbtp);
            let measured = meter::integrated(&channels, rate).expect("measurable");
            assert_eq!(measured, outcome.lufs);
        }
    }

    #[test]
    fn without_peaks_to_limit_the_gain_alone_does_it() {
        let rate = 48_000;
        let tone: Vec<f32> = (0..rate * 3)
            .map(|i| (0.01 * (2.0 * PI * 997.0 * f64::from(i) / f64::from(rate)).sin()) as f32)
            .collect();
        let mut channels = vec![tone];
        let outcome = normalize(
            &mut channels,
            rate,
            Target::new(-23.0, -1.0).expect("valid"),
        )
        .expect("ok");
        assert_eq!(outcome.limited_db, 0.0);
        assert!((outcome.lufs + 23.0).abs() < 0.01, "{outcome:?}");
    }

    #[test]
    fn silence_cannot_be_normalised() {
        let mut channels = vec![vec![0.0f32; 48_000]];
        let target = Target::new(-16.0, -1.0).expect("valid");
        assert_eq!(
            normalize(&mut channels, 48_000, target),
            Err(LoudnessError::Unmeasurable)
        );
    }

    #[test]
    fn the_sliding_minimum_and_mean_cover_their_windows() {
        let x = [5.0, 3.0, 4.0, 1.0, 6.0, 7.0, 8.0];
        assert_eq!(sliding_min(&x, 1), vec![3.0, 3.0, 1.0, 1.0, 1.0, 6.0, 7.0]);
        assert_eq!(sliding_min(&x, 0), x.to_vec());
        assert_eq!(centred_mean(&[1.0, 2.0, 3.0], 1), vec![1.5, 2.0, 2.5]);
    }
}

//! Integrated loudness after ITU-R BS.1770-4: each channel K-weighted (a high shelf for the
//! head's effect, then the RLB high-pass), mean squares over 400 ms blocks overlapping by
//! 75 %, blocks under −70 LUFS dropped (the absolute gate), then blocks more than 10 LU under
//! the loudness of those left dropped (the relative gate).
//!
//! Offline analysis in f64 on whole buffers; any thread but the audio thread.

use std::f64::consts::PI;

/// The absolute gate, LUFS.
const ABSOLUTE_GATE: f64 = -70.0;
/// The relative gate, LU under the loudness of the blocks over the absolute gate.
const RELATIVE_GATE: f64 = 10.0;
/// The constant that makes a 997 Hz sine at 0 dBFS in one channel read −3.01 LUFS.
const OFFSET: f64 = -0.691;

/// One second-order section, direct form I in f64.
#[derive(Debug, Clone, Copy)]
pub(super) struct Section {
    b: [f64; 3],
    a: [f64; 2],
}

impl Section {
    /// The pre-filter: a high shelf of about +4 dB above 1.5 kHz. The analogue prototype's
    /// constants are those the standard's 48 kHz coefficients come from, so any rate gets the
    /// same curve (and 48 kHz the standard's own numbers).
    pub(super) fn shelf(rate: f64) -> Self {
        let (f0, gain_db, q) = (
            1_681.974_450_955_533,
            3.999_843_853_973_347,
            0.707_175_236_955_419_6,
        );
        let k = (PI * f0 / rate).tan();
        let vh = 10f64.powf(gain_db / 20.0);
        let vb = vh.powf(0.499_666_774_154_541_6);
        let a0 = 1.0 + k / q + k * k;
        Self {
            b: [
                (vh + vb * k / q + k * k) / a0,
                2.0 * (k * k - vh) / a0,
                (vh - vb * k / q + k * k) / a0,
            ],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        }
    }

    /// The RLB weighting: a second-order high-pass at about 38 Hz.
    pub(super) fn high_pass(rate: f64) -> Self {
        let (f0, q) = (38.135_470_876_024_44, 0.500_327_037_323_877_3);
        let k = (PI * f0 / rate).tan();
        let a0 = 1.0 + k / q + k * k;
        Self {
            b: [1.0, -2.0, 1.0],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        }
    }

    fn run(&self, x: &mut [f64]) {
        let mut state = [0.0; 4];
        for v in x.iter_mut() {
            *v = self.step(&mut state, *v);
        }
    }

    /// One sample through the section; `state` is (x1, x2, y1, y2).
    #[inline]
    pub(super) fn step(&self, state: &mut [f64; 4], x: f64) -> f64 {
        let [x1, x2, y1, y2] = *state;
        let y = self.b[0] * x + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
        *state = [x, x1, y, y1];
        y
    }
}

/// The K-weighted squares of one channel.
fn weighted_squares(channel: &[f32], rate: f64) -> Vec<f64> {
    let mut x: Vec<f64> = channel
        .iter()
        .map(|&v| if v.is_finite() { f64::from(v) } else { 0.0 })
        .collect();
    Section::shelf(rate).run(&mut x);
    Section::high_pass(rate).run(&mut x);
    for v in &mut x {
        *v *= *v;
    }
    x
}

pub(super) fn lufs(power: f64) -> f64 {
    OFFSET + 10.0 * power.log10()
}

/// The integrated loudness of `channels` (equal lengths; each weighted 1, as left, right and
/// centre are) at `rate`, in LUFS; None when no 400 ms block passes the gates (shorter than
/// 400 ms, or silent).
pub fn integrated(channels: &[Vec<f32>], rate: u32) -> Option<f64> {
    let rate_f = f64::from(rate);
    let block = (0.4 * rate_f).round() as usize;
    let hop = (0.1 * rate_f).round() as usize;
    let frames = channels.iter().map(Vec::len).min()?;
    if block == 0 || hop == 0 || frames < block {
        return None;
    }
    // Prefix sums of the summed weighted squares make every block one subtraction.
    let mut summed = vec![0.0f64; frames];
    for channel in channels {
        for (s, w) in summed
            .iter_mut()
            .zip(weighted_squares(&channel[..frames], rate_f))
        {
            *s += w;
        }
    }
    let mut prefix = Vec::with_capacity(frames + 1);
    prefix.push(0.0f64);
    let mut total = 0.0;
    for s in summed {
        total += s;
        prefix.push(total);
    }
    let blocks: Vec<f64> = (0..=(frames - block) / hop)
        .map(|i| (prefix[i * hop + block] - prefix[i * hop]).max(0.0) / block as f64)
        .filter(|&power| power > 0.0 && lufs(power) > ABSOLUTE_GATE)
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let relative = lufs(blocks.iter().sum::<f64>() / blocks.len() as f64) - RELATIVE_GATE;
    let kept: Vec<f64> = blocks.into_iter().filter(|&p| lufs(p) > relative).collect();
    if kept.is_empty() {
        return None;
    }
    Some(lufs(kept.iter().sum::<f64>() / kept.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n)
            .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    #[test]
    fn a_full_scale_997_hz_sine_in_one_channel_reads_minus_3_01() {
        // The standard's calibration at its own rate; at others the same analogue curve
        // lands within a few hundredths of it (the bilinear transform bends the standard's
        // own 48 kHz curve slightly).
        for (rate, within) in [
            (48_000, 0.01),
            (8000, 0.05),
            (44_100, 0.05),
            (96_000, 0.05),
            (768_000, 0.05),
        ] {
            let left = sine(997.0, 1.0, rate, 3.0);
            let right = vec![0.0; left.len()];
            let l = integrated(&[left, right], rate).expect("a measurable tone");
            assert!((l + 3.01).abs() < within, "{rate} Hz: {l}");
        }
    }

    #[test]
    fn the_48_khz_coefficients_are_the_standards() {
        let shelf = Section::shelf(48_000.0);
        let expected_b = [
            1.535_124_859_586_97,
            -2.691_696_189_406_38,
            1.198_392_810_852_85,
        ];
        let expected_a = [-1.690_659_293_182_41, 0.732_480_774_215_85];
        for (got, want) in shelf
            .b
            .iter()
            .zip(expected_b)
            .chain(shelf.a.iter().zip(expected_a))
        {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        let hp = Section::high_pass(48_000.0);
        let expected_a = [-1.990_047_454_833_98, 0.990_072_250_366_21];
        for (got, want) in hp.a.iter().zip(expected_a) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
    }

    #[test]
    fn the_gates_ignore_silence_and_quiet_passages() {
        let rate = 48_000;
        let tone = sine(997.0, 0.5, rate, 4.0);
        let alone = integrated(std::slice::from_ref(&tone), rate).expect("measurable");
        // Silence around it is under the absolute gate, a tone 30 dB down under the relative.
        let mut with = vec![0.0f32; 2 * rate as usize];
        with.extend(&tone);
        with.extend(sine(997.0, 0.5 * 10f64.powf(-30.0 / 20.0), rate, 2.0));
        with.extend(vec![0.0f32; rate as usize]);
        let gated = integrated(&[with], rate).expect("measurable");
        // Counted, the quiet 2 s would pull the result down by 10·log10(4/6) = 1.8 dB; the
        // blocks straddling the loud tone's edges are rightly kept and cost a few tenths.
        assert!(gated < alone && alone - gated < 0.4, "{alone} vs {gated}");
        assert!((alone - (-3.01 - 6.02)).abs() < 0.05, "{alone}");
    }

    #[test]
    fn too_short_or_silent_has_no_loudness() {
        assert_eq!(integrated(&[sine(997.0, 1.0, 48_000, 0.3)], 48_000), None);
        assert_eq!(integrated(&[vec![0.0; 48_000]], 48_000), None);
        assert_eq!(integrated(&[], 48_000), None);
        assert_eq!(integrated(&[vec![f32::NAN; 48_000]], 48_000), None);
    }
}

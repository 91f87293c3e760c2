//! Test signals and measurements.

/// A sine at `freq_hz`, amplitude `amp`, `frames` long.
pub fn sine(freq_hz: f64, amp: f32, sample_rate: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| amp * (std::f64::consts::TAU * freq_hz * i as f64 / sample_rate).sin() as f32)
        .collect()
}

/// Root mean square.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Level of `x` relative to `reference`, in dB.
pub fn ratio_db(x: &[f32], reference: &[f32]) -> f64 {
    20.0 * (rms(x) / rms(reference)).log10()
}

/// True if every sample is finite and none is subnormal.
pub fn all_clean(x: &[f32]) -> bool {
    x.iter()
        .all(|v| v.is_finite() && (*v == 0.0 || v.is_normal()))
}

/// Level of the `freq_hz` component of `x` (Goertzel), as an amplitude.
pub fn tone_level(x: &[f32], freq_hz: f64, sample_rate: f64) -> f64 {
    let w = std::f64::consts::TAU * freq_hz / sample_rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

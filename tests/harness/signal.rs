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

//! Signal processing units. Plain structs with no framework types: each one is prepared with
//! `prepare` (which may allocate), cleared with `reset`, and run with `process*` on preallocated
//! memory only, so the audio thread can call everything but `prepare`.

pub mod biquad;
pub mod compressor;
pub mod deesser;
pub mod duck;
pub mod eq;
pub mod gain;
pub mod limiter;
pub mod mix;
pub mod path;
pub mod sanitize;
pub mod voice_chain;

/// Samples per control-rate update. Detectors and gain computers whose decisions need not be
/// per sample (envelopes, gain reduction, ducking) run once per 16 samples (0.33 ms at 48 kHz,
/// far below any attack time they offer) and their gains are ramped linearly across it; the
/// per-sample work left is multiply-adds over slices, which vectorise.
pub const CONTROL_BLOCK: usize = 16;

/// The one-pole coefficient `coef` applied `n` times in a row: `1 − (1 − coef)ⁿ`.
#[inline]
pub fn coef_over(coef: f32, n: usize) -> f32 {
    1.0 - (1.0 - coef).powi(n as i32)
}

/// `coef_over(coef, CONTROL_BLOCK)`, or for the short last piece of a block, computed for it.
#[inline]
pub fn coef_for(per_block: f32, per_sample: f32, n: usize) -> f32 {
    if n == CONTROL_BLOCK {
        per_block
    } else {
        coef_over(per_sample, n)
    }
}

/// Largest finite absolute value in `x` (0 for garbage and for an empty slice).
#[inline]
pub fn finite_peak(x: &[f32]) -> f32 {
    // Compare-and-select per lane over four lanes: `maxps`, no NaN juggling, no serial chain.
    let mut peaks = [0.0f32; 4];
    let chunks = x.chunks_exact(4);
    let rest = chunks.remainder();
    let keep = |p: f32, v: f32| {
        let a = v.abs();
        if a > p && a <= f32::MAX { a } else { p }
    };
    for chunk in chunks {
        for lane in 0..4 {
            peaks[lane] = keep(peaks[lane], chunk[lane]);
        }
    }
    for (lane, &v) in rest.iter().enumerate() {
        peaks[lane] = keep(peaks[lane], v);
    }
    peaks.iter().fold(0.0, |p, &v| keep(p, v))
}

/// Multiplies `x` by a gain gliding linearly from `from` (exclusive) to `to` (reached on the
/// last sample).
#[inline]
pub fn apply_ramp(x: &mut [f32], from: f32, to: f32) {
    if from == to {
        x.iter_mut().for_each(|v| *v *= to);
        return;
    }
    let step = (to - from) / x.len() as f32;
    for (i, v) in x.iter_mut().enumerate() {
        *v *= from + step * (i + 1) as f32;
    }
}

/// Writes a gain gliding linearly from `from` (exclusive) to `to` into `out`.
#[inline]
pub fn fill_ramp(out: &mut [f32], from: f32, to: f32) {
    if from == to {
        out.fill(to);
        return;
    }
    let step = (to - from) / out.len() as f32;
    for (i, g) in out.iter_mut().enumerate() {
        *g = from + step * (i + 1) as f32;
    }
}

//! Whole-clip sample-rate conversion with rubato's synchronous FFT resampler (libsoxr-HQ
//! quality per shared/DECISIONS.md; polynomial modes smear sibilants). The realtime path will
//! resample chunk by chunk with preallocated buffers; this helper is for offline rendering.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Why resampling failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot resample {from} Hz to {to} Hz: {message}")]
pub struct ResampleError {
    /// Input rate.
    pub from: u32,
    /// Output rate.
    pub to: u32,
    /// rubato's message.
    pub message: String,
}

/// Converts mono `samples` from `from` Hz to `to` Hz. Equal rates return the input unchanged.
pub fn resample_mono(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let error = |message: String| ResampleError { from, to, message };
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| error(e.to_string()))?;
    let input =
        InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| error(e.to_string()))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| error(e.to_string()))?;
    Ok(output.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_keeps_its_frequency_and_length() {
        let from = 22050;
        let to = 48000;
        let tone: Vec<f32> = (0..from)
            .map(|i| (std::f32::consts::TAU * 440.0 * i as f32 / from as f32).sin() * 0.5)
            .collect();
        let out = resample_mono(&tone, from, to).unwrap();
        assert!(
            (out.len() as i64 - i64::from(to)).abs() <= 2,
            "{}",
            out.len()
        );
        // Zero crossings per second ≈ 2 × 440 in the steady middle part.
        let middle = &out[4800..43200];
        let crossings = middle
            .windows(2)
            .filter(|w| w[0] <= 0.0 && w[1] > 0.0)
            .count();
        let expected = 440.0 * middle.len() as f32 / to as f32;
        assert!(
            (crossings as f32 - expected).abs() <= 2.0,
            "{crossings} vs {expected}"
        );
        assert_eq!(resample_mono(&tone, from, from).unwrap(), tone);
    }
}

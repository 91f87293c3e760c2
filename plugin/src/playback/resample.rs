//! Sample-rate conversion from the voice's rate to the host's with rubato's synchronous FFT
//! resampler (libsoxr-HQ quality, measured against libsoxr; polynomial modes smear sibilants):
//! [`resample_mono`] for a whole clip, [`StreamResampler`] for speech arriving in pieces.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};
use std::ops::ControlFlow;

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

/// Resamples one phrase at a time as its pieces arrive, so the pieces join exactly as if the
/// whole phrase had been resampled at once (the result equals [`resample_mono`] on the
/// concatenation, sample for sample). Built once per activation for the host's rate; the
/// speech thread calls [`StreamResampler::push`] for each piece and
/// [`StreamResampler::finish`] at the end of the phrase, which also readies it for the next.
///
/// Runs on the speech thread. Its buffers are allocated in `new`, so a phrase costs no
/// allocation.
pub struct StreamResampler {
    /// `None` when the rates are equal: samples pass through untouched.
    fft: Option<Fft<f32>>,
    from: u32,
    to: u32,
    /// Input waiting for a whole chunk.
    pending: Vec<f32>,
    /// One chunk of output.
    output: Vec<f32>,
    /// Output frames of the resampler's startup delay still to drop.
    to_trim: usize,
    /// Input frames of this phrase so far.
    fed: u64,
    /// Output frames of this phrase handed on so far.
    emitted: u64,
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        let error = |message: String| ResampleError { from, to, message };
        let fft = if from == to {
            None
        } else {
            Some(
                Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
                    .map_err(|e| error(e.to_string()))?,
            )
        };
        let (chunk, out) = fft
            .as_ref()
            .map_or((0, 0), |f| (f.input_frames_max(), f.output_frames_max()));
        let to_trim = fft.as_ref().map_or(0, Resampler::output_delay);
        Ok(Self {
            fft,
            from,
            to,
            pending: Vec::with_capacity(chunk),
            output: vec![0.0; out],
            to_trim,
            fed: 0,
            emitted: 0,
        })
    }

    /// The input rate, Hz.
    pub fn input_rate(&self) -> u32 {
        self.from
    }

    /// The output rate, Hz.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Resamples the next piece of the phrase, handing each finished stretch of output to
    /// `emit`. Stops early (returning `Break`) when `emit` does.
    pub fn push(
        &mut self,
        mut samples: &[f32],
        emit: &mut dyn FnMut(&[f32]) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ResampleError> {
        if self.fft.is_none() {
            return Ok(emit(samples));
        }
        self.fed += samples.len() as u64;
        while !samples.is_empty() {
            let chunk = self.chunk_len();
            let take = (chunk - self.pending.len()).min(samples.len());
            self.pending.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.pending.len() == chunk && self.run_chunk(None, emit)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Ends the phrase: resamples what is left, hands on the tail (exactly as many samples as
    /// the whole phrase resamples to) and readies the resampler for the next phrase.
    pub fn finish(
        &mut self,
        emit: &mut dyn FnMut(&[f32]) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ResampleError> {
        let Some(fft) = &self.fft else {
            return Ok(ControlFlow::Continue(()));
        };
        let expected = (fft.resample_ratio() * self.fed as f64).ceil() as u64;
        let mut flow = ControlFlow::Continue(());
        if !self.pending.is_empty() {
            let partial = self.pending.len();
            flow = self.run_chunk(Some(partial), emit)?;
        }
        while flow.is_continue() && self.emitted < expected {
            flow = self.run_chunk(Some(0), emit)?;
        }
        self.restart();
        Ok(flow)
    }

    /// Drops the phrase in progress (after a Stop).
    pub fn restart(&mut self) {
        if let Some(fft) = &mut self.fft {
            fft.reset();
            self.to_trim = fft.output_delay();
        }
        self.pending.clear();
        self.fed = 0;
        self.emitted = 0;
    }

    fn chunk_len(&self) -> usize {
        self.fft.as_ref().map_or(0, Resampler::input_frames_next)
    }

    /// Resamples `pending` (a whole chunk, or the first `partial` frames of one) and emits
    /// the output past the startup delay, up to the phrase's exact length once it is known.
    fn run_chunk(
        &mut self,
        partial: Option<usize>,
        emit: &mut dyn FnMut(&[f32]) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ResampleError> {
        let (from, to) = (self.from, self.to);
        let error = |message: String| ResampleError { from, to, message };
        let Some(fft) = &mut self.fft else {
            return Ok(ControlFlow::Continue(()));
        };
        let chunk = fft.input_frames_next();
        self.pending.resize(chunk, 0.0);
        let input =
            InterleavedSlice::new(&self.pending, 1, chunk).map_err(|e| error(e.to_string()))?;
        let out_len = self.output.len();
        let mut output = InterleavedSlice::new_mut(&mut self.output, 1, out_len)
            .map_err(|e| error(e.to_string()))?;
        let indexing = partial.map(|n| Indexing::new().partial_len(n));
        let (_, produced) = fft
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| error(e.to_string()))?;
        self.pending.clear();
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        let mut ready = &self.output[skip..produced];
        if partial.is_some() {
            // Flushing: stop at the phrase's exact length.
            let expected = (fft.resample_ratio() * self.fed as f64).ceil() as u64;
            let room = expected.saturating_sub(self.emitted) as usize;
            ready = &ready[..ready.len().min(room)];
        }
        self.emitted += ready.len() as u64;
        if ready.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        Ok(emit(ready))
    }
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

    /// Streams `signal` through `resampler` in pieces of the given lengths (cycled).
    fn stream(resampler: &mut StreamResampler, signal: &[f32], pieces: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        let mut emit = |s: &[f32]| {
            out.extend_from_slice(s);
            ControlFlow::Continue(())
        };
        let mut rest = signal;
        for &n in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(n.min(rest.len()));
            assert!(resampler.push(piece, &mut emit).unwrap().is_continue());
            rest = tail;
        }
        assert!(resampler.finish(&mut emit).unwrap().is_continue());
        out
    }

    #[test]
    fn streaming_in_any_pieces_equals_resampling_the_whole() {
        let speechlike: Vec<f32> = (0..30_011)
            .map(|i| {
                let t = i as f32 / 22_050.0;
                0.4 * (std::f32::consts::TAU * 180.0 * t).sin() * (t * 7.0).sin()
                    + 0.1 * (std::f32::consts::TAU * 5_100.0 * t).sin()
            })
            .collect();
        for (from, to) in [
            (22_050, 48_000),
            (22_050, 44_100),
            (16_000, 48_000),
            (22_050, 8_000),
            (22_050, 768_000),
            (22_050, 1_235), // a host at 1234.5678 Hz
        ] {
            let whole = resample_mono(&speechlike, from, to).unwrap();
            let mut resampler = StreamResampler::new(from, to).unwrap();
            for pieces in [&[1usize][..], &[7, 1500, 333], &[30_011], &[1024]] {
                let streamed = stream(&mut resampler, &speechlike, pieces);
                assert_eq!(streamed, whole, "{from} → {to} Hz in pieces of {pieces:?}");
            }
            // A short phrase after a long one: the resampler starts afresh.
            let short = &speechlike[..300];
            assert_eq!(
                stream(&mut resampler, short, &[100]),
                resample_mono(short, from, to).unwrap()
            );
        }
        let mut same = StreamResampler::new(22_050, 22_050).unwrap();
        assert_eq!(stream(&mut same, &speechlike, &[999]), speechlike);
    }

    #[test]
    fn a_stopped_phrase_leaves_nothing_behind() {
        let mut resampler = StreamResampler::new(22_050, 48_000).unwrap();
        let noise: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 113) as f32 / 113.0 - 0.5)
            .collect();
        let mut sink = |_: &[f32]| ControlFlow::Continue(());
        assert!(resampler.push(&noise, &mut sink).unwrap().is_continue());
        resampler.restart();
        let tone = &noise[..2000];
        assert_eq!(
            stream(&mut resampler, tone, &[512]),
            resample_mono(tone, 22_050, 48_000).unwrap()
        );
    }
}

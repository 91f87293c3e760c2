//! The output mix: host signal (dry) plus the voice, through an output gain.

use super::gain::{DEFAULT_RAMP_MS, GainRamp};
use super::sanitize::sanitize;

/// Gain targets for one block, in linear amplitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixGains {
    /// Level of the host's own signal.
    pub dry: f32,
    /// Level of the speech.
    pub voice: f32,
    /// Level of the sum.
    pub output: f32,
}

impl Default for MixGains {
    fn default() -> Self {
        Self {
            dry: 1.0,
            voice: 1.0,
            output: 1.0,
        }
    }
}

/// Mixes the host signal and a mono voice signal into the host's output channels, in place.
///
/// Owned by the audio thread. `prepare` allocates the per-block gain curves so `process` never
/// does; blocks longer than the prepared size are processed in pieces rather than refused.
#[derive(Debug, Clone)]
pub struct Mixer {
    /// Ramp for the dry (host) signal.
    dry: GainRamp,
    /// Ramp for the voice signal.
    voice: GainRamp,
    /// Ramp for the sum.
    output: GainRamp,
    /// Per-sample dry gain for the current piece; sized in `prepare`.
    dry_curve: Vec<f32>,
    /// Per-sample voice gain for the current piece; sized in `prepare`.
    voice_curve: Vec<f32>,
    /// Per-sample output gain for the current piece; sized in `prepare`.
    output_curve: Vec<f32>,
    /// The current piece of the voice, sanitised and padded with silence; sized in `prepare`.
    voice_scratch: Vec<f32>,
    /// Non-finite or subnormal input samples replaced with silence since the last `reset`.
    replaced_inputs: u64,
}

impl Mixer {
    /// A mixer resting at `gains`, usable at once in short pieces; [`Mixer::prepare`] sizes it
    /// for the host's blocks and sample rate.
    pub fn new(gains: MixGains) -> Self {
        Self {
            dry: GainRamp::new(gains.dry),
            voice: GainRamp::new(gains.voice),
            output: GainRamp::new(gains.output),
            dry_curve: vec![0.0; MIN_PIECE],
            voice_curve: vec![0.0; MIN_PIECE],
            output_curve: vec![0.0; MIN_PIECE],
            voice_scratch: vec![0.0; MIN_PIECE],
            replaced_inputs: 0,
        }
    }

    /// Sizes the gain curves for blocks of up to `max_block` frames and sets the ramp lengths.
    /// Allocates; call from `activate`, never from `process`.
    pub fn prepare(&mut self, sample_rate_hz: f32, max_block: usize) {
        let len = max_block.clamp(MIN_PIECE, MAX_PIECE);
        for curve in [
            &mut self.dry_curve,
            &mut self.voice_curve,
            &mut self.output_curve,
            &mut self.voice_scratch,
        ] {
            curve.clear();
            curve.resize(len, 0.0);
        }
        for ramp in [&mut self.dry, &mut self.voice, &mut self.output] {
            ramp.prepare(sample_rate_hz, DEFAULT_RAMP_MS);
        }
    }

    /// Snaps every gain to its target and clears the counters.
    pub fn reset(&mut self) {
        self.dry.reset();
        self.voice.reset();
        self.output.reset();
        self.replaced_inputs = 0;
    }

    /// Sets the gains the next samples ramp towards.
    #[inline]
    pub fn set_gains(&mut self, gains: MixGains) {
        self.dry.set_target(gains.dry);
        self.voice.set_target(gains.voice);
        self.output.set_target(gains.output);
    }

    /// How many input samples were NaN, infinite or subnormal and replaced with silence.
    pub fn replaced_inputs(&self) -> u64 {
        self.replaced_inputs
    }

    /// Mixes in place: `channel[i] = (channel[i] * dry + voice[i] * voice_gain) * output`.
    /// `voice` (mono, added to every channel) may be shorter than the block; missing samples are
    /// silence. Every output sample is written and is finite and never subnormal.
    ///
    /// # Realtime safety
    /// No allocation, locking or panicking paths. Blocks longer than the prepared size are
    /// processed in pieces.
    pub fn process(&mut self, channels: &mut [&mut [f32]], voice: &[f32]) {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let piece_len = self.dry_curve.len().max(1);
        let mut start = 0;
        while start < frames {
            let len = piece_len.min(frames - start);
            self.process_piece(channels, start, start + len, voice);
            start += len;
        }
    }

    fn process_piece(
        &mut self,
        channels: &mut [&mut [f32]],
        start: usize,
        end: usize,
        voice: &[f32],
    ) {
        let len = end - start;
        // The voice for this piece, sanitised and zero-padded to the piece length, so the inner
        // loops below run over equal-length slices with no bounds checks and vectorise.
        let voice_piece = &mut self.voice_scratch[..len];
        let available = voice.get(start..).unwrap_or(&[]);
        let copied = available.len().min(len);
        for (dst, &src) in voice_piece.iter_mut().zip(&available[..copied]) {
            *dst = sanitize(src);
        }
        voice_piece[copied..].fill(0.0);

        let ramping = self.dry.is_ramping() || self.voice.is_ramping() || self.output.is_ramping();
        if !ramping {
            // Steady gains: one multiply-add per sample.
            let dry = self.dry.current() * self.output.current();
            let wet = self.voice.current() * self.output.current();
            for channel in channels.iter_mut() {
                let samples = &mut channel[start..end];
                let mut replaced = 0u32;
                for (x, &v) in samples.iter_mut().zip(voice_piece.iter()) {
                    let (input, bad) = sanitize_counted(*x);
                    replaced += bad;
                    *x = sanitize(input * dry + v * wet);
                }
                self.replaced_inputs += u64::from(replaced);
            }
            return;
        }

        self.dry.fill(&mut self.dry_curve[..len]);
        self.voice.fill(&mut self.voice_curve[..len]);
        self.output.fill(&mut self.output_curve[..len]);
        let curves = self.dry_curve[..len]
            .iter()
            .zip(&self.voice_curve[..len])
            .zip(&self.output_curve[..len]);
        for channel in channels.iter_mut() {
            let samples = &mut channel[start..end];
            let mut replaced = 0u32;
            for ((x, &v), ((&dry, &wet), &out)) in samples
                .iter_mut()
                .zip(voice_piece.iter())
                .zip(curves.clone())
            {
                let (input, bad) = sanitize_counted(*x);
                replaced += bad;
                *x = sanitize((input * dry + v * wet) * out);
            }
            self.replaced_inputs += u64::from(replaced);
        }
    }
}

/// [`sanitize`] that also says (as 0 or 1, to sum without branches) whether a non-zero sample
/// had to be replaced.
#[inline(always)]
fn sanitize_counted(x: f32) -> (f32, u32) {
    let clean = sanitize(x);
    (clean, u32::from(clean == 0.0 && x != 0.0))
}

/// Shortest piece the gain curves cover, allocated in [`Mixer::new`] so that even a mixer that
/// was never prepared processes (with 1-sample ramps) instead of failing.
pub const MIN_PIECE: usize = 64;

/// Longest piece the gain curves cover; longer host blocks are processed in pieces so the curves
/// stay small (3 × 16 KiB) whatever block size a host announces.
pub const MAX_PIECE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::gain::db_to_gain;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn steady_gains_multiply_dry_and_add_voice() {
        let mut mixer = Mixer::new(MixGains {
            dry: 0.5,
            voice: 2.0,
            output: 0.5,
        });
        mixer.prepare(48_000.0, 64);
        let mut left = vec![1.0f32; 8];
        let mut right = vec![-1.0f32; 8];
        let voice = [0.25f32; 8];
        mixer.process(&mut [&mut left, &mut right], &voice);
        assert!(left.iter().all(|&x| (x - 0.5).abs() < 1e-6), "{left:?}");
        assert!(right.iter().all(|&x| x.abs() < 1e-6), "{right:?}");
    }

    #[test]
    fn gain_change_ramps_without_steps_and_lands_on_target() {
        let mut mixer = Mixer::new(MixGains::default());
        mixer.prepare(48_000.0, 256);
        mixer.set_gains(MixGains {
            dry: db_to_gain(-6.0),
            ..MixGains::default()
        });
        let mut signal = vec![1.0f32; 48_000 / 10];
        mixer.process(&mut [&mut signal], &[]);
        let max_step = signal
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(max_step < 1e-3, "step {max_step}");
        let tail = &signal[signal.len() - 100..];
        assert!((rms(tail) - db_to_gain(-6.0)).abs() < 1e-6);
    }

    #[test]
    fn blocks_longer_than_prepared_are_processed_in_pieces() {
        let mut mixer = Mixer::new(MixGains::default());
        mixer.prepare(8_000.0, 1);
        mixer.set_gains(MixGains {
            dry: 0.0,
            ..MixGains::default()
        });
        let mut signal = vec![1.0f32; 5000];
        mixer.process(&mut [&mut signal], &[]);
        assert_eq!(signal[4999], 0.0);
        assert!(signal[0] > 0.9);
    }

    #[test]
    fn unprepared_mixer_still_processes_without_panicking() {
        let mut mixer = Mixer::new(MixGains::default());
        mixer.set_gains(MixGains {
            output: 0.0,
            ..MixGains::default()
        });
        let mut signal = vec![1.0f32; 300];
        mixer.process(&mut [&mut signal], &[1.0]);
        assert!(
            signal.iter().all(|&x| x == 0.0),
            "output gain 0 must silence"
        );
    }

    #[test]
    fn bad_input_becomes_silence_and_is_counted() {
        let mut mixer = Mixer::new(MixGains::default());
        mixer.prepare(44_100.0, 8);
        let mut signal = vec![f32::NAN, f32::INFINITY, 1e-42, 0.5];
        mixer.process(&mut [&mut signal], &[f32::NAN]);
        assert_eq!(signal, vec![0.0, 0.0, 0.0, 0.5]);
        assert_eq!(mixer.replaced_inputs(), 3);
    }

    #[test]
    fn short_voice_is_padded_with_silence() {
        let mut mixer = Mixer::new(MixGains {
            dry: 0.0,
            ..MixGains::default()
        });
        mixer.prepare(44_100.0, 8);
        let mut signal = vec![1.0f32; 4];
        mixer.process(&mut [&mut signal], &[0.5, 0.5]);
        assert_eq!(signal, vec![0.5, 0.5, 0.0, 0.0]);
    }
}

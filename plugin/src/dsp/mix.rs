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
    /// Non-finite or subnormal input samples replaced with silence since the last `reset`.
    replaced_inputs: u64,
}

impl Mixer {
    /// A mixer at unity gains. Call [`Mixer::prepare`] before processing.
    pub fn new(gains: MixGains) -> Self {
        Self {
            dry: GainRamp::new(gains.dry),
            voice: GainRamp::new(gains.voice),
            output: GainRamp::new(gains.output),
            dry_curve: Vec::new(),
            voice_curve: Vec::new(),
            output_curve: Vec::new(),
            replaced_inputs: 0,
        }
    }

    /// Sizes the gain curves for blocks of up to `max_block` frames and sets the ramp lengths.
    /// Allocates; call from `activate`, never from `process`.
    pub fn prepare(&mut self, sample_rate_hz: f32, max_block: usize) {
        let len = max_block.clamp(1, MAX_PIECE);
        for curve in [
            &mut self.dry_curve,
            &mut self.voice_curve,
            &mut self.output_curve,
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
    /// No allocation, locking or panicking paths; call [`Mixer::prepare`] first (an unprepared
    /// mixer processes in one-sample pieces rather than failing).
    pub fn process(&mut self, channels: &mut [&mut [f32]], voice: &[f32]) {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let piece_len = self.dry_curve.len().max(1);
        let mut start = 0;
        while start < frames {
            let len = piece_len.min(frames - start);
            let end = start + len;
            let voice_piece = voice.get(start..end.min(voice.len())).unwrap_or(&[]);
            self.process_piece(channels, start, end, voice_piece);
            start = end;
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
        let ramping = self.dry.is_ramping() || self.voice.is_ramping() || self.output.is_ramping();
        if !ramping || self.dry_curve.len() < len {
            // Steady gains: one multiply-add per sample, which the compiler vectorises.
            let dry = self.dry.current() * self.output.current();
            let wet = self.voice.current() * self.output.current();
            if ramping {
                // Unprepared mixer: advance the ramps one sample at a time.
                let mut one = [0.0f32];
                for ramp in [&mut self.dry, &mut self.voice, &mut self.output] {
                    ramp.fill(&mut one);
                }
            }
            for channel in channels.iter_mut() {
                let samples = &mut channel[start..end];
                for (i, x) in samples.iter_mut().enumerate() {
                    let input = sanitize(*x);
                    self.replaced_inputs += u64::from(input != *x || x.is_nan());
                    let v = voice.get(i).copied().map_or(0.0, sanitize);
                    *x = sanitize(input * dry + v * wet);
                }
            }
            return;
        }

        self.dry.fill(&mut self.dry_curve[..len]);
        self.voice.fill(&mut self.voice_curve[..len]);
        self.output.fill(&mut self.output_curve[..len]);
        for channel in channels.iter_mut() {
            let samples = &mut channel[start..end];
            for (i, x) in samples.iter_mut().enumerate() {
                let input = sanitize(*x);
                self.replaced_inputs += u64::from(input != *x || x.is_nan());
                let v = voice.get(i).copied().map_or(0.0, sanitize);
                let mixed = input * self.dry_curve[i] + v * self.voice_curve[i];
                *x = sanitize(mixed * self.output_curve[i]);
            }
        }
    }
}

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
        mixer.prepare(8_000.0, 16);
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
        let mut signal = vec![1.0f32; 3];
        mixer.process(&mut [&mut signal], &[1.0]);
        assert!(signal.iter().all(|x| x.is_finite()));
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

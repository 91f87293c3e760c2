//! Inference: one sentence's phoneme ids in, its audio out, window by window for a streaming
//! voice. The noise the rewritten model reads is drawn here from a PRNG seeded by the phrase, so
//! the same ids and settings give the same audio in every process.

use super::schedule::{WINDOW_CONTEXT_FRAMES, window_end};
use super::sessions::Model;
use super::{RunError, Voice};
use crate::tts::hash::fnv1a;
use crate::tts::model::crop;
use crate::tts::voice::config::{SynthesisSettings, VoiceError};
use ort::value::Tensor;
use rand::SeedableRng;
use rand_distr::Distribution;
use std::ops::ControlFlow;

/// One window of a sentence's audio, as [`Voice::infer_streaming`] hands it on.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    /// The window's audio (mono, at the voice's rate).
    pub audio: &'a [f32],
    /// The window's place in its phrase's schedule, from 0 (see [`window_frames`]).
    pub index: usize,
    /// Time spent decoding it (the whole model's run, for a voice that does not stream).
    pub took: std::time::Duration,
    /// Samples' worth of decoding done for it: its own, and its context's cost in samples
    /// ([`Voice::window_context_cost`]; all the context's samples when the decoder does not
    /// crop it). `took` over these (at the voice's rate) is the decoding real-time factor.
    pub decoded_samples: usize,
    /// The sentence's phoneme ids' durations in latent frames (each frame is
    /// [`SAMPLES_PER_FRAME`](super::schedule::SAMPLES_PER_FRAME) samples of this audio), the
    /// same in every window of the sentence; `None` for a voice whose front does not give them.
    pub durations: Option<&'a [u32]>,
    /// Samples of audio per latent frame (the decoder's hop: 256 in Piper's voices).
    pub samples_per_frame: usize,
}

impl Decoded<'_> {
    /// Seconds spent per second of audio decoded, if measurable.
    pub fn real_time_factor(&self, sample_rate: u32) -> Option<f64> {
        (self.decoded_samples > 0 && sample_rate > 0).then(|| {
            self.took.as_secs_f64() / (self.decoded_samples as f64 / f64::from(sample_rate))
        })
    }
}

/// Channels of the noise fed to the rewritten graph: enough for Piper's latent (192 channels in
/// every published voice) and its duration noise (2).
const NOISE_CHANNELS: usize = 192;

/// Latent frames allowed per phoneme id at length scale 1 (measured 2.2 on the default voice,
/// so 4× headroom); scaled by the length scale. A sentence that still needs more is retried
/// once with 4× the length.
const NOISE_FRAMES_PER_ID: f32 = 8.0;

/// A stable 64-bit seed for one inference: FNV-1a over the phoneme ids and the settings' bits,
/// so the same phrase with the same settings draws the same noise in every process.
pub fn phrase_seed(ids: &[i64], settings: &SynthesisSettings) -> u64 {
    let s = settings.sanitized();
    let words = ids.iter().map(|&id| id as u64).chain([
        u64::from(s.length_scale.to_bits()),
        u64::from(s.noise_scale.to_bits()),
        u64::from(s.noise_w.to_bits()),
        s.speaker.map_or(u64::MAX, |v| v as u64),
    ]);
    fnv1a(words.flat_map(u64::to_le_bytes))
}

/// The front's durations as whole frames, if they are what they must be: one per phoneme id,
/// whole non-negative numbers, adding up to the latent's `frames`. Anything else (a front whose
/// `Ceil` is not the durations after all) gives no timings rather than wrong ones.
fn whole_frames(durations: &[f32], ids: usize, frames: usize) -> Option<Vec<u32>> {
    let whole: Option<Vec<u32>> = durations
        .iter()
        .map(|&d| (d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d < 1e9).then_some(d as u32))
        .collect();
    let whole = whole.filter(|w| w.len() == ids)?;
    let total: u64 = whole.iter().map(|&d| u64::from(d)).sum();
    if total == frames as u64 {
        Some(whole)
    } else {
        tracing::debug!("durations add up to {total} frames, the latent has {frames}: no timings");
        None
    }
}

impl Voice {
    /// Runs the model on one sentence's phoneme ids and returns its audio (mono, at
    /// `config.sample_rate`, model level: roughly within ±1). The noise the model draws comes
    /// from [`phrase_seed`], so the same ids and settings give the same audio.
    pub fn infer(&self, ids: &[i64], settings: &SynthesisSettings) -> Result<Vec<f32>, VoiceError> {
        let mut audio = Vec::new();
        self.infer_streaming(ids, settings, 0, &mut |window| {
            audio.extend_from_slice(window.audio);
            ControlFlow::Continue(())
        })?;
        Ok(audio)
    }

    /// Like [`Voice::infer`], handing the audio to `on_audio` as it is decoded, in windows of
    /// [`WINDOW_FRAMES`] latent frames from `first_window` on in the schedule (the whole
    /// sentence at once for a voice that does not stream). A phrase's first sentence starts at
    /// 0; each later one at the window after the last one before it, so it decodes in large
    /// windows from the start, with less context decoded twice. Stops early when `on_audio`
    /// breaks. Returns the time spent in ONNX Runtime (not in `on_audio`).
    pub fn infer_streaming(
        &self,
        ids: &[i64],
        settings: &SynthesisSettings,
        first_window: usize,
        on_audio: &mut dyn FnMut(Decoded<'_>) -> ControlFlow<()>,
    ) -> Result<std::time::Duration, VoiceError> {
        let settings = settings.sanitized();
        let frames = (ids.len() as f32 * NOISE_FRAMES_PER_ID * settings.length_scale.max(1.0))
            .ceil() as usize;
        match self.run(ids, &settings, frames.max(64), first_window, on_audio) {
            Err(RunError::NoiseTooShort(_)) if self.is_repeatable() => {
                match self.run(ids, &settings, frames.max(64) * 4, first_window, on_audio) {
                    Err(RunError::NoiseTooShort(e) | RunError::Other(e)) => Err(e),
                    Ok(busy) => Ok(busy),
                }
            }
            Err(RunError::NoiseTooShort(e) | RunError::Other(e)) => Err(e),
            Ok(busy) => Ok(busy),
        }
    }

    fn run(
        &self,
        ids: &[i64],
        settings: &SynthesisSettings,
        noise_frames: usize,
        first_window: usize,
        on_audio: &mut dyn FnMut(Decoded<'_>) -> ControlFlow<()>,
    ) -> Result<std::time::Duration, RunError> {
        let onnx = |e: ort::Error| VoiceError::Onnx {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let mut inputs: Vec<(
            std::borrow::Cow<'_, str>,
            ort::session::SessionInputValue<'_>,
        )> = vec![
            (
                "input".into(),
                Tensor::from_array(([1usize, ids.len()], ids.to_vec()))
                    .map_err(onnx)?
                    .into(),
            ),
            (
                "input_lengths".into(),
                Tensor::from_array(([1usize], vec![ids.len() as i64]))
                    .map_err(onnx)?
                    .into(),
            ),
            (
                "scales".into(),
                Tensor::from_array((
                    [3usize],
                    vec![
                        settings.noise_scale,
                        settings.length_scale,
                        settings.noise_w,
                    ],
                ))
                .map_err(onnx)?
                .into(),
            ),
        ];
        if self.has_sid {
            let speaker = settings
                .speaker
                .unwrap_or(0)
                .clamp(0, i64::from(self.config.num_speakers) - 1);
            inputs.push((
                "sid".into(),
                Tensor::from_array(([1usize], vec![speaker]))
                    .map_err(onnx)?
                    .into(),
            ));
        }
        let seed = phrase_seed(ids, settings);
        for (k, noise) in self.noise.iter().enumerate() {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            let normal = rand_distr::StandardNormal;
            let values: Vec<f32> = (0..NOISE_CHANNELS * noise_frames)
                .map(|_| {
                    let z: f32 = normal.sample(&mut rng);
                    noise.mean + noise.scale * z
                })
                .collect();
            let tensor = Tensor::from_array(([1usize, NOISE_CHANNELS, noise_frames], values))
                .map_err(onnx)?;
            inputs.push((noise.name.clone().into(), tensor.into()));
        }
        let started = std::time::Instant::now();
        // The model's output at the chosen volume, with anything a damaged or hostile model
        // could put out that is not a normal finite number (NaN, infinities, subnormals) made
        // silence before the resampler's and filters' states can keep it.
        let volume = |audio: &[f32]| -> Vec<f32> {
            audio
                .iter()
                .map(|x| {
                    let y = x * settings.volume;
                    if (f32::MIN_POSITIVE..=f32::MAX).contains(&y.abs()) {
                        y
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        match &*self.model {
            Model::Whole(session) => {
                // The session is shared by every instance using this voice: it is locked for
                // the run only, never while the audio is handed on (that may wait for one
                // instance's ring while another instance needs the voice).
                let audio = {
                    let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
                    // Until the first successful run, an error may be noise that was too short.
                    let outputs = session
                        .run(inputs)
                        .map_err(|e| RunError::NoiseTooShort(onnx(e)))?;
                    let (_, audio) = outputs[0]
                        .try_extract_tensor::<f32>()
                        .map_err(|e| RunError::Other(onnx(e)))?;
                    volume(audio)
                };
                let busy = started.elapsed();
                let _ = on_audio(Decoded {
                    audio: &audio,
                    index: first_window,
                    took: busy,
                    decoded_samples: audio.len(),
                    durations: None,
                    samples_per_frame: 0,
                });
                Ok(busy)
            }
            Model::Streaming {
                front,
                decoder,
                latent: latent_name,
                durations: durations_name,
                cropping,
            } => {
                let (shape, latent, durations) = {
                    let mut front = front.lock().unwrap_or_else(|e| e.into_inner());
                    let outputs = front
                        .run(inputs)
                        .map_err(|e| RunError::NoiseTooShort(onnx(e)))?;
                    let (shape, latent) = outputs[0]
                        .try_extract_tensor::<f32>()
                        .map_err(|e| RunError::Other(onnx(e)))?;
                    let durations = durations_name
                        .as_deref()
                        .and_then(|name| outputs.get(name))
                        .and_then(|d| d.try_extract_tensor::<f32>().ok())
                        .map(|(_, d)| d.to_vec());
                    (shape.to_vec(), latent.to_vec(), durations)
                };
                let (channels, frames) = match shape.as_slice() {
                    &[1, c, f] if c > 0 && f >= 0 => (c as usize, f as usize),
                    other => {
                        return Err(RunError::Other(VoiceError::Onnx {
                            path: self.path.clone(),
                            message: format!("unexpected latent shape {other:?}"),
                        }));
                    }
                };
                let durations = durations.and_then(|d| whole_frames(&d, ids.len(), frames));
                let mut busy = started.elapsed();
                let mut start = 0;
                let mut index = first_window;
                let mut window = Vec::new();
                let context = if cropping.is_empty() {
                    WINDOW_CONTEXT_FRAMES
                } else {
                    cropping.context
                };
                while start < frames {
                    let started = std::time::Instant::now();
                    let end = window_end(start, index, frames);
                    let from = start.saturating_sub(context);
                    let to = (end + context).min(frames);
                    window.clear();
                    for c in 0..channels {
                        window.extend_from_slice(&latent[c * frames + from..c * frames + to]);
                    }
                    let tensor =
                        Tensor::from_array(([1usize, channels, to - from], window.clone()))
                            .map_err(|e| RunError::Other(onnx(e)))?;
                    let mut inputs: Vec<(
                        std::borrow::Cow<'_, str>,
                        ort::session::SessionInputValue<'_>,
                    )> = vec![(
                        std::borrow::Cow::Borrowed(latent_name.as_str()),
                        ort::session::SessionInputValue::from(tensor),
                    )];
                    let crops = (!cropping.is_empty())
                        .then(|| cropping.window(to - from, start - from, to - end));
                    for (k, &(first, last)) in
                        crops.iter().flat_map(|c| c.bounds.iter()).enumerate()
                    {
                        for (name, bound) in
                            [(crop::start_input(k), first), (crop::end_input(k), last)]
                        {
                            let tensor = Tensor::from_array(([1usize], vec![bound]))
                                .map_err(|e| RunError::Other(onnx(e)))?;
                            inputs.push((name.into(), tensor.into()));
                        }
                    }
                    // Locked for this window's run only: handing the audio on may wait for
                    // this instance's ring, and other instances share the decoder.
                    let mut decoder = decoder.lock().unwrap_or_else(|e| e.into_inner());
                    let outputs = decoder.run(inputs).map_err(|e| RunError::Other(onnx(e)))?;
                    let (_, audio) = outputs[0]
                        .try_extract_tensor::<f32>()
                        .map_err(|e| RunError::Other(onnx(e)))?;
                    // Where the window's own frames are in what the decoder gave.
                    let (offset, per_frame, decoded_samples) = match &crops {
                        Some(crops) if audio.len() != crops.len => {
                            return Err(RunError::Other(VoiceError::Onnx {
                                path: self.path.clone(),
                                message: format!(
                                    "the decoder gave {} samples for a window cropped to {}",
                                    audio.len(),
                                    crops.len
                                ),
                            }));
                        }
                        Some(crops) => {
                            let sides = usize::from(start > from) + usize::from(to > end);
                            let context = sides as f64 * cropping.side_cost * cropping.hop as f64;
                            let own = (end - start) * cropping.hop;
                            (crops.offset, cropping.hop, own + context.round() as usize)
                        }
                        None => (0, audio.len() / (to - from).max(1), audio.len()),
                    };
                    let keep = audio
                        .get(
                            ((start - from) * per_frame).saturating_sub(offset)
                                ..((end - from) * per_frame).saturating_sub(offset),
                        )
                        .unwrap_or_default();
                    let keep = volume(keep);
                    drop(outputs);
                    drop(decoder);
                    let took = started.elapsed();
                    busy += took;
                    let decoded = Decoded {
                        audio: &keep,
                        index,
                        took,
                        decoded_samples,
                        durations: durations.as_deref(),
                        samples_per_frame: per_frame,
                    };
                    if on_audio(decoded).is_break() {
                        break;
                    }
                    start = end;
                    index += 1;
                }
                Ok(busy)
            }
        }
    }
}

//! Orator: speaks typed text with a local neural voice and mixes it into the host's audio.
//!
//! This file is glue: the plugin struct, its `Plugin` implementation, the CLAP and VST3
//! descriptions and the export macros. Parameters live in [`params`], the saved session in
//! [`state`], signal processing in [`dsp`].

pub mod dsp;
pub mod meters;
pub mod params;
pub mod state;
pub mod tts;

use dsp::compressor::CompressorSettings;
use dsp::duck::Ducker;
use dsp::eq::EqSettings;
use dsp::gain::db_to_gain;
use dsp::mix::{MixGains, Mixer};
use dsp::voice_chain::{VoiceChain, VoiceChainSettings};
use meters::Meters;
use nice_plug::prelude::*;
use params::{DuckKey, OratorParams};
use std::num::NonZeroU32;
use std::sync::Arc;
use tts::service::SpeechService;
use tts::stream::AudioSide;

/// Port names shared by every layout.
const STEREO_NAMES: PortNames = PortNames {
    layout: Some("Stereo + sidechain"),
    main_input: Some("Input"),
    main_output: Some("Output"),
    aux_inputs: &["Sidechain"],
    aux_outputs: &[],
};

/// The plugin instance. `process` runs on the host's audio thread with exclusive access; every
/// other method runs on the main thread. Nothing here is shared except through `params`.
pub struct Orator {
    /// Parameters and the saved session, shared with the host wrapper and (later) the editor.
    params: Arc<OratorParams>,
    /// Levels and counters for the editor. Written by the audio thread once per block.
    meters: Arc<Meters>,
    /// The output mix. Audio thread only; sized in `activate` so `process` never allocates.
    mixer: Mixer,
    /// Lowers the host signal while the key is active. Audio thread only.
    ducker: Ducker,
    /// EQ, de-esser, compressor and limiter on the voice. Audio thread only.
    voice_chain: VoiceChain,
    /// The ducking key for the current block (mono). Sized in `activate`.
    duck_key: Vec<f32>,
    /// The ducker's gain for each sample of the current block. Sized in `activate`.
    duck_gains: Vec<f32>,
    /// The audio thread's end of the rings to and from the speech thread; replaced on every
    /// activation (sized for its sample rate and block size). Audio thread only.
    stream: Option<AudioSide>,
    /// The Speak trigger's value in the previous block, to act on its rising edge only.
    speak_was_on: bool,
    /// The Stop trigger's value in the previous block.
    stop_was_on: bool,
    /// Whether the host renders offline (a bounce): then `process` waits for speech rather
    /// than let it arrive late. Set in `activate`, which hosts call again when the mode changes.
    offline: bool,
    /// Loads the voice and synthesises on its own thread. Main thread only; `None` until
    /// the first activation, so scanning a plugin loads nothing.
    speech: Option<SpeechService>,
}

impl Default for Orator {
    /// Cheap on purpose: hosts create instances just to scan them, so nothing is loaded here.
    fn default() -> Self {
        Self {
            params: Arc::new(OratorParams::default()),
            meters: Arc::default(),
            mixer: Mixer::new(MixGains::default()),
            ducker: Ducker::default(),
            voice_chain: VoiceChain::default(),
            duck_key: Vec::new(),
            duck_gains: Vec::new(),
            stream: None,
            speak_was_on: false,
            stop_was_on: false,
            offline: false,
            speech: None,
        }
    }
}

impl Orator {
    /// The voice chain settings the parameters ask for right now.
    fn voice_chain_settings(&self) -> VoiceChainSettings {
        let p = &self.params;
        VoiceChainSettings {
            eq: EqSettings {
                low_hz: p.eq_low_hz.value(),
                low_db: p.eq_low_db.value(),
                mid_hz: p.eq_mid_hz.value(),
                mid_db: p.eq_mid_db.value(),
                mid_q: p.eq_mid_q.value(),
                high_hz: p.eq_high_hz.value(),
                high_db: p.eq_high_db.value(),
            },
            deess_db: p.deess_db.value(),
            compressor: CompressorSettings {
                threshold_db: p.comp_threshold_db.value(),
                ratio: p.comp_ratio.value(),
                attack_ms: p.comp_attack_ms.value(),
                release_ms: p.comp_release_ms.value(),
                makeup_db: p.comp_makeup_db.value(),
            },
            ceiling_db: p.limit_db.value(),
        }
    }

    /// Publishes the block's levels and counters (relaxed atomic stores only).
    fn publish_meters(&self, buffer: &mut Buffer) {
        let m = &self.meters;
        m.output.measure(buffer.as_slice_immutable());
        m.duck_db.store(
            self.ducker.gain_reduction_db(),
            std::sync::atomic::Ordering::Relaxed,
        );
        m.compressor_db.store(
            self.voice_chain.compressor_reduction_db(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let underruns = self.stream.as_ref().map_or(0, AudioSide::underruns);
        m.underruns
            .store(underruns, std::sync::atomic::Ordering::Relaxed);
        m.replaced_inputs.store(
            self.mixer.replaced_inputs(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The mix gains the parameters ask for right now.
    fn target_gains(&self) -> MixGains {
        MixGains {
            dry: db_to_gain(self.params.dry_gain_db.value()),
            voice: db_to_gain(self.params.voice_gain_db.value()),
            output: db_to_gain(self.params.output_gain_db.value()),
        }
    }
}

impl Plugin for Orator {
    const NAME: &'static str = "Orator";
    const VENDOR: &'static str = "Orator";
    const URL: &'static str = env!("CARGO_PKG_REPOSITORY");
    const EMAIL: &'static str = "orator@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    /// Stereo with an optional stereo sidechain (the music bus to duck against) comes first, as
    /// hosts use the first layout by default; then plain stereo, then mono variants.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: &[new_nonzero_u32(2)],
            aux_output_ports: &[],
            names: STEREO_NAMES,
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: &[],
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Stereo"),
                aux_inputs: &[],
                ..STEREO_NAMES
            },
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            aux_input_ports: &[new_nonzero_u32(1)],
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Mono + sidechain"),
                ..STEREO_NAMES
            },
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            aux_input_ports: &[],
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Mono"),
                aux_inputs: &[],
                ..STEREO_NAMES
            },
        },
    ];

    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    /// Sizes every buffer for this sample rate and block size. Hosts may call this repeatedly
    /// (for example around a state load); it only resizes, so repeated calls are harmless.
    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let sample_rate = buffer_config.sample_rate;
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            nice_error!("Refusing to activate at a sample rate of {sample_rate} Hz");
            return false;
        }
        // Allocation happens here so that `process` never allocates.
        let max_block = buffer_config.max_buffer_size as usize;
        self.offline = buffer_config.process_mode == ProcessMode::Offline;
        self.mixer.prepare(sample_rate, max_block);
        self.mixer.set_gains(self.target_gains());
        self.ducker.prepare(sample_rate);
        self.voice_chain.prepare(sample_rate);
        self.duck_key.clear();
        self.duck_key.resize(max_block.max(1), 0.0);
        self.duck_gains.clear();
        self.duck_gains.resize(max_block.max(1), 1.0);
        // The voice loads in the background; audio passes whether or not it ever succeeds.
        if self.speech.is_none() {
            match SpeechService::start(self.params.session.clone()) {
                Ok(service) => {
                    service.load_voice(None);
                    self.speech = Some(service);
                }
                Err(err) => nice_error!("Orator could not start its speech thread: {err}"),
            }
        }
        // Fresh rings for this sample rate and block size.
        if let Some(service) = &self.speech {
            let (audio, worker) =
                tts::stream::channel(sample_rate, buffer_config.max_buffer_size as usize);
            service.attach(worker);
            self.stream = Some(audio);
        }
        true
    }

    fn reset(&mut self) {
        self.mixer.set_gains(self.target_gains());
        self.mixer.reset();
        self.ducker.reset();
        self.voice_chain.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // Parameters may change between blocks (automation, a preset load): pick them up here,
        // since `reset` is not called after a preset load.
        self.mixer.set_gains(self.target_gains());
        let speak = self.params.speak.value();
        let stop = self.params.stop.value();
        let frames = buffer.samples();
        let chain_settings = self.voice_chain_settings();
        let voice: &mut [f32] = match &mut self.stream {
            Some(stream) => {
                if stop && !self.stop_was_on {
                    stream.stop(frames)
                } else {
                    if speak && !self.speak_was_on {
                        stream.request_speech();
                    }
                    if self.offline {
                        stream.wait_for_speech(frames);
                    }
                    stream.read_voice(frames)
                }
            }
            None => &mut [],
        };
        self.meters.input.measure(buffer.as_slice_immutable());
        self.voice_chain.set(&chain_settings);
        self.voice_chain.process(voice);
        let voice: &[f32] = voice;
        self.meters.voice.measure(&[voice]);
        self.speak_was_on = speak;
        self.stop_was_on = stop;

        // Ducking: the key (voice as it will be heard, the sidechain, or either) sets a gain
        // per sample for the host signal.
        let frames = frames.min(self.duck_key.len());
        let voice_level = db_to_gain(self.params.voice_gain_db.value());
        let key_mode = self.params.duck_key.value();
        let key = &mut self.duck_key[..frames];
        key.fill(0.0);
        if matches!(key_mode, DuckKey::Voice | DuckKey::Either) {
            for (k, v) in key.iter_mut().zip(voice) {
                *k = v.abs() * voice_level;
            }
        }
        if matches!(key_mode, DuckKey::Sidechain | DuckKey::Either)
            && let Some(sidechain) = aux.inputs.first_mut()
        {
            for channel in sidechain.as_slice_immutable() {
                for (k, x) in key.iter_mut().zip(channel.iter()) {
                    *k = k.max(x.abs());
                }
            }
        }
        self.ducker.set(
            self.params.duck_depth_db.value(),
            self.params.duck_attack_ms.value(),
            self.params.duck_release_ms.value(),
        );
        let gains = &mut self.duck_gains[..frames];
        self.ducker.process(key, gains);
        for channel in buffer.as_slice().iter_mut() {
            for (x, g) in channel.iter_mut().zip(gains.iter()) {
                *x *= g;
            }
        }
        self.mixer.process(buffer.as_slice(), voice);
        self.publish_meters(buffer);
        // Speech queued or being synthesised: the host must keep calling even on silence.
        if self.stream.as_ref().is_some_and(AudioSide::is_active) {
            ProcessStatus::KeepAlive
        } else {
            ProcessStatus::Normal
        }
    }
}

impl ClapPlugin for Orator {
    const CLAP_ID: &'static str = "org.orator.orator";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Speaks typed text with a local neural voice and mixes it into the track");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Stereo,
        ClapFeature::Mono,
        ClapFeature::Mixing,
        ClapFeature::Utility,
        ClapFeature::Custom("orator:speech"),
        ClapFeature::Custom("orator:text-to-speech"),
    ];
}

impl Vst3Plugin for Orator {
    const VST3_CLASS_ID: [u8; 16] = *b"OratorSpeechTTS1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Tools,
        Vst3SubCategory::Generator,
        Vst3SubCategory::Stereo,
    ];
}

nice_export_clap!(Orator);
nice_export_vst3!(Orator);

//! Orator: speaks typed text with a local neural voice and mixes it into the host's audio.
//!
//! This file is glue: the plugin struct, its `Plugin` implementation, the CLAP and VST3
//! descriptions and the export macros.
//!
//! - [`params`]: the host's parameters; [`state`]: the saved session (text, dictionary, voice,
//!   delivery); [`shared`]: what the editor sees; [`meters`]: levels and counters;
//! - [`dsp`]: the signal path `process()` runs (voice chain, ducking, strip mixer);
//! - [`playback`]: the speech thread and the rings to the audio thread, the only speech code
//!   `process()` reaches;
//! - [`tts`]: text in, audio out (phonemes, the voice, ONNX Runtime); never on the audio thread;
//! - [`triggers`]: the Speak, Stop, Skip, Pause and Trigger switches and the transport as the
//!   audio thread reads them;
//! - [`api`]: the local server chat bots speak through (Speaker.bot WebSocket and UDP, OpenAI
//!   HTTP); it reaches speech only through the speech service's queue;
//! - [`presets`]: the sound (mix, ducking, voice chain) saved by name; main thread only;
//! - [`editor`]: the egui editor, one file per tab;
//! - [`platform`]: what differs between operating systems (own file, user folders, ONNX
//!   Runtime's library name, staying resident).

pub mod api;
pub mod dsp;
pub mod editor;
pub mod loudness;
pub mod meters;
pub mod params;
pub mod platform;
pub mod playback;
pub mod presets;
pub mod shared;
pub mod state;
pub mod triggers;
pub mod tts;

use dsp::path::SignalPath;
use meters::Meters;
use nice_plug::prelude::*;
use params::{NoteOff, OratorParams};
use playback::bank::{BankPlayer, WHOLE_TEXT};
use playback::render_clock::RenderClock;
use playback::stream::AudioSide;
use shared::Shared;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use triggers::{Timeline, TimelineStreams, TransportWatch, Triggers};

/// How often the audio thread wakes an open editor (its meters move at this rate).
const EDITOR_REFRESH_HZ: f32 = 30.0;

/// Port names shared by every layout. The main ports keep nice-plug's default names ("Input",
/// "Output"): nice-plug 0.4.2's `AudioIOLayout::main_output_name` reads `main_input`, so naming
/// the input would name the output the same, and JACK refuses a second port called `input_1`.
const STEREO_NAMES: PortNames = PortNames {
    layout: Some("Stereo + sidechain"),
    main_input: None,
    main_output: None,
    aux_inputs: &["Sidechain"],
    aux_outputs: &[],
};

/// The buses the host activated the plugin with.
#[derive(Debug, Clone, Copy)]
struct BusLayout {
    /// Channels of the main output (1 or 2).
    channels: usize,
    /// Whether the sidechain input is stereo.
    stereo_sidechain: bool,
}

impl Default for BusLayout {
    /// The first layout of [`Orator::AUDIO_IO_LAYOUTS`]: stereo with a stereo sidechain.
    fn default() -> Self {
        Self {
            channels: 2,
            stereo_sidechain: true,
        }
    }
}

/// Counts samples between wake-ups of an open editor, so its meters move at
/// [`EDITOR_REFRESH_HZ`] without the audio thread waking it every block.
#[derive(Debug, Clone, Copy)]
struct EditorWake {
    /// Samples processed since the last wake-up.
    elapsed: u32,
    /// Samples between wake-ups (set for the sample rate in `activate`).
    period: u32,
}

impl Default for EditorWake {
    /// Never wakes before `activate` sets the period.
    fn default() -> Self {
        Self {
            elapsed: 0,
            period: u32::MAX,
        }
    }
}

impl EditorWake {
    /// Counts `frames` more samples; true when a wake-up is due (and the count restarts).
    fn count(&mut self, frames: usize) -> bool {
        self.elapsed = self.elapsed.saturating_add(frames as u32);
        let due = self.elapsed >= self.period;
        if due {
            self.elapsed = 0;
        }
        due
    }
}

/// The plugin instance. `process` runs on the host's audio thread with exclusive access; every
/// other method runs on the main thread. Nothing here is shared except through `params`.
pub struct Orator {
    /// Parameters and the saved session, shared with the host wrapper and the editor.
    params: Arc<OratorParams>,
    /// Levels and counters for the editor. Written by the audio thread once per block.
    meters: Arc<Meters>,
    /// What the editor sees: parameters, meters, the speech service, the repaint flag.
    shared: Arc<Shared>,
    /// When the audio thread next wakes an open editor. Audio thread only.
    wake: EditorWake,
    /// Voice chain, ducking and the strip mixer. Audio thread only; sized in `activate` so
    /// `process` never allocates.
    path: SignalPath,
    /// The buses the host activated, for resets. Written in `activate`.
    layout: BusLayout,
    /// The audio thread's end of the rings to and from the speech thread; replaced on every
    /// activation (sized for its sample rate and block size). Audio thread only.
    stream: Option<AudioSide>,
    /// The phrase bank's audio-thread end: phrases rendered ahead, played by the timeline.
    /// Replaced on every activation. Audio thread only.
    bank: Option<BankPlayer>,
    /// The Speak, Stop, Skip, Pause and Trigger switches' values in the previous block, so
    /// each acts when it changes. Audio thread only.
    triggers: Triggers,
    /// Stops timeline-triggered speech when the host's transport starts, stops, loops or
    /// jumps.
    transport: TransportWatch,
    /// Phrases timeline triggers streamed because their clip was not ready.
    timeline_streams: TimelineStreams,
    /// Tells a render from live playback when the host does not say.
    clock: RenderClock,
    /// Whether the host says it renders offline (a bounce): then `process` waits for speech
    /// rather than let it arrive late. Set in `activate`, which hosts call again when the mode
    /// changes.
    offline: bool,
    /// This instance's place among the local API's possible owners (from the first
    /// activation; dropping it stops a server this instance owned).
    api: Option<api::Registration>,
}

impl Default for Orator {
    /// Cheap on purpose: hosts create instances just to scan them, so nothing is loaded here.
    fn default() -> Self {
        platform::keep_resident();
        let params = Arc::new(OratorParams::default());
        let shared = Arc::new(Shared::new(params.clone()));
        Self {
            params,
            meters: shared.meters.clone(),
            shared,
            wake: EditorWake::default(),
            path: SignalPath::default(),
            layout: BusLayout::default(),
            stream: None,
            bank: None,
            triggers: Triggers::default(),
            transport: TransportWatch::default(),
            timeline_streams: TimelineStreams::default(),
            clock: RenderClock::new(48_000.0, 512),
            offline: false,
            api: None,
        }
    }
}

impl Orator {
    /// Publishes the counters the signal path does not know (relaxed atomic stores only).
    fn publish_counters(&self) {
        let underruns = self.stream.as_ref().map_or(0, AudioSide::underruns);
        self.meters
            .underruns
            .store(underruns, std::sync::atomic::Ordering::Relaxed);
    }

    /// Wakes an open editor every [`EditorWake::period`] samples (one relaxed load and at
    /// most one relaxed store).
    fn wake_editor(&mut self, frames: usize) {
        if self.shared.editor_state.is_open() && self.wake.count(frames) {
            self.shared.repaint.request_repaint();
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

    /// Notes speak phrases (CLAP note ports, a VST3 event bus).
    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;
    /// Speak, Stop, Skip and Trigger act at the sample the host puts the change.
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type Editor = nice_plug_egui::EguiEditor<editor::App>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.shared.clone())
    }

    /// Sizes every buffer for this sample rate and block size. Hosts may call this repeatedly
    /// (for example around a state load); it only resizes, so repeated calls are harmless.
    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
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
        self.layout = BusLayout {
            channels: audio_io_layout
                .main_output_channels
                .map_or(0, |c| c.get() as usize),
            stereo_sidechain: audio_io_layout
                .aux_input_ports
                .first()
                .is_some_and(|c| c.get() >= 2),
        };
        self.path.prepare(sample_rate, max_block);
        self.reset();
        self.wake = EditorWake {
            elapsed: 0,
            period: (sample_rate / EDITOR_REFRESH_HZ).max(1.0) as u32,
        };
        self.meters
            .sample_rate
            .store(sample_rate, std::sync::atomic::Ordering::Relaxed);
        // The voice loads in the background; audio passes whether or not it ever succeeds.
        // Fresh rings for this sample rate and block size.
        if let Some(service) = self.shared.speech() {
            let (mut stream, bank) = service.attach(sample_rate, max_block);
            stream.set_waiting(self.offline);
            self.stream = Some(stream);
            self.bank = Some(bank);
        }
        self.clock = RenderClock::new(sample_rate, max_block);
        self.transport = TransportWatch::default();
        self.timeline_streams = TimelineStreams::default();
        // The server starts if the session enables it (checked again on every change).
        match &self.api {
            Some(_) => api::refresh(),
            None => {
                let target: Arc<dyn api::Target> = self.shared.clone();
                self.api = Some(api::register(Arc::downgrade(&target)));
            }
        }
        true
    }

    fn reset(&mut self) {
        self.path.reset(
            &self.params.path_settings(),
            self.layout.channels,
            self.layout.stereo_sidechain,
        );
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // Parameters may change between blocks (automation, a preset load) and, with
        // sample-accurate automation, inside one: the host then splits the block there, so
        // reading them here acts on each change at its sample.
        let settings = self.params.path_settings();
        let actions = self.triggers.read(&self.params);
        let frames = buffer.samples();
        // Time spent waiting for speech in renders is not the host's pace.
        let waited = self
            .bank
            .as_ref()
            .map_or(Duration::ZERO, BankPlayer::waited)
            + self
                .stream
                .as_ref()
                .map_or(Duration::ZERO, AudioSide::waited);
        self.clock.tick(Instant::now(), frames, waited);
        let rendering = self.clock.rendering(self.offline);
        if let Some(stream) = &mut self.stream {
            // A render (announced or detected) waits for streamed speech as for the bank's.
            stream.set_waiting(rendering);
        }
        let transport = context.transport();
        let moved = self
            .transport
            .moved(transport.playing, transport.pos_samples(), frames);
        let voice: &mut [f32] = match (&mut self.stream, &mut self.bank) {
            (Some(stream), Some(bank)) => {
                let control = stream.control();
                if actions.stop {
                    control.stop();
                }
                if actions.skip {
                    control.skip();
                }
                if let Some(paused) = actions.pause {
                    control.set_paused(paused);
                }
                // Where this block is in the project, for the placements' subtitles.
                bank.locate(self.transport.position(), moved, frames);
                // Timeline speech (notes, Trigger, Speak) follows the transport and Stop.
                if moved || actions.stop || actions.skip {
                    bank.stop_all(0);
                }
                if moved {
                    self.timeline_streams.cancel_all(control);
                }
                let mut timeline = Timeline {
                    stream,
                    bank,
                    rendering,
                    streamed: &mut self.timeline_streams,
                };
                if actions.speak {
                    timeline.play(WHOLE_TEXT, 0, 1.0, None);
                }
                if let Some(line) = actions.trigger {
                    timeline.play(line, 0, 1.0, None);
                }
                let base = self.params.base_note.value();
                let velocity = self.params.velocity.value();
                let stop_on_release = self.params.note_off.value() == NoteOff::Stop;
                while let Some(event) = context.next_event() {
                    match event {
                        NoteEvent::NoteOn {
                            timing,
                            key: note,
                            velocity: v,
                            ..
                        } => {
                            // Notes below the base (and a wildcard) address no phrase
                            // (usize::MAX: counted as missing).
                            let line = note
                                .number()
                                .and_then(|n| usize::try_from(i32::from(n) - base + 1).ok())
                                .unwrap_or(usize::MAX);
                            let gain = if velocity { v.clamp(0.0, 1.0) } else { 1.0 };
                            timeline.play(line, timing as usize, gain, note.number());
                        }
                        NoteEvent::NoteOff {
                            timing, key: note, ..
                        } if stop_on_release => {
                            timeline.bank.release(note.number(), timing as usize);
                        }
                        NoteEvent::Choke {
                            timing, key: note, ..
                        } => {
                            timeline.bank.release(note.number(), timing as usize);
                        }
                        _ => {}
                    }
                }
                // Pause holds timeline speech too: it fades out and resumes where it was.
                let paused = stream.control().is_paused();
                let voice = stream.read_voice(frames);
                bank.mix_into(voice, paused);
                voice
            }
            _ => {
                while context.next_event().is_some() {}
                &mut []
            }
        };
        let sidechain: &[&mut [f32]] = match aux.inputs.first_mut() {
            Some(sidechain) => sidechain.as_slice_immutable(),
            None => &[],
        };
        self.path.process(
            &settings,
            buffer.as_slice(),
            sidechain,
            voice,
            &[],
            &self.meters,
        );
        self.publish_counters();
        self.wake_editor(frames);
        // Speech queued, being synthesised or sounding: the host must keep calling even on
        // silence.
        let paused = self
            .stream
            .as_ref()
            .is_some_and(|s| s.control().is_paused());
        if self.stream.as_ref().is_some_and(AudioSide::is_active)
            || (!paused && self.bank.as_ref().is_some_and(BankPlayer::is_active))
        {
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

//! A small in-process CLAP host built on `clack-host`, used to test the *built* Orator bundle
//! the way a DAW sees it: load the `.clap`, read its descriptor, ports and parameters, save and
//! load state, activate at any sample rate and process blocks of any size with parameter, note
//! and transport events.
//!
//! Thread model: everything runs on the calling thread (see the crate's map).

use crate::state_blob::with_text;
use anyhow::{Context, Result, anyhow, bail, ensure};
use clack_extensions::audio_ports::{AudioPortFlags, AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::gui::{
    GuiApiType, GuiConfiguration, GuiSize, HostGui, HostGuiImpl, PluginGui,
};
use clack_extensions::latency::PluginLatency;
use clack_extensions::note_ports::{NoteDialects, NotePortInfoBuffer, PluginNotePorts};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{
    NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::{EventFlags, Match, Pckn};
use clack_host::prelude::*;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// The Orator CLAP plugin id.
pub const ORATOR_ID: &str = "org.orator.orator";

/// Plugin libraries loaded by this process. Like most DAWs, the harness never unloads a plugin
/// library while the process runs: Rust (and C++) plugins register thread-local destructors, and
/// `dlclose` before every thread that called into the library has exited makes those
/// destructors jump into unmapped code (seen here as a SIGSEGV in `__nptl_deallocate_tsd`).
static ENTRIES: OnceLock<Mutex<Vec<(PathBuf, PluginEntry)>>> = OnceLock::new();

fn load_entry(path: &Path) -> Result<PluginEntry> {
    let mut entries = ENTRIES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, entry)) = entries.iter().find(|(p, _)| p == path) {
        return Ok(entry.clone());
    }
    // SAFETY: loading a dynamic library runs its initialisers; the file is our own build.
    let entry = unsafe { PluginEntry::load(path) }
        .map_err(|e| anyhow!("could not load {}: {e:?}", path.display()))?;
    entries.push((path.to_path_buf(), entry.clone()));
    Ok(entry)
}

/// Host callbacks shared across threads. The plugin may ask for a main-thread callback (nice-plug
/// does after some parameter changes); the harness answers it in [`LoadedPlugin::pump`].
#[derive(Default)]
pub struct SharedState {
    callback_requested: AtomicBool,
    /// The size the plugin's editor last asked for, if it asked.
    pub requested_size: Mutex<Option<(u32, u32)>>,
}

/// The host side of the GUI extension: resize requests are granted (the test's parent window
/// is large enough for any size the editor asks for).
impl HostGuiImpl for SharedState {
    fn resize_hints_changed(&self) {}

    fn request_resize(&self, size: GuiSize) -> Result<(), HostError> {
        *self
            .requested_size
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((size.width, size.height));
        Ok(())
    }

    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn closed(&self, _was_destroyed: bool) {}
}

impl<'a> SharedHandler<'a> for SharedState {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::Release);
    }
}

/// The host type: no host extensions beyond what CLAP requires.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = SharedState;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>();
    }
}

/// What the plugin's descriptor says about it.
#[derive(Debug, Clone)]
pub struct Descriptor {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub features: Vec<String>,
}

/// One parameter as the host sees it.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub id: ClapId,
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
}

/// One audio port as the host sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PortSpec {
    pub name: String,
    pub channels: u32,
    pub is_main: bool,
}

/// A parameter change delivered with a block, at a sample offset within it.
#[derive(Debug, Clone, Copy)]
pub struct ParamChange {
    pub id: ClapId,
    pub value: f64,
    pub time: u32,
}

/// A note event delivered with a block, at a sample offset within it (port 0, channel 0).
#[derive(Debug, Clone, Copy)]
pub struct Note {
    pub time: u32,
    pub key: u8,
    /// 0..=1.
    pub velocity: f64,
    /// Note-on (true) or note-off.
    pub on: bool,
}

/// The host's transport at a block's first sample.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    pub playing: bool,
    /// The song position, samples.
    pub position: i64,
}

/// The parameter events of a momentary button (Speak, Stop) pressed in block `at` and released
/// in the next one, for block `block` of a test loop.
pub fn press(id: ClapId, block: usize, at: usize) -> Vec<ParamChange> {
    match block.checked_sub(at) {
        Some(0) => vec![ParamChange {
            id,
            value: 1.0,
            time: 0,
        }],
        Some(1) => vec![ParamChange {
            id,
            value: 0.0,
            time: 0,
        }],
        _ => Vec::new(),
    }
}

/// Buffers and the started processor of an active plugin.
struct Active {
    processor: StartedPluginAudioProcessor<TestHost>,
    /// Per input port, per channel: the audio handed to the plugin.
    inputs: Vec<Vec<Vec<f32>>>,
    /// Per output port, per channel: where the plugin writes.
    outputs: Vec<Vec<Vec<f32>>>,
    input_ports: AudioPorts,
    output_ports: AudioPorts,
    events_in: EventBuffer,
    events_out: EventBuffer,
    max_frames: u32,
    steady_time: u64,
    sample_rate: f64,
}

impl Active {
    /// One block (see [`LoadedPlugin::process_with`]).
    fn process_with(
        &mut self,
        main_in: &[&[f32]],
        sidechain: Option<&[&[f32]]>,
        main_out: &mut [&mut [f32]],
        changes: &[ParamChange],
        notes: &[Note],
        transport: Option<Transport>,
    ) -> Result<ProcessStatus> {
        let active = self;
        let frames = main_out.first().map_or(0, |c| c.len());
        ensure!(
            frames as u32 <= active.max_frames,
            "block of {frames} frames exceeds the activated maximum {}",
            active.max_frames
        );
        for (port_index, port) in active.inputs.iter_mut().enumerate() {
            let source = match port_index {
                0 => Some(main_in),
                1 => sidechain,
                _ => None,
            };
            for (channel_index, channel) in port.iter_mut().enumerate() {
                let dst = &mut channel[..frames];
                match source.and_then(|s| s.get(channel_index)) {
                    Some(src) => dst.copy_from_slice(&src[..frames]),
                    None => dst.fill(0.0),
                }
            }
        }
        // Poison the output so that a sample the plugin forgets to write is caught.
        for port in active.outputs.iter_mut() {
            for channel in port.iter_mut() {
                channel[..frames].fill(f32::NAN);
            }
        }
        active.events_in.clear();
        active.events_out.clear();
        // Events go in time order; at equal times, parameter changes first.
        let mut order: Vec<(u32, usize, bool)> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.time, i, false))
            .chain(notes.iter().enumerate().map(|(i, n)| (n.time, i, true)))
            .collect();
        order.sort_by_key(|&(time, _, is_note)| (time, is_note));
        for (_, i, is_note) in order {
            if is_note {
                let n = notes[i];
                let pckn = Pckn::new(0u16, 0u16, u16::from(n.key), Match::All);
                if n.on {
                    active
                        .events_in
                        .push(&NoteOnEvent::new(n.time, pckn, n.velocity));
                } else {
                    active
                        .events_in
                        .push(&NoteOffEvent::new(n.time, pckn, n.velocity));
                }
            } else {
                let change = changes[i];
                active.events_in.push(&ParamValueEvent::new(
                    change.time,
                    change.id,
                    Pckn::match_all(),
                    change.value,
                ));
            }
        }
        let transport_event = transport.map(|t| {
            let mut flags = TransportFlags::HAS_SECONDS_TIMELINE;
            if t.playing {
                flags |= TransportFlags::IS_PLAYING;
            }
            TransportEvent {
                header: EventHeader::new_core(0, EventFlags::empty()),
                flags,
                song_pos_beats: Default::default(),
                song_pos_seconds: (t.position as f64 / active.sample_rate).into(),
                tempo: 120.0,
                tempo_inc: 0.0,
                loop_start_beats: Default::default(),
                loop_end_beats: Default::default(),
                loop_start_seconds: Default::default(),
                loop_end_seconds: Default::default(),
                bar_start: Default::default(),
                bar_number: 0,
                time_signature_numerator: 4,
                time_signature_denominator: 4,
            }
        });

        let input_buffers = active
            .input_ports
            .with_input_buffers(active.inputs.iter_mut().map(|port| {
                AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_input_only(
                        port.iter_mut()
                            .map(|c| InputChannel::variable(&mut c[..frames])),
                    ),
                }
            }));
        let mut output_buffers =
            active
                .output_ports
                .with_output_buffers(active.outputs.iter_mut().map(|port| AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_output_only(
                        port.iter_mut().map(|c| &mut c[..frames]),
                    ),
                }));
        let status = active
            .processor
            .process(
                &input_buffers,
                &mut output_buffers,
                &active.events_in.as_input(),
                &mut active.events_out.as_output(),
                Some(active.steady_time),
                transport_event.as_ref(),
            )
            .map_err(|e| anyhow!("process() failed: {e:?}"))?;
        active.steady_time += frames as u64;

        let out_port = active
            .outputs
            .first()
            .context("the plugin has no output port")?;
        if main_out.len() != out_port.len() {
            bail!(
                "main output has {} channels, caller passed {}",
                out_port.len(),
                main_out.len()
            );
        }
        for (dst, src) in main_out.iter_mut().zip(out_port) {
            dst.copy_from_slice(&src[..frames]);
        }
        Ok(status)
    }
}

/// The audio side of an active plugin, moved to the thread that calls `process()`.
pub struct AudioThread(Active);

impl AudioThread {
    /// Processes one block, as [`LoadedPlugin::process`].
    pub fn process(
        &mut self,
        main_in: &[&[f32]],
        sidechain: Option<&[&[f32]]>,
        main_out: &mut [&mut [f32]],
        changes: &[ParamChange],
    ) -> Result<ProcessStatus> {
        self.0
            .process_with(main_in, sidechain, main_out, changes, &[], None)
    }
}

/// A loaded plugin instance.
pub struct LoadedPlugin {
    active: Option<Active>,
    instance: PluginInstance<TestHost>,
    // Keeps the library loaded for as long as the instance lives (dropped after it).
    _entry: PluginEntry,
    pub descriptor: Descriptor,
}

fn text(bytes: Option<&std::ffi::CStr>) -> String {
    bytes
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl LoadedPlugin {
    /// Loads the bundle at `path` and creates an Orator instance.
    pub fn load(path: &Path) -> Result<Self> {
        ensure!(
            path.exists(),
            "no plugin at {} — build it first with `cargo xtask bundle orator --release` (or run \
             `cargo xtask test`, which does)",
            path.display()
        );
        Self::with_entry(load_entry(path)?)
    }

    /// Loads the bundle at `path` on its own and creates an instance: unlike [`Self::load`],
    /// the library is unloaded (`deinit`, then `dlclose`) when the instance is dropped, as a
    /// host or validator that unloads plugins does.
    pub fn load_unloadable(path: &Path) -> Result<Self> {
        // SAFETY: loading a dynamic library runs its initialisers; the file is our own build.
        let entry = unsafe { PluginEntry::load(path) }
            .map_err(|e| anyhow!("could not load {}: {e:?}", path.display()))?;
        Self::with_entry(entry)
    }

    /// Destroys the instance and hands back its library, for a host that unloads it elsewhere
    /// (on another thread, or later).
    pub fn destroy(self) -> PluginEntry {
        let entry = self._entry.clone();
        drop(self);
        entry
    }

    fn with_entry(entry: PluginEntry) -> Result<Self> {
        let factory = entry
            .get_plugin_factory()
            .context("the bundle has no CLAP plugin factory")?;
        let descriptor = factory
            .plugin_descriptors()
            .find(|d| {
                d.id()
                    .is_some_and(|id| id.to_bytes() == ORATOR_ID.as_bytes())
            })
            .with_context(|| format!("the bundle does not contain {ORATOR_ID}"))?;
        let descriptor = Descriptor {
            id: text(descriptor.id()),
            name: text(descriptor.name()),
            vendor: text(descriptor.vendor()),
            version: text(descriptor.version()),
            features: descriptor
                .features()
                .map(|f| f.to_string_lossy().into_owned())
                .collect(),
        };
        let host_info = HostInfo::new(
            "Orator test host",
            "Orator",
            "https://example.invalid",
            "0.1.0",
        )
        .map_err(|e| anyhow!("{e:?}"))?;
        let id = CString::new(ORATOR_ID)?;
        let instance = PluginInstance::<TestHost>::new(
            |_| SharedState::default(),
            |_| (),
            &entry,
            &id,
            &host_info,
        )
        .map_err(|e| anyhow!("could not instantiate {ORATOR_ID}: {e:?}"))?;
        Ok(Self {
            active: None,
            instance,
            _entry: entry,
            descriptor,
        })
    }

    /// Runs the main-thread callback if the plugin asked for one.
    pub fn pump(&mut self) {
        let requested = self
            .instance
            .access_shared_handler(|s| s.callback_requested.swap(false, Ordering::AcqRel));
        if requested {
            self.instance.call_on_main_thread_callback();
        }
    }

    /// The plugin's gui extension.
    fn gui_ext(&self) -> Result<PluginGui> {
        self.instance
            .plugin_shared_handle()
            .get_extension::<PluginGui>()
            .context("the plugin does not implement the gui extension")
    }

    /// Opens the plugin's editor embedded in the X11 window `parent` and shows it. Returns the
    /// editor's size in pixels.
    pub fn open_editor(&mut self, parent: u32) -> Result<(u32, u32)> {
        let gui = self.gui_ext()?;
        let handle = self.instance.plugin_handle();
        let config = GuiConfiguration {
            api_type: GuiApiType::X11,
            is_floating: false,
        };
        ensure!(
            gui.is_api_supported(&handle, config),
            "the editor does not support embedding in X11"
        );
        gui.create(&handle, config)
            .map_err(|e| anyhow!("gui.create failed: {e:?}"))?;
        let size = gui
            .get_size(&handle)
            .context("the editor did not report its size")?;
        // X11 handles are C `unsigned long`: u64 on Linux, u32 on Windows.
        #[allow(clippy::useless_conversion)]
        let window = clack_extensions::gui::Window::from_x11_handle(parent.into());
        // SAFETY: `parent` is a live X11 window the caller created on the plugin's display.
        unsafe { gui.set_parent(&handle, window) }
            .map_err(|e| anyhow!("gui.set_parent failed: {e:?}"))?;
        gui.show(&handle)
            .map_err(|e| anyhow!("gui.show failed: {e:?}"))?;
        Ok((size.width, size.height))
    }

    /// Hides and destroys the editor opened by [`Self::open_editor`].
    pub fn close_editor(&mut self) -> Result<()> {
        let gui = self.gui_ext()?;
        let handle = self.instance.plugin_handle();
        gui.hide(&handle)
            .map_err(|e| anyhow!("gui.hide failed: {e:?}"))?;
        gui.destroy(&handle);
        Ok(())
    }

    /// The plugin's params extension.
    fn params_ext(&self) -> Result<PluginParams> {
        self.instance
            .plugin_shared_handle()
            .get_extension::<PluginParams>()
            .context("the plugin does not implement the params extension")
    }

    /// Every parameter the plugin exposes.
    pub fn params(&mut self) -> Result<Vec<ParamSpec>> {
        let ext = self.params_ext()?;
        let handle = self.instance.plugin_handle();
        let mut buffer = ParamInfoBuffer::new();
        let mut specs = Vec::new();
        for index in 0..ext.count(&handle) {
            let info = ext
                .get_info(&handle, index, &mut buffer)
                .with_context(|| format!("parameter {index} has no info"))?;
            specs.push(ParamSpec {
                id: info.id,
                name: String::from_utf8_lossy(info.name).into_owned(),
                min: info.min_value,
                max: info.max_value,
                default: info.default_value,
            });
        }
        Ok(specs)
    }

    /// The parameter called `name`.
    pub fn param(&mut self, name: &str) -> Result<ParamSpec> {
        self.params()?
            .into_iter()
            .find(|p| p.name == name)
            .with_context(|| format!("no parameter named {name:?}"))
    }

    /// The CLAP value the plugin parses from `text` (for nice-plug float parameters the CLAP
    /// value is normalised 0..1, so tests speak in the plugin's own units through this).
    pub fn value_from_text(&mut self, id: ClapId, text: &str) -> Result<f64> {
        let ext = self.params_ext()?;
        let c_text = CString::new(text)?;
        ext.text_to_value(&self.instance.plugin_handle(), id, &c_text)
            .with_context(|| format!("the plugin could not parse {text:?}"))
    }

    /// How the plugin displays a CLAP value of a parameter.
    pub fn value_to_text(&mut self, id: ClapId, value: f64) -> Result<String> {
        let ext = self.params_ext()?;
        let mut buffer = [0u8; 256];
        let text = ext
            .value_to_text(&self.instance.plugin_handle(), id, value, &mut buffer)
            .map_err(|_| anyhow!("the plugin could not format {value}"))?;
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    /// The plugin's current value for a parameter (plain units).
    pub fn param_value(&mut self, id: ClapId) -> Result<f64> {
        let ext = self.params_ext()?;
        ext.get_value(&self.instance.plugin_handle(), id)
            .context("the plugin did not report a value")
    }

    /// The note input ports: name, and whether each takes CLAP note events and MIDI.
    pub fn note_inputs(&mut self) -> Result<Vec<(String, bool, bool)>> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginNotePorts>()
            .context("the plugin does not implement the note-ports extension")?;
        let handle = self.instance.plugin_handle();
        let mut buffer = NotePortInfoBuffer::new();
        let mut ports = Vec::new();
        for index in 0..ext.count(&handle, true) {
            let info = ext
                .get(&handle, index, true, &mut buffer)
                .with_context(|| format!("note port {index} has no info"))?;
            ports.push((
                String::from_utf8_lossy(info.name).into_owned(),
                info.supported_dialects.contains(NoteDialects::CLAP),
                info.supported_dialects.contains(NoteDialects::MIDI),
            ));
        }
        Ok(ports)
    }

    /// The audio ports on one side.
    pub fn ports(&mut self, is_input: bool) -> Result<Vec<PortSpec>> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginAudioPorts>()
            .context("the plugin does not implement the audio-ports extension")?;
        let handle = self.instance.plugin_handle();
        let mut buffer = AudioPortInfoBuffer::new();
        (0..ext.count(&handle, is_input))
            .map(|index| {
                let info = ext
                    .get(&handle, index, is_input, &mut buffer)
                    .with_context(|| format!("port {index} has no info"))?;
                Ok(PortSpec {
                    name: String::from_utf8_lossy(info.name).into_owned(),
                    channels: info.channel_count,
                    is_main: info.flags.contains(AudioPortFlags::IS_MAIN),
                })
            })
            .collect()
    }

    /// The latency the plugin reports, in samples (0 if it does not implement the extension).
    pub fn latency(&mut self) -> u32 {
        match self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginLatency>()
        {
            Some(ext) => ext.get(&self.instance.plugin_handle()),
            None => 0,
        }
    }

    /// Switches between realtime and offline rendering (a DAW's bounce). Call before
    /// [`LoadedPlugin::activate`]: the plugin reads the mode when it activates.
    pub fn set_offline(&mut self, offline: bool) -> Result<()> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginRender>()
            .context("the plugin does not implement the render extension")?;
        let mode = if offline {
            RenderMode::Offline
        } else {
            RenderMode::Realtime
        };
        ext.set(&self.instance.plugin_handle(), mode)
            .map_err(|e| anyhow!("the plugin refused render mode {mode:?}: {e:?}"))
    }

    /// Sets the session text, as the editor would, through a state save and load.
    pub fn set_text(&mut self, text: &str) -> Result<()> {
        let state = with_text(&self.save_state()?, text)?;
        self.load_state(&state)
    }

    /// Saves the plugin state.
    pub fn save_state(&mut self) -> Result<Vec<u8>> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginState>()
            .context("the plugin does not implement the state extension")?;
        let mut blob = Vec::new();
        ext.save(&self.instance.plugin_handle(), &mut blob)
            .map_err(|e| anyhow!("state save failed: {e:?}"))?;
        Ok(blob)
    }

    /// Loads a state blob; an error means the plugin refused it.
    pub fn load_state(&mut self, blob: &[u8]) -> Result<()> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginState>()
            .context("the plugin does not implement the state extension")?;
        let mut reader = blob;
        ext.load(&self.instance.plugin_handle(), &mut reader)
            .map_err(|e| anyhow!("the plugin refused the state: {e:?}"))
    }

    /// Activates at `sample_rate` for blocks of `min_frames..=max_frames` and starts processing.
    pub fn activate(&mut self, sample_rate: f64, min_frames: u32, max_frames: u32) -> Result<()> {
        self.deactivate();
        let input_specs = self.ports(true)?;
        let output_specs = self.ports(false)?;
        let config = PluginAudioConfiguration {
            sample_rate,
            min_frames_count: min_frames,
            max_frames_count: max_frames,
        };
        let stopped = self.instance.activate(|_, _| (), config).map_err(|e| {
            anyhow!("activation at {sample_rate} Hz / {max_frames} frames failed: {e:?}")
        })?;
        let processor = stopped
            .start_processing()
            .map_err(|e| anyhow!("start_processing failed: {e:?}"))?;
        let buffers = |specs: &[PortSpec]| -> Vec<Vec<Vec<f32>>> {
            specs
                .iter()
                .map(|p| vec![vec![0.0; max_frames as usize]; p.channels as usize])
                .collect()
        };
        let channel_total = |specs: &[PortSpec]| specs.iter().map(|p| p.channels as usize).sum();
        self.active = Some(Active {
            processor,
            inputs: buffers(&input_specs),
            outputs: buffers(&output_specs),
            input_ports: AudioPorts::with_capacity(channel_total(&input_specs), input_specs.len()),
            output_ports: AudioPorts::with_capacity(
                channel_total(&output_specs),
                output_specs.len(),
            ),
            events_in: EventBuffer::with_capacity(64),
            events_out: EventBuffer::with_capacity(64),
            max_frames,
            steady_time: 0,
            sample_rate,
        });
        Ok(())
    }

    /// Stops processing and deactivates, if active.
    pub fn deactivate(&mut self) {
        if let Some(active) = self.active.take() {
            let stopped = active.processor.stop_processing();
            self.instance.deactivate(stopped);
        }
    }

    /// Calls the plugin's `reset` from the audio side.
    pub fn reset(&mut self) -> Result<()> {
        self.active
            .as_mut()
            .context("not active")?
            .processor
            .reset();
        Ok(())
    }

    /// Processes one block. `main_in` (one slice per channel) feeds input port 0, `sidechain`
    /// (if given) port 1; other inputs are silent. Output port 0 is copied into `main_out`, which
    /// must have one slice per output channel, all `frames` long.
    pub fn process(
        &mut self,
        main_in: &[&[f32]],
        sidechain: Option<&[&[f32]]>,
        main_out: &mut [&mut [f32]],
        changes: &[ParamChange],
    ) -> Result<ProcessStatus> {
        self.process_with(main_in, sidechain, main_out, changes, &[], None)
    }

    /// [`LoadedPlugin::process`] with note events and the host's transport too.
    pub fn process_with(
        &mut self,
        main_in: &[&[f32]],
        sidechain: Option<&[&[f32]]>,
        main_out: &mut [&mut [f32]],
        changes: &[ParamChange],
        notes: &[Note],
        transport: Option<Transport>,
    ) -> Result<ProcessStatus> {
        self.active
            .as_mut()
            .context("process() before activate()")?
            .process_with(main_in, sidechain, main_out, changes, notes, transport)
    }

    /// Hands the audio side of the active plugin to the caller, to run `process()` on a thread
    /// of its own as a host's audio thread does; [`Self::give_back_audio`] returns it.
    pub fn take_audio(&mut self) -> Result<AudioThread> {
        Ok(AudioThread(
            self.active
                .take()
                .context("take_audio() before activate()")?,
        ))
    }

    /// Takes back what [`Self::take_audio`] handed out.
    pub fn give_back_audio(&mut self, audio: AudioThread) {
        self.active = Some(audio.0);
    }
}

impl Drop for LoadedPlugin {
    fn drop(&mut self) {
        self.deactivate();
    }
}

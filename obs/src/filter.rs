//! One Orator filter on an OBS source: its session and speech service (the plugin's own), the
//! audio thread's state (the speech rings, the signal path), the settings OBS keeps, the
//! buttons and hotkeys, and its place among the local API's instances.
//!
//! Thread model:
//! - OBS's UI thread: `create`, `update`, `destroy`, the properties and their buttons, hotkeys
//!   (OBS's hotkey thread). They reach the engine through the session, the speech service's
//!   commands and [`Control`]'s atomics, and the knobs' atomics.
//! - The source's audio thread: [`filter_audio`] only, which OBS calls for one source at a
//!   time. It reads the speech ring and runs the signal path on buffers made in `create`:
//!   no allocation, lock, wait, log or I/O; a panic is caught and the source's audio passes
//!   through.

use crate::audio_watch::Watch;
use crate::ffi::{self, obs_audio_data, obs_data_t, obs_source_t};
use crate::settings::{FilterSettings, Knobs, Read, SettingsError, Write, key};
use crate::sound::{self, Levels};
use crate::{log, module_data_path};
use orator::api::{self, Registration, Target};
use orator::dsp::path::{PathSettings, SignalPath};
use orator::meters::Meters;
use orator::playback::bank::BankPlayer;
use orator::playback::service::SpeechService;
use orator::playback::stream::{AudioSide, Control};
use orator::state::SharedSession;
use orator::triggers::{PendingTriggers, Timeline, TimelineStreams};
use orator::tts::resources::Resources;
use std::cell::UnsafeCell;
use std::ffi::{CStr, CString, c_void};
use std::sync::{Arc, Mutex};

/// The most frames OBS hands a filter at once (`AUDIO_OUTPUT_FRAMES`); larger calls are
/// processed in pieces of this size.
pub const MAX_FRAMES: usize = 1024;

/// What the local API and the buttons reach: the session and the speech service.
pub struct Instance {
    session: Arc<SharedSession>,
    speech: Option<SpeechService>,
    resources: Option<Resources>,
}

impl Target for Instance {
    fn session(&self) -> &Arc<SharedSession> {
        &self.session
    }

    fn speech(&self) -> Option<&SpeechService> {
        self.speech.as_ref()
    }

    fn resources(&self) -> Option<Resources> {
        self.resources.clone()
    }
}

/// The audio thread's state.
struct AudioState {
    stream: Option<AudioSide>,
    bank: Option<BankPlayer>,
    path: SignalPath,
    meters: Meters,
    channels: usize,
    /// The preset's path settings as last read from the knobs, and their sequence number.
    base: PathSettings,
    base_seen: u64,
    /// Phrases the buttons and hotkeys asked for that had to be streamed.
    streamed: TimelineStreams,
}

/// One filter.
pub struct Filter {
    instance: Arc<Instance>,
    /// The settings in effect (UI thread only).
    settings: Mutex<FilterSettings>,
    knobs: Knobs,
    /// Phrase triggers from the buttons and hotkeys, for the audio thread.
    pending: PendingTriggers,
    audio: UnsafeCell<AudioState>,
    /// Keeps the instance among the API's; dropped (and the server moved or stopped) with the
    /// filter.
    /// Taken out when the filter leaves its source (OBS may destroy it much later), so the
    /// port goes to the next instance at once.
    registration: Mutex<Option<Registration>>,
    hotkeys: Vec<ffi::obs_hotkey_id>,
    /// The filter's name when it was made, for the log.
    name: String,
    /// The audio callback's figures, logged when the filter is destroyed.
    watch: Watch,
}

/// Settings read from OBS's `obs_data`.
struct Data(*mut obs_data_t);

impl Write for Data {
    fn set_string(&self, name: &str, value: &str) {
        let (Ok(name), Ok(value)) = (CString::new(name), CString::new(value)) else {
            return;
        };
        // SAFETY: a valid settings object, name and value (libobs copies the value).
        unsafe { ffi::obs_data_set_string(self.0, name.as_ptr(), value.as_ptr()) };
    }

    fn set_number(&self, name: &str, value: f64) {
        let Ok(name) = CString::new(name) else {
            return;
        };
        // SAFETY: a valid settings object and name.
        unsafe { ffi::obs_data_set_double(self.0, name.as_ptr(), value) };
    }
}

impl Read for Data {
    fn string(&self, name: &str) -> String {
        let Ok(name) = CString::new(name) else {
            return String::new();
        };
        // SAFETY: OBS passed a valid settings object; the string it returns lives as long as
        // the object, and is copied at once.
        let value = unsafe { ffi::obs_data_get_string(self.0, name.as_ptr()) };
        if value.is_null() {
            return String::new();
        }
        // SAFETY: a NUL-terminated string from libobs.
        unsafe { CStr::from_ptr(value) }
            .to_string_lossy()
            .into_owned()
    }

    fn number(&self, name: &str) -> f64 {
        let Ok(name) = CString::new(name) else {
            return f64::NAN;
        };
        // SAFETY: a valid settings object and name.
        unsafe { ffi::obs_data_get_double(self.0, name.as_ptr()) }
    }

    fn flag(&self, name: &str) -> bool {
        let Ok(name) = CString::new(name) else {
            return false;
        };
        // SAFETY: a valid settings object and name.
        unsafe { ffi::obs_data_get_bool(self.0, name.as_ptr()) }
    }
}

/// Where the module's resources are: `$ORATOR_RESOURCES`, else the module's data folder.
fn resources() -> Option<Resources> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("ORATOR_RESOURCES") {
        candidates.push(dir.into());
    }
    candidates.extend(module_data_path());
    match Resources::first_valid(&candidates) {
        Ok(found) => Some(found),
        Err(why) => {
            log(ffi::LOG_ERROR, &why.to_string());
            None
        }
    }
}

impl Filter {
    fn new(settings: *mut obs_data_t) -> Self {
        let session = Arc::new(SharedSession::default());
        let resources = resources();
        let speech = match SpeechService::start(session.clone(), resources.clone()) {
            Ok(speech) => Some(speech),
            Err(why) => {
                log(ffi::LOG_ERROR, &format!("could not start speech: {why}"));
                None
            }
        };
        // SAFETY: libobs is running (a filter is being created), so its audio output exists.
        let (rate, channels) = unsafe {
            let audio = ffi::obs_get_audio();
            (
                ffi::audio_output_get_sample_rate(audio),
                ffi::audio_output_get_channels(audio),
            )
        };
        let channels = channels.clamp(1, ffi::MAX_AV_PLANES);
        let mut path = SignalPath::default();
        path.prepare(rate as f32, MAX_FRAMES);
        let knobs = Knobs::default();
        let instance = Arc::new(Instance {
            session,
            speech,
            resources,
        });
        let filter = Self {
            instance,
            settings: Mutex::new(FilterSettings::default()),
            knobs,
            pending: PendingTriggers::default(),
            audio: UnsafeCell::new(AudioState {
                stream: None,
                bank: None,
                path,
                meters: Meters::default(),
                channels,
                base: PathSettings::default(),
                base_seen: 0,
                streamed: TimelineStreams::default(),
            }),
            registration: Mutex::new(None),
            hotkeys: Vec::new(),
            name: String::new(),
            watch: Watch::default(),
        };
        filter.update(settings);
        let state = filter.audio.get();
        // SAFETY: the filter is not yet known to OBS, so no audio thread reaches it.
        let state = unsafe { &mut *state };
        if let Some(base) = filter.knobs.path.load_if_changed(&mut state.base_seen) {
            state.base = base;
        }
        state
            .path
            .reset(&filter.knobs.path_settings(&state.base), channels, false);
        if let Some(speech) = filter.instance.speech.as_ref() {
            speech.reload_voice();
            let (stream, bank) = speech.attach(rate as f32, MAX_FRAMES);
            state.stream = Some(stream);
            state.bank = Some(bank);
        }
        filter
    }

    /// Applies OBS's settings. A value out of range is refused, keeps the value in effect
    /// (written back into OBS's settings, so the window and the saved collection show it),
    /// and the log says why.
    fn update(&self, settings: *mut obs_data_t) {
        let mut current = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let data = Data(settings);
        let (mut read, mut problems) = FilterSettings::read(&data, &current);
        if read.preset != current.preset {
            match sound::choose(&read.preset) {
                Ok(sound) => self.knobs.path.store(&sound.path),
                Err(why) => {
                    problems.push(SettingsError::Preset(why.to_string()));
                    read.preset.clone_from(&current.preset);
                }
            }
        }
        for problem in &problems {
            log(
                ffi::LOG_WARNING,
                &format!("settings refused, the value in effect is kept: {problem}"),
            );
        }
        read.write_back(&problems, &data);
        let voice_changed = read.apply(&self.instance.session, &self.knobs);
        *current = read;
        drop(current);
        if voice_changed && let Some(speech) = &self.instance.speech {
            speech.reload_voice();
        }
        api::refresh();
    }

    /// The speech controls, if speech runs.
    fn control(&self) -> Option<&Arc<Control>> {
        self.instance.speech.as_ref().map(SpeechService::control)
    }

    /// Queues the text, as the editor's Speak does.
    pub fn speak(&self) {
        let text = self.instance.session.read(|s| s.text.clone());
        if let Some(speech) = &self.instance.speech
            && !text.trim().is_empty()
        {
            speech.speak(text);
        }
    }

    /// The levels preset `chosen` sets on the sliders, if it is not the preset in effect (the
    /// settings window asks when its preset list changes).
    pub fn preset_levels(&self, chosen: &str) -> Option<Levels> {
        let current = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if current.preset == chosen {
            return None;
        }
        drop(current);
        sound::choose(chosen).ok()?.levels
    }

    /// Speaks phrase `line` (a line of the text) from the phrase bank, at the next audio tick
    /// (streamed if its clip is not rendered yet).
    pub fn speak_phrase(&self, line: usize) {
        self.pending.trigger(line.max(1));
    }

    /// Speaks the phrase the settings choose.
    pub fn speak_chosen_phrase(&self) {
        let chosen = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .number(key::PHRASE);
        // In range: checked when read (1 to `MAX_PHRASES`).
        self.speak_phrase(chosen.round() as usize);
    }

    /// Stops speech: the queue, and the phrases playing from the bank.
    pub fn stop(&self) {
        if let Some(control) = self.control() {
            control.stop();
        }
        self.pending.end_bank_phrases();
    }

    /// Skips to the next queued phrase; the phrases playing from the bank end.
    pub fn skip(&self) {
        if let Some(control) = self.control() {
            control.skip();
        }
        self.pending.end_bank_phrases();
    }

    pub fn toggle_pause(&self) {
        if let Some(control) = self.control() {
            control.set_paused(!control.is_paused());
        }
    }

    /// Mixes the voice into one tick of the source's audio. Audio thread; wait-free.
    fn process(&self, audio: &mut obs_audio_data) {
        // SAFETY: OBS calls `filter_audio` for one source at a time, and nothing else touches
        // the audio state after `create`.
        let state = unsafe { &mut *self.audio.get() };
        let frames = audio.frames as usize;
        let channels = (0..state.channels)
            .take_while(|&c| !audio.data[c].is_null())
            .count();
        if let Some(base) = self.knobs.path.load_if_changed(&mut state.base_seen) {
            state.base = base;
        }
        let settings = self.knobs.path_settings(&state.base);
        if let (Some(stream), Some(bank)) = (&mut state.stream, &mut state.bank) {
            if self.pending.take_end() {
                bank.stop_all(0);
            }
            let mut timeline = Timeline {
                stream,
                bank,
                rendering: false,
                streamed: &mut state.streamed,
            };
            self.pending
                .take_slots(|slot| timeline.play(slot, 0, 1.0, None));
        }
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(MAX_FRAMES);
            let mut planes: [&mut [f32]; ffi::MAX_AV_PLANES] = Default::default();
            for (c, plane) in planes.iter_mut().enumerate().take(channels) {
                // SAFETY: OBS's planes hold `frames` f32 samples each (its audio is planar
                // float); `done + n <= frames`.
                *plane = unsafe {
                    std::slice::from_raw_parts_mut(audio.data[c].cast::<f32>().add(done), n)
                };
            }
            let voice: &mut [f32] = match (&mut state.stream, &mut state.bank) {
                (Some(stream), Some(bank)) => {
                    let paused = stream.control().is_paused();
                    let voice = stream.read_voice(n);
                    bank.mix_into(voice, paused);
                    voice
                }
                _ => &mut [],
            };
            let none: [&[f32]; 0] = [];
            state.path.process(
                &settings,
                &mut planes[..channels],
                &none,
                voice,
                &[],
                &state.meters,
            );
            done += n;
        }
    }
}

/// The setting a hotkey's bindings are saved under.
fn hotkey_key(name: &CStr) -> CString {
    let mut key = b"hotkey_".to_vec();
    key.extend(
        name.to_bytes()
            .iter()
            .map(|&b| if b == b'.' { b'_' } else { b }),
    );
    CString::new(key).unwrap_or_default()
}

/// `create`: a new filter. Its hotkeys are OBS's own (*Settings → Hotkeys*), named after the
/// filter (`orator.speak:NAME`, described `NAME: Speak`), their bindings saved with the
/// filter's settings: OBS creates and loads filters private, and a private source has no
/// hotkeys of its own.
pub(crate) unsafe extern "C" fn create(
    settings: *mut obs_data_t,
    source: *mut obs_source_t,
) -> *mut c_void {
    let made = std::panic::catch_unwind(|| Box::new(Filter::new(settings)));
    let Ok(mut filter) = made else {
        log(ffi::LOG_ERROR, "the filter could not be created");
        return std::ptr::null_mut();
    };
    let target: Arc<dyn Target> = filter.instance.clone();
    *filter
        .registration
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(api::register(Arc::downgrade(&target)));
    let data: *mut Filter = &mut *filter;
    // SAFETY: the filter's own source; its name is copied at once.
    let own_name = unsafe { ffi::obs_source_get_name(source) };
    let own_name = if own_name.is_null() {
        "Orator".to_owned()
    } else {
        // SAFETY: a NUL-terminated string from libobs.
        unsafe { CStr::from_ptr(own_name) }
            .to_string_lossy()
            .into_owned()
    };
    filter.name.clone_from(&own_name);
    for (name, label, func) in crate::actions::hotkeys() {
        let full = CString::new(format!("{}:{own_name}", name.to_string_lossy()));
        let description = CString::new(format!("{own_name}: {}", label.to_string_lossy()));
        let (Ok(full), Ok(description)) = (full, description) else {
            continue;
        };
        // SAFETY: `data` lives until `destroy`, which unregisters the hotkeys first; OBS
        // copies the strings; the bindings array is released once loaded.
        unsafe {
            let id = ffi::obs_hotkey_register_frontend(
                full.as_ptr(),
                description.as_ptr(),
                func,
                data.cast(),
            );
            let bindings = ffi::obs_data_get_array(settings, hotkey_key(name).as_ptr());
            if !bindings.is_null() {
                ffi::obs_hotkey_load(id, bindings);
                ffi::obs_data_array_release(bindings);
            }
            filter.hotkeys.push(id);
        }
    }
    Box::into_raw(filter).cast()
}

/// `destroy`.
pub(crate) unsafe extern "C" fn destroy(data: *mut c_void) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the box `create` made; OBS calls `destroy` once, after the audio
    // thread has stopped calling the filter.
    let filter = unsafe { Box::from_raw(data.cast::<Filter>()) };
    for id in &filter.hotkeys {
        // SAFETY: ids `create` registered.
        unsafe { ffi::obs_hotkey_unregister(*id) };
    }
    log(
        ffi::LOG_INFO,
        &format!(
            "filter '{}' destroyed: {}",
            filter.name,
            filter.watch.summary()
        ),
    );
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(filter)));
    api::refresh();
}

/// `filter_remove`: the filter left its source; it no longer serves the API.
pub(crate) unsafe extern "C" fn filter_remove(data: *mut c_void, _: *mut obs_source_t) {
    // SAFETY: a live filter.
    let Some(filter) = (unsafe { data.cast::<Filter>().as_ref() }) else {
        return;
    };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let gone = filter
            .registration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(gone);
    }));
}

/// `save`: the hotkeys' bindings into the filter's settings.
pub(crate) unsafe extern "C" fn save(data: *mut c_void, settings: *mut obs_data_t) {
    // SAFETY: a live filter.
    let Some(filter) = (unsafe { data.cast::<Filter>().as_ref() }) else {
        return;
    };
    for ((name, _, _), id) in crate::actions::hotkeys().zip(&filter.hotkeys) {
        // SAFETY: a registered hotkey; the array is released once stored.
        unsafe {
            let bindings = ffi::obs_hotkey_save(*id);
            if !bindings.is_null() {
                ffi::obs_data_set_array(settings, hotkey_key(name).as_ptr(), bindings);
                ffi::obs_data_array_release(bindings);
            }
        }
    }
}

/// `update`.
pub(crate) unsafe extern "C" fn update(data: *mut c_void, settings: *mut obs_data_t) {
    // SAFETY: `data` is a live filter (OBS calls `update` between `create` and `destroy`).
    if let Some(filter) = unsafe { data.cast::<Filter>().as_ref() } {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| filter.update(settings)));
    }
}

/// `filter_audio`: the source's audio thread.
pub(crate) unsafe extern "C" fn filter_audio(
    data: *mut c_void,
    audio: *mut obs_audio_data,
) -> *mut obs_audio_data {
    // SAFETY: a live filter and OBS's audio of this tick.
    let (Some(filter), Some(tick)) = (unsafe { data.cast::<Filter>().as_ref() }, unsafe {
        audio.as_mut()
    }) else {
        return audio;
    };
    let _tick = filter.watch.enter();
    // A panic leaves the source's audio as it came.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| filter.process(tick)));
    audio
}

/// `get_defaults`.
pub(crate) unsafe extern "C" fn get_defaults(settings: *mut obs_data_t) {
    for (name, _, _, default) in crate::settings::NUMBERS {
        let Ok(name) = CString::new(name) else {
            continue;
        };
        // SAFETY: OBS's settings object and a valid name.
        unsafe { ffi::obs_data_set_default_double(settings, name.as_ptr(), default) };
    }
    for (name, value) in [
        (key::TEXT, DEFAULT_TEXT),
        (key::VOICE, ""),
        (key::TOKEN, ""),
        (key::PRESET, ""),
    ] {
        let (Ok(name), Ok(value)) = (CString::new(name), CString::new(value)) else {
            continue;
        };
        // SAFETY: as above.
        unsafe { ffi::obs_data_set_default_string(settings, name.as_ptr(), value.as_ptr()) };
    }
    if let Ok(name) = CString::new(key::API) {
        // SAFETY: as above.
        unsafe { ffi::obs_data_set_default_bool(settings, name.as_ptr(), false) };
    }
}

/// What a new filter says.
pub const DEFAULT_TEXT: &str = "Hello chat! Orator is speaking on this source.";

/// The filter behind a button's or hotkey's `data`.
///
/// # Safety
/// `data` is null or a filter `create` made and `destroy` has not freed.
pub unsafe fn from_data<'a>(data: *mut c_void) -> Option<&'a Filter> {
    // SAFETY: the caller's promise.
    unsafe { data.cast::<Filter>().as_ref() }
}

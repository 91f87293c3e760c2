//! Orator as an OBS Studio audio filter: on any audio source (a microphone, music, desktop
//! audio), it speaks its text or what chat bots send through the local API, mixed into the
//! source's audio and ducking it, with the plugin's own engine (speech thread, rings, signal
//! path). OBS loads it from `plugins/orator/bin/64bit/orator.so` with the resources (voices,
//! espeak-ng data, ONNX Runtime) in `plugins/orator/data/`.
//!
//! - this file: the module's entry points (`obs_module_load` registers the filter kind
//!   `orator_filter`), the properties OBS's settings window shows, the buttons and hotkeys;
//! - [`filter`]: one filter (its instance, audio thread and callbacks);
//! - [`actions`]: the buttons and hotkeys (Speak, Stop, Skip, Pause, phrases);
//! - [`settings`]: the settings OBS saves, checked before they are applied;
//! - [`sound`]: presets (the plugin's) for a filter; [`path_knobs`]: their settings, as the
//!   audio thread reads them;
//! - [`ffi`]: the declarations of libobs's C API used here;
//! - [`audio_watch`]: the audio callback's ticks, time and heap calls, logged per filter.
//!
//! Thread model: OBS calls the entry points and properties on its UI thread, hotkeys on its
//! hotkey thread, and `filter_audio` on the source's audio thread (see [`filter`]).

pub mod actions;
pub mod audio_watch;
pub mod ffi;
pub mod filter;
pub mod path_knobs;
pub mod settings;
pub mod sound;

use ffi::obs_properties_t;
use settings::key;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The filter kind's id (what `CreateSourceFilter` names).
pub const FILTER_KIND: &CStr = c"orator_filter";

static MODULE: AtomicPtr<ffi::obs_module_t> = AtomicPtr::new(std::ptr::null_mut());

/// Writes `message` to OBS's log, prefixed `[orator]`.
pub fn log(level: std::ffi::c_int, message: &str) {
    let line = CString::new(format!("[orator] {message}").replace('\0', " "));
    if let Ok(line) = line {
        // SAFETY: a "%s" format with one NUL-terminated string.
        unsafe { ffi::blog(level, c"%s".as_ptr(), line.as_ptr()) };
    }
}

/// The module's data folder, where its resources are.
pub fn module_data_path() -> Option<PathBuf> {
    let module = MODULE.load(Ordering::Acquire);
    if module.is_null() {
        return None;
    }
    // SAFETY: the module pointer OBS gave; the path string is libobs's.
    let path = unsafe { ffi::obs_get_module_data_path(module) };
    if path.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string from libobs.
    let path = unsafe { CStr::from_ptr(path) };
    Some(PathBuf::from(path.to_string_lossy().into_owned()))
}

/// OBS's `OBS_DECLARE_MODULE`: the module pointer.
#[unsafe(no_mangle)]
pub extern "C" fn obs_module_set_pointer(module: *mut ffi::obs_module_t) {
    MODULE.store(module, Ordering::Release);
}

/// OBS's `OBS_DECLARE_MODULE`: the module pointer.
#[unsafe(no_mangle)]
pub extern "C" fn obs_current_module() -> *mut ffi::obs_module_t {
    MODULE.load(Ordering::Acquire)
}

/// OBS's `OBS_DECLARE_MODULE`: the API version built against.
#[unsafe(no_mangle)]
pub extern "C" fn obs_module_ver() -> u32 {
    ffi::LIBOBS_API_VER
}

#[unsafe(no_mangle)]
pub extern "C" fn obs_module_name() -> *const c_char {
    c"Orator".as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn obs_module_description() -> *const c_char {
    c"Speaks typed text and chat with a local neural voice on any audio source".as_ptr()
}

/// Registers the filter kind.
#[unsafe(no_mangle)]
pub extern "C" fn obs_module_load() -> bool {
    let info = ffi::obs_source_info {
        id: FILTER_KIND.as_ptr(),
        type_: ffi::OBS_SOURCE_TYPE_FILTER,
        output_flags: ffi::OBS_SOURCE_AUDIO,
        get_name: Some(get_name),
        create: Some(filter::create),
        destroy: Some(filter::destroy),
        get_width: None,
        get_height: None,
        get_defaults: Some(filter::get_defaults),
        get_properties: Some(get_properties),
        update: Some(filter::update),
        activate: None,
        deactivate: None,
        show: None,
        hide: None,
        video_tick: None,
        video_render: None,
        filter_video: None,
        filter_audio: Some(filter::filter_audio),
        enum_active_sources: None,
        save: Some(filter::save),
        load: None,
        mouse_click: None,
        mouse_move: None,
        mouse_wheel: None,
        focus: None,
        key_click: None,
        filter_remove: Some(filter::filter_remove),
        type_data: std::ptr::null_mut(),
        free_type_data: None,
    };
    // SAFETY: OBS copies the first `size` bytes; the strings it points to are static.
    unsafe { ffi::obs_register_source_s(&info, std::mem::size_of::<ffi::obs_source_info>()) };
    log(
        ffi::LOG_INFO,
        &format!("loaded (Orator {})", env!("CARGO_PKG_VERSION")),
    );
    true
}

unsafe extern "C" fn get_name(_: *mut c_void) -> *const c_char {
    c"Orator (speech)".as_ptr()
}

/// A setting name as C wants it (the names are ASCII without NUL).
fn name(key: &str) -> CString {
    CString::new(key).unwrap_or_default()
}

/// The settings window's preset list changed: the chosen preset's levels go into the
/// sliders (before OBS applies the settings), and the window shows them.
unsafe extern "C" fn preset_chosen(
    data: *mut c_void,
    _: *mut obs_properties_t,
    _: *mut ffi::obs_property_t,
    settings: *mut ffi::obs_data_t,
) -> bool {
    // SAFETY: the filter's data, given to the callback by `get_properties`; OBS's settings.
    let Some(filter) = (unsafe { filter::from_data(data) }) else {
        return false;
    };
    let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let key = name(key::PRESET);
        // SAFETY: OBS's settings object and a valid name; the string is copied at once.
        let chosen = unsafe { ffi::obs_data_get_string(settings, key.as_ptr()) };
        let chosen = if chosen.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated string from libobs.
            unsafe { CStr::from_ptr(chosen) }
                .to_string_lossy()
                .into_owned()
        };
        let Some(levels) = filter.preset_levels(chosen.trim()) else {
            return false;
        };
        for (setting, value) in [
            (key::VOICE_DB, levels.voice_db),
            (key::SOURCE_DB, levels.source_db),
            (key::DUCK_DB, levels.duck_db),
        ] {
            let setting = name(setting);
            // SAFETY: as above.
            unsafe { ffi::obs_data_set_double(settings, setting.as_ptr(), value) };
        }
        true
    }));
    set.unwrap_or(false)
}

/// `get_properties`: OBS's settings window for the filter.
unsafe extern "C" fn get_properties(data: *mut c_void) -> *mut obs_properties_t {
    // SAFETY: libobs's property builders, each given a live properties object and
    // NUL-terminated strings that outlive the call (OBS copies them).
    unsafe {
        let props = ffi::obs_properties_create();
        let text = name(key::TEXT);
        ffi::obs_properties_add_text(
            props,
            text.as_ptr(),
            c"Text".as_ptr(),
            ffi::OBS_TEXT_MULTILINE,
        );
        for (setting, label, button) in actions::buttons() {
            ffi::obs_properties_add_button(props, setting.as_ptr(), label.as_ptr(), button);
        }
        let phrase = name(key::PHRASE);
        ffi::obs_properties_add_int(
            props,
            phrase.as_ptr(),
            c"Phrase (a line of the text; the button above speaks it)".as_ptr(),
            1,
            orator::playback::bank::MAX_PHRASES as std::ffi::c_int,
            1,
        );
        ffi::obs_properties_add_text(
            props,
            c"orator.phrases_help".as_ptr(),
            c"Every non-empty line of the text is a phrase, rendered ahead so that a phrase \
              starts at once. Hotkeys (Settings, Hotkeys) speak phrases 1 to 9; the API's Speak \
              and the Speak button speak the whole text."
                .as_ptr(),
            ffi::OBS_TEXT_INFO,
        );
        let voice = name(key::VOICE);
        ffi::obs_properties_add_path(
            props,
            voice.as_ptr(),
            c"Voice (a Piper .onnx; empty: the bundled one)".as_ptr(),
            ffi::OBS_PATH_FILE,
            c"Piper voices (*.onnx)".as_ptr(),
            std::ptr::null(),
        );
        let preset = name(key::PRESET);
        let list = ffi::obs_properties_add_list(
            props,
            preset.as_ptr(),
            c"Preset (voice chain, mix and ducking; sets the levels below)".as_ptr(),
            ffi::OBS_COMBO_TYPE_LIST,
            ffi::OBS_COMBO_FORMAT_STRING,
        );
        ffi::obs_property_list_add_string(list, c"(none)".as_ptr(), c"".as_ptr());
        for preset in sound::names() {
            if let Ok(preset) = CString::new(preset) {
                ffi::obs_property_list_add_string(list, preset.as_ptr(), preset.as_ptr());
            }
        }
        if !data.is_null() {
            ffi::obs_property_set_modified_callback2(list, preset_chosen, data);
        }
        let sliders: [(&str, &CStr, f64); 5] = [
            (key::RATE, c"Rate", 0.05),
            (key::VARIATION, c"Variation", 0.05),
            (key::VOICE_DB, c"Voice level (dB)", 0.5),
            (key::SOURCE_DB, c"Source level (dB)", 0.5),
            (key::DUCK_DB, c"Ducking under the voice (dB)", 0.5),
        ];
        for (setting, label, step) in sliders {
            let Some((_, min, max, _)) = settings::NUMBERS.iter().find(|n| n.0 == setting) else {
                continue;
            };
            let setting = name(setting);
            ffi::obs_properties_add_float_slider(
                props,
                setting.as_ptr(),
                label.as_ptr(),
                *min,
                *max,
                step,
            );
        }
        let api = name(key::API);
        ffi::obs_properties_add_bool(
            props,
            api.as_ptr(),
            c"Local API for chat bots (Speaker.bot WebSocket, UDP, OpenAI, captions)".as_ptr(),
        );
        let port = name(key::PORT);
        ffi::obs_properties_add_int(props, port.as_ptr(), c"API port".as_ptr(), 1, 65535, 1);
        let token = name(key::TOKEN);
        ffi::obs_properties_add_text(
            props,
            token.as_ptr(),
            c"API token (empty: none)".as_ptr(),
            ffi::OBS_TEXT_PASSWORD,
        );
        props
    }
}

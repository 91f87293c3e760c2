//! The part of OBS Studio's C plugin API this module uses, declared by hand from libobs 29.0's
//! headers (`obs-module.h`, `obs-source.h`, `obs-data.h`, `obs-properties.h`,
//! `obs-hotkey.h`, `obs.h`, `media-io/audio-io.h`, `util/base.h`). Nothing is linked at build
//! time: the symbols are libobs's, resolved when OBS loads the module (on Windows through
//! `raw-dylib` against `obs.dll` by name), so building needs no OBS.
//!
//! `obs_source_info` is declared up to `free_type_data`: OBS takes the size it is given and
//! leaves the later callbacks empty, as it does for modules built against older headers.
//!
//! Thread model: declarations only.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

/// An opaque libobs object.
#[repr(C)]
pub struct Opaque {
    _private: [u8; 0],
}

pub type obs_module_t = Opaque;
pub type obs_source_t = Opaque;
pub type obs_data_t = Opaque;
pub type obs_properties_t = Opaque;
pub type obs_property_t = Opaque;
pub type obs_hotkey_t = Opaque;
pub type audio_t = Opaque;
pub type obs_data_array_t = Opaque;
pub type obs_hotkey_id = usize;

/// `MAX_AV_PLANES`.
pub const MAX_AV_PLANES: usize = 8;

/// `enum obs_source_type`: a filter.
pub const OBS_SOURCE_TYPE_FILTER: c_int = 1;
/// `OBS_SOURCE_AUDIO`: the source has audio.
pub const OBS_SOURCE_AUDIO: u32 = 1 << 1;

/// `enum obs_text_type`.
pub const OBS_TEXT_DEFAULT: c_int = 0;
pub const OBS_TEXT_PASSWORD: c_int = 1;
pub const OBS_TEXT_MULTILINE: c_int = 2;
pub const OBS_TEXT_INFO: c_int = 3;
/// `enum obs_path_type`: a file to open.
pub const OBS_PATH_FILE: c_int = 0;
/// `enum obs_combo_type`: a drop-down list.
pub const OBS_COMBO_TYPE_LIST: c_int = 2;
/// `enum obs_combo_format`: items carry strings.
pub const OBS_COMBO_FORMAT_STRING: c_int = 3;

/// `util/base.h` log levels.
pub const LOG_ERROR: c_int = 100;
pub const LOG_WARNING: c_int = 200;
pub const LOG_INFO: c_int = 300;

/// The module API version this module reports (`MAKE_SEMANTIC_VERSION(29, 0, 0)`).
pub const LIBOBS_API_VER: u32 = 29 << 24;

/// `struct obs_audio_data`: planar float audio of one tick.
#[repr(C)]
pub struct obs_audio_data {
    pub data: [*mut u8; MAX_AV_PLANES],
    pub frames: u32,
    pub timestamp: u64,
}

/// A callback slot this module leaves empty.
pub type Unused = Option<unsafe extern "C" fn()>;

/// `struct obs_source_info`, up to `free_type_data`.
#[repr(C)]
pub struct obs_source_info {
    pub id: *const c_char,
    pub type_: c_int,
    pub output_flags: u32,
    pub get_name: Option<unsafe extern "C" fn(type_data: *mut c_void) -> *const c_char>,
    pub create: Option<
        unsafe extern "C" fn(settings: *mut obs_data_t, source: *mut obs_source_t) -> *mut c_void,
    >,
    pub destroy: Option<unsafe extern "C" fn(data: *mut c_void)>,
    pub get_width: Unused,
    pub get_height: Unused,
    pub get_defaults: Option<unsafe extern "C" fn(settings: *mut obs_data_t)>,
    pub get_properties: Option<unsafe extern "C" fn(data: *mut c_void) -> *mut obs_properties_t>,
    pub update: Option<unsafe extern "C" fn(data: *mut c_void, settings: *mut obs_data_t)>,
    pub activate: Unused,
    pub deactivate: Unused,
    pub show: Unused,
    pub hide: Unused,
    pub video_tick: Unused,
    pub video_render: Unused,
    pub filter_video: Unused,
    pub filter_audio: Option<
        unsafe extern "C" fn(data: *mut c_void, audio: *mut obs_audio_data) -> *mut obs_audio_data,
    >,
    pub enum_active_sources: Unused,
    pub save: Option<unsafe extern "C" fn(data: *mut c_void, settings: *mut obs_data_t)>,
    pub load: Unused,
    pub mouse_click: Unused,
    pub mouse_move: Unused,
    pub mouse_wheel: Unused,
    pub focus: Unused,
    pub key_click: Unused,
    pub filter_remove: Option<unsafe extern "C" fn(data: *mut c_void, source: *mut obs_source_t)>,
    pub type_data: *mut c_void,
    pub free_type_data: Unused,
}

/// `obs_property_clicked_t`.
pub type obs_property_clicked_t = unsafe extern "C" fn(
    props: *mut obs_properties_t,
    property: *mut obs_property_t,
    data: *mut c_void,
) -> bool;

/// `obs_hotkey_func`.
/// `obs_property_modified2_t`: a property changed in the settings window; true asks OBS to
/// show the settings again.
pub type obs_property_modified2_t = unsafe extern "C" fn(
    private: *mut c_void,
    props: *mut obs_properties_t,
    property: *mut obs_property_t,
    settings: *mut obs_data_t,
) -> bool;

pub type obs_hotkey_func = unsafe extern "C" fn(
    data: *mut c_void,
    id: obs_hotkey_id,
    hotkey: *mut obs_hotkey_t,
    pressed: bool,
);

// The unit tests are an executable, which must resolve every symbol: they link libobs's
// runtime library (installed with OBS by the test command).
#[cfg_attr(windows, link(name = "obs", kind = "raw-dylib"))]
#[cfg_attr(all(test, unix), link(name = "libobs.so.0", modifiers = "+verbatim"))]
unsafe extern "C" {
    pub fn obs_register_source_s(info: *const obs_source_info, size: usize);
    pub fn blog(level: c_int, format: *const c_char, ...);
    pub fn obs_get_module_data_path(module: *mut obs_module_t) -> *const c_char;
    pub fn obs_get_audio() -> *mut audio_t;
    pub fn audio_output_get_channels(audio: *const audio_t) -> usize;
    pub fn audio_output_get_sample_rate(audio: *const audio_t) -> u32;
    pub fn obs_source_get_name(source: *const obs_source_t) -> *const c_char;

    pub fn obs_data_get_string(data: *mut obs_data_t, name: *const c_char) -> *const c_char;
    pub fn obs_data_get_int(data: *mut obs_data_t, name: *const c_char) -> i64;
    pub fn obs_data_get_double(data: *mut obs_data_t, name: *const c_char) -> f64;
    pub fn obs_data_get_bool(data: *mut obs_data_t, name: *const c_char) -> bool;
    pub fn obs_data_set_string(data: *mut obs_data_t, name: *const c_char, v: *const c_char);
    pub fn obs_data_set_double(data: *mut obs_data_t, name: *const c_char, v: f64);
    pub fn obs_data_set_default_string(
        data: *mut obs_data_t,
        name: *const c_char,
        v: *const c_char,
    );
    pub fn obs_data_set_default_int(data: *mut obs_data_t, name: *const c_char, v: i64);
    pub fn obs_data_set_default_double(data: *mut obs_data_t, name: *const c_char, v: f64);
    pub fn obs_data_set_default_bool(data: *mut obs_data_t, name: *const c_char, v: bool);

    pub fn obs_properties_create() -> *mut obs_properties_t;
    pub fn obs_properties_add_text(
        props: *mut obs_properties_t,
        name: *const c_char,
        description: *const c_char,
        kind: c_int,
    ) -> *mut obs_property_t;
    pub fn obs_properties_add_bool(
        props: *mut obs_properties_t,
        name: *const c_char,
        description: *const c_char,
    ) -> *mut obs_property_t;
    pub fn obs_properties_add_int(
        props: *mut obs_properties_t,
        name: *const c_char,
        description: *const c_char,
        min: c_int,
        max: c_int,
        step: c_int,
    ) -> *mut obs_property_t;
    pub fn obs_properties_add_float_slider(
        props: *mut obs_properties_t,
        name: *const c_char,
        description: *const c_char,
        min: f64,
        max: f64,
        step: f64,
    ) -> *mut obs_property_t;
    pub fn obs_properties_add_path(
        props: *mut obs_properties_t,
        name: *const c_char,
        description: *const c_char,
        kind: c_int,
        filter: *const c_char,
        default_path: *const c_char,
    ) -> *mut obs_property_t;
    pub fn obs_properties_add_list(
        props: *mut obs_properties_t,
        name: *const c_char,
        description: *const c_char,
        kind: c_int,
        format: c_int,
    ) -> *mut obs_property_t;
    pub fn obs_property_list_add_string(
        property: *mut obs_property_t,
        name: *const c_char,
        value: *const c_char,
    ) -> usize;
    pub fn obs_property_set_modified_callback2(
        property: *mut obs_property_t,
        modified: obs_property_modified2_t,
        private: *mut c_void,
    );
    pub fn obs_properties_add_button(
        props: *mut obs_properties_t,
        name: *const c_char,
        text: *const c_char,
        callback: obs_property_clicked_t,
    ) -> *mut obs_property_t;

    pub fn obs_hotkey_register_frontend(
        name: *const c_char,
        description: *const c_char,
        func: obs_hotkey_func,
        data: *mut c_void,
    ) -> obs_hotkey_id;
    pub fn obs_hotkey_save(id: obs_hotkey_id) -> *mut obs_data_array_t;
    pub fn obs_hotkey_load(id: obs_hotkey_id, data: *mut obs_data_array_t);
    pub fn obs_data_get_array(data: *mut obs_data_t, name: *const c_char) -> *mut obs_data_array_t;
    pub fn obs_data_set_array(
        data: *mut obs_data_t,
        name: *const c_char,
        array: *mut obs_data_array_t,
    );
    pub fn obs_data_array_release(array: *mut obs_data_array_t);
    pub fn obs_hotkey_unregister(id: obs_hotkey_id);
}

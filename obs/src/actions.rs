//! The filter's buttons (in its settings window) and hotkeys (OBS's Settings → Hotkeys): Speak,
//! Stop, Skip, Pause, the chosen phrase, and phrases 1 to 9. Each is a C callback OBS calls with
//! the filter's data; it runs the action on the filter and catches a panic.
//!
//! Thread model: buttons on OBS's UI thread, hotkeys on its hotkey thread; the actions reach
//! the engine through the speech service's commands and atomics only.

use crate::ffi::{self, obs_properties_t, obs_property_t};
use crate::filter::{self, Filter};
use std::ffi::{CStr, c_void};

/// What a button or hotkey does.
type Action = fn(&Filter);

/// Every action: setting or hotkey name, label, what it does. The first [`BUTTONS`] also have
/// a button in the settings window; all have hotkeys.
const ACTIONS: [(&CStr, &CStr, Action); 14] = [
    (c"orator.speak", c"Orator: Speak", Filter::speak),
    (c"orator.stop", c"Orator: Stop", Filter::stop),
    (c"orator.skip", c"Orator: Skip", Filter::skip),
    (
        c"orator.pause",
        c"Orator: Pause / resume",
        Filter::toggle_pause,
    ),
    (
        c"orator.phrase",
        c"Orator: Speak the chosen phrase",
        Filter::speak_chosen_phrase,
    ),
    (c"orator.phrase1", c"Orator: Phrase 1", |f| {
        f.speak_phrase(1)
    }),
    (c"orator.phrase2", c"Orator: Phrase 2", |f| {
        f.speak_phrase(2)
    }),
    (c"orator.phrase3", c"Orator: Phrase 3", |f| {
        f.speak_phrase(3)
    }),
    (c"orator.phrase4", c"Orator: Phrase 4", |f| {
        f.speak_phrase(4)
    }),
    (c"orator.phrase5", c"Orator: Phrase 5", |f| {
        f.speak_phrase(5)
    }),
    (c"orator.phrase6", c"Orator: Phrase 6", |f| {
        f.speak_phrase(6)
    }),
    (c"orator.phrase7", c"Orator: Phrase 7", |f| {
        f.speak_phrase(7)
    }),
    (c"orator.phrase8", c"Orator: Phrase 8", |f| {
        f.speak_phrase(8)
    }),
    (c"orator.phrase9", c"Orator: Phrase 9", |f| {
        f.speak_phrase(9)
    }),
];

/// How many of [`ACTIONS`] have buttons.
const BUTTONS: usize = 5;

/// Runs action `index` on the filter behind `data`, catching a panic.
fn act(index: usize, data: *mut c_void) {
    // SAFETY: OBS passes the filter's data to its buttons and hotkeys.
    let Some(filter) = (unsafe { filter::from_data(data) }) else {
        return;
    };
    if let Some((_, _, action)) = ACTIONS.get(index) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| action(filter)));
    }
}

/// A button's and a hotkey's C callbacks for each action index.
macro_rules! callbacks {
    ($($index:literal => $button:ident, $hotkey:ident;)*) => {
        $(
            unsafe extern "C" fn $button(
                _: *mut obs_properties_t,
                _: *mut obs_property_t,
                data: *mut c_void,
            ) -> bool {
                act($index, data);
                false
            }

            unsafe extern "C" fn $hotkey(
                data: *mut c_void,
                _: ffi::obs_hotkey_id,
                _: *mut ffi::obs_hotkey_t,
                pressed: bool,
            ) {
                if pressed {
                    act($index, data);
                }
            }
        )*

        /// Each action's button callback, in [`ACTIONS`]' order.
        const BUTTON_CALLBACKS: [ffi::obs_property_clicked_t; ACTIONS.len()] = [$($button),*];

        /// Each action's hotkey callback, in [`ACTIONS`]' order.
        const HOTKEY_CALLBACKS: [ffi::obs_hotkey_func; ACTIONS.len()] = [$($hotkey),*];
    };
}

callbacks! {
    0 => speak_button, speak_hotkey;
    1 => stop_button, stop_hotkey;
    2 => skip_button, skip_hotkey;
    3 => pause_button, pause_hotkey;
    4 => phrase_button, phrase_hotkey;
    5 => phrase1_button, phrase1_hotkey;
    6 => phrase2_button, phrase2_hotkey;
    7 => phrase3_button, phrase3_hotkey;
    8 => phrase4_button, phrase4_hotkey;
    9 => phrase5_button, phrase5_hotkey;
    10 => phrase6_button, phrase6_hotkey;
    11 => phrase7_button, phrase7_hotkey;
    12 => phrase8_button, phrase8_hotkey;
    13 => phrase9_button, phrase9_hotkey;
}

/// The settings window's buttons: name, label, callback.
pub fn buttons() -> impl Iterator<Item = (&'static CStr, &'static CStr, ffi::obs_property_clicked_t)>
{
    ACTIONS
        .iter()
        .zip(BUTTON_CALLBACKS)
        .take(BUTTONS)
        .map(|((name, label, _), callback)| (*name, *label, callback))
}

/// The hotkeys each filter registers: name and label (completed with the filter's name),
/// callback.
pub fn hotkeys() -> impl Iterator<Item = (&'static CStr, &'static CStr, ffi::obs_hotkey_func)> {
    ACTIONS
        .iter()
        .zip(HOTKEY_CALLBACKS)
        .map(|((name, label, _), callback)| (*name, *label, callback))
}

//! The filter's settings as OBS keeps them (one `obs_data` object per filter, saved in the scene
//! collection): read through [`Read`], checked whole, and applied to the session and the audio
//! thread's knobs only when every value is in range. A scene collection holding something
//! else (a value out of range, not a number, a text past the session's limit) is refused with
//! the reason and changes nothing; keys a newer Orator added are ignored.
//!
//! Thread model: read and applied on OBS's UI thread; the knobs are atomics the audio thread
//! reads.

use crate::path_knobs::PathKnobs;
use orator::api::ApiSettings;
use orator::dsp::gain::db_to_gain;
use orator::dsp::path::{PathSettings, strip};
use orator::state::{MAX_TEXT_BYTES, SharedSession};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// Setting keys, as saved in the scene collection.
pub mod key {
    pub const TEXT: &str = "text";
    pub const VOICE: &str = "voice";
    pub const RATE: &str = "rate";
    pub const VARIATION: &str = "variation";
    pub const VOICE_DB: &str = "voice_db";
    pub const SOURCE_DB: &str = "source_db";
    pub const DUCK_DB: &str = "duck_db";
    pub const API: &str = "api_enabled";
    pub const PORT: &str = "api_port";
    pub const TOKEN: &str = "api_token";
    pub const PHRASE: &str = "phrase";
    pub const PRESET: &str = "preset";
}

/// How a setting is read from where OBS keeps it.
pub trait Read {
    /// A string (empty when unset).
    fn string(&self, key: &str) -> String;
    /// A number (its default when unset).
    fn number(&self, key: &str) -> f64;
    /// A switch.
    fn flag(&self, key: &str) -> bool;
}

/// The numeric settings: key, range and default.
pub const NUMBERS: [(&str, f64, f64, f64); 7] = [
    (key::RATE, 0.25, 4.0, 1.0),
    (key::VARIATION, 0.0, 2.0, 1.0),
    (key::VOICE_DB, -60.0, 12.0, 0.0),
    (key::SOURCE_DB, -60.0, 12.0, 0.0),
    (key::DUCK_DB, -40.0, 0.0, -12.0),
    (key::PORT, 1.0, 65535.0, orator::api::DEFAULT_PORT as f64),
    (
        key::PHRASE,
        1.0,
        orator::playback::bank::MAX_PHRASES as f64,
        1.0,
    ),
];

/// One filter's settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSettings {
    /// What Speak says.
    pub text: String,
    /// The voice model (`None`: the bundled voice).
    pub voice: Option<PathBuf>,
    /// The values of [`NUMBERS`], in its order.
    pub numbers: [f64; NUMBERS.len()],
    /// The local API's switch and token (its port is in `numbers`).
    pub api_enabled: bool,
    pub api_token: String,
    /// The preset's name (empty: none); checked by the filter, which looks it up.
    pub preset: String,
}

impl Default for FilterSettings {
    fn default() -> Self {
        Self {
            text: String::new(),
            voice: None,
            numbers: NUMBERS.map(|(_, _, _, default)| default),
            api_enabled: false,
            api_token: String::new(),
            preset: String::new(),
        }
    }
}

/// Why one setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A number out of its range (or not a number).
    #[error("`{key}` must be {min} to {max} (got {value})")]
    Range {
        /// The setting.
        key: &'static str,
        /// Its range.
        min: f64,
        max: f64,
        /// What was found, as written in the log.
        value: String,
    },
    /// The text is larger than a session may hold.
    #[error("the text is {0} bytes, more than the {MAX_TEXT_BYTES}-byte limit")]
    TextTooLarge(usize),
    /// The API token is invalid.
    #[error("`api_token`: {0}")]
    Token(orator::api::SettingsError),
    /// The preset cannot be used.
    #[error("`preset`: {0}")]
    Preset(String),
}

impl SettingsError {
    /// The setting refused.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Range { key, .. } => key,
            Self::TextTooLarge(_) => key::TEXT,
            Self::Token(_) => key::TOKEN,
            Self::Preset(_) => key::PRESET,
        }
    }
}

/// A refused number as the log shows it (1e308, not 309 digits).
fn shown(value: f64) -> String {
    if value.is_finite() && value.abs() < 1e9 {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

/// How settings are written back where OBS keeps them.
pub trait Write {
    /// Sets a string.
    fn set_string(&self, key: &str, value: &str);
    /// Sets a number.
    fn set_number(&self, key: &str, value: f64);
}

impl FilterSettings {
    /// Reads every setting; one that is out of range keeps its value in `current`, and is
    /// returned with the reason.
    pub fn read(from: &dyn Read, current: &Self) -> (Self, Vec<SettingsError>) {
        let mut problems = Vec::new();
        let mut numbers = current.numbers;
        for (slot, (key, min, max, _)) in numbers.iter_mut().zip(NUMBERS) {
            let value = from.number(key);
            if value.is_finite() && (min..=max).contains(&value) {
                *slot = value;
            } else {
                problems.push(SettingsError::Range {
                    key,
                    min,
                    max,
                    value: shown(value),
                });
            }
        }
        let mut text = from.string(key::TEXT);
        if text.len() > MAX_TEXT_BYTES {
            problems.push(SettingsError::TextTooLarge(text.len()));
            text.clone_from(&current.text);
        }
        let mut api_token = from.string(key::TOKEN).trim().to_owned();
        let probe = ApiSettings {
            token: api_token.clone(),
            ..ApiSettings::default()
        };
        if let Err(why) = probe.validate() {
            problems.push(SettingsError::Token(why));
            api_token.clone_from(&current.api_token);
        }
        let voice = Some(from.string(key::VOICE))
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from);
        let settings = Self {
            text,
            voice,
            numbers,
            api_enabled: from.flag(key::API),
            api_token,
            preset: from.string(key::PRESET).trim().to_owned(),
        };
        (settings, problems)
    }

    /// Writes the values of the refused settings back, so what OBS shows and saves is what
    /// the filter uses.
    pub fn write_back(&self, problems: &[SettingsError], to: &dyn Write) {
        for problem in problems {
            match problem.key() {
                key::TEXT => to.set_string(key::TEXT, &self.text),
                key::TOKEN => to.set_string(key::TOKEN, &self.api_token),
                key::PRESET => to.set_string(key::PRESET, &self.preset),
                number => {
                    if let Some(at) = NUMBERS.iter().position(|n| n.0 == number) {
                        to.set_number(number, self.numbers[at]);
                    }
                }
            }
        }
    }

    /// A number setting's value.
    pub fn number(&self, wanted: &str) -> f64 {
        NUMBERS
            .iter()
            .position(|n| n.0 == wanted)
            .map_or(0.0, |at| self.numbers[at])
    }

    /// `current` with this filter's API switch, port and token.
    pub fn api(&self, current: &ApiSettings) -> ApiSettings {
        ApiSettings {
            enabled: self.api_enabled,
            port: self.number(key::PORT) as u16,
            token: self.api_token.clone(),
            ..current.clone()
        }
    }

    /// Puts the text, voice, delivery and API settings into `session`, and the levels into
    /// `knobs`. Returns whether the voice changed.
    pub fn apply(&self, session: &SharedSession, knobs: &Knobs) -> bool {
        let voice_changed = session.update(|s| {
            let changed = s.voice != self.voice;
            s.text.clone_from(&self.text);
            s.voice.clone_from(&self.voice);
            s.delivery.rate = self.number(key::RATE) as f32;
            s.delivery.variation = self.number(key::VARIATION) as f32;
            s.api = self.api(&s.api);
            changed
        });
        knobs.set(self);
        voice_changed
    }
}

/// What the audio thread mixes with: the preset's path settings, and the levels over them (as
/// `f32` bits).
#[derive(Debug, Default)]
pub struct Knobs {
    /// The preset's signal path settings.
    pub path: PathKnobs,
    voice_db: AtomicU32,
    source_db: AtomicU32,
    duck_db: AtomicU32,
}

impl Knobs {
    fn set(&self, settings: &FilterSettings) {
        for (knob, name) in [
            (&self.voice_db, key::VOICE_DB),
            (&self.source_db, key::SOURCE_DB),
            (&self.duck_db, key::DUCK_DB),
        ] {
            knob.store((settings.number(name) as f32).to_bits(), Ordering::Relaxed);
        }
    }

    /// The signal path's settings now: `base` (the preset's) with the levels over it
    /// (wait-free: the audio thread calls it every tick).
    pub fn path_settings(&self, base: &PathSettings) -> PathSettings {
        let db = |knob: &AtomicU32| f32::from_bits(knob.load(Ordering::Relaxed));
        let mut settings = *base;
        settings.strips[strip::HOST].gain = db_to_gain(db(&self.source_db));
        settings.strips[strip::VOICE].gain = db_to_gain(db(&self.voice_db));
        settings.duck.depth_db = db(&self.duck_db);
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Settings as a scene collection may hold them.
    #[derive(Default)]
    struct Saved(HashMap<&'static str, String>);

    impl Read for Saved {
        fn string(&self, key: &str) -> String {
            self.0.get(key).cloned().unwrap_or_default()
        }
        fn number(&self, key: &str) -> f64 {
            match self.0.get(key) {
                Some(v) => v.parse().unwrap_or(f64::NAN),
                None => NUMBERS
                    .iter()
                    .find(|(k, ..)| *k == key)
                    .map_or(0.0, |n| n.3),
            }
        }
        fn flag(&self, key: &str) -> bool {
            self.0.get(key).is_some_and(|v| v == "true")
        }
    }

    impl Write for std::cell::RefCell<Saved> {
        fn set_string(&self, key: &str, value: &str) {
            let key = NAMES.iter().find(|k| **k == key).copied().unwrap_or("?");
            self.borrow_mut().0.insert(key, value.to_owned());
        }
        fn set_number(&self, key: &str, value: f64) {
            let key = NAMES.iter().find(|k| **k == key).copied().unwrap_or("?");
            self.borrow_mut().0.insert(key, value.to_string());
        }
    }

    const NAMES: [&str; 10] = [
        key::TEXT,
        key::VOICE,
        key::RATE,
        key::VARIATION,
        key::VOICE_DB,
        key::SOURCE_DB,
        key::DUCK_DB,
        key::API,
        key::PORT,
        key::TOKEN,
    ];

    #[test]
    fn settings_read_and_apply_to_the_session_and_the_knobs() {
        let mut saved = Saved::default();
        saved.0.insert(key::TEXT, "Thanks for the raid!".into());
        saved.0.insert(key::DUCK_DB, "-20".into());
        saved.0.insert(key::API, "true".into());
        let (settings, problems) = FilterSettings::read(&saved, &FilterSettings::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            (settings.number(key::RATE), settings.voice.clone()),
            (1.0, None)
        );
        let session = SharedSession::default();
        let knobs = Knobs::default();
        assert!(!settings.apply(&session, &knobs));
        let (text, enabled, port) = session.read(|s| (s.text.clone(), s.api.enabled, s.api.port));
        assert_eq!(
            (text.as_str(), enabled, port),
            ("Thanks for the raid!", true, orator::api::DEFAULT_PORT)
        );
        let path = knobs.path_settings(&PathSettings::default());
        assert_eq!(path.duck.depth_db, -20.0);
        assert_eq!(path.strips[strip::VOICE].gain, 1.0);
    }

    #[test]
    fn a_hostile_value_is_refused_kept_as_it_was_and_written_back() {
        let mut good = Saved::default();
        good.0.insert(key::TEXT, "Kept.".into());
        good.0.insert(key::RATE, "1.25".into());
        let (current, _) = FilterSettings::read(&good, &FilterSettings::default());
        for (name, value, part) in [
            (key::RATE, "NaN", "`rate`"),
            (key::RATE, "1e300", "`rate`"),
            (key::DUCK_DB, "6", "`duck_db`"),
            (key::PORT, "0", "`api_port`"),
            (key::PORT, "70000", "`api_port`"),
            (key::TOKEN, "a\u{7}b", "`api_token`"),
        ] {
            let mut hostile = Saved::default();
            hostile.0.insert(key::TEXT, "Kept.".into());
            hostile.0.insert(key::RATE, "1.25".into());
            hostile.0.insert(name, value.into());
            let (read, problems) = FilterSettings::read(&hostile, &current);
            let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
            assert!(
                said.len() == 1 && said[0].contains(part),
                "{name}={value}: {said:?}"
            );
            assert_eq!(read, current, "{name}={value}");
            let store = std::cell::RefCell::new(hostile);
            read.write_back(&problems, &store);
            let (again, problems) = FilterSettings::read(&*store.borrow(), &current);
            assert!(
                problems.is_empty() && again == current,
                "{name}: {problems:?}"
            );
        }
        let mut saved = Saved::default();
        saved.0.insert(key::TEXT, "x".repeat(MAX_TEXT_BYTES + 1));
        let (read, problems) = FilterSettings::read(&saved, &current);
        assert!(matches!(problems[..], [SettingsError::TextTooLarge(_)]));
        assert_eq!(read.text, "Kept.");
    }
}

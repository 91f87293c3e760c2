//! Presets: the sound of Orator (mix, ducking, voice chain) saved by name, without the text.
//!
//! # File format (version [`PRESET_FORMAT`])
//! A UTF-8 JSON object of at most [`MAX_PRESET_BYTES`]:
//!
//! ```json
//! {
//!   "orator_preset": 1,
//!   "name": "Radio voice",
//!   "description": "Narrow, forward and limited, like a broadcast voice.",
//!   "params": { "eq_lo": -6.0, "eq_mid": 3.0, "comp_ratio": 4.0, "duck_key": "voice" }
//! }
//! ```
//!
//! `params` maps parameter ids (the permanent ids hosts automate, listed in the README) to
//! plain values in the parameter's own unit: numbers for continuous parameters (dB, Hz, ms,
//! pan −1…1, ratio), `true`/`false` for switches, and an option's id for choices (`duck_key`:
//! `voice`, `sidechain` or `either`). A parameter a preset leaves out takes its default, so a
//! preset always gives the same sound. A preset never holds the text, the phrase list, the
//! voice, the speech switches (Speak, Stop, Skip, Pause, Trigger, Phrase) or the note mapping
//! (Base Note, Velocity Sensitive, Note Off).
//!
//! A file with a newer `orator_preset` is refused with a message to update Orator; an id this
//! build does not know is skipped and reported; a value out of its parameter's range, of the
//! wrong type, or a malformed file is refused whole, and nothing changes.
//!
//! Factory presets live in the repository's `presets/` folder and are compiled in; user presets
//! are files in `$XDG_DATA_HOME/orator/presets` (`~/.local/share/orator/presets`; on Windows
//! `%APPDATA%\orator\presets`).
//!
//! Main thread and editor only (and an OBS filter's UI thread, which takes a preset's sound
//! through [`Resolved`]'s [`Values`]).

use crate::params::{DuckKey, OratorParams, Values};
use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The format this build writes and reads.
pub const PRESET_FORMAT: u32 = 1;

/// The largest preset file read (a real one is under 2 KiB).
pub const MAX_PRESET_BYTES: usize = 64 << 10;

/// Longest preset name kept.
const MAX_NAME_CHARS: usize = 80;

/// The factory presets' files.
const FACTORY: [&str; 4] = [
    include_str!("../../presets/streamer-duck.json"),
    include_str!("../../presets/radio-voice.json"),
    include_str!("../../presets/podcast-clean.json"),
    include_str!("../../presets/lo-fi.json"),
];

/// A preset as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// The format version ([`PRESET_FORMAT`]).
    pub orator_preset: u32,
    /// What the editor lists.
    pub name: String,
    /// One line on what it is for.
    #[serde(default)]
    pub description: String,
    /// Parameter id → plain value.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// Why a preset was refused.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Larger than any preset.
    #[error("the preset is {0} bytes, more than the {MAX_PRESET_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a preset.
    #[error("not an Orator preset: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Written by a newer Orator.
    #[error(
        "the preset is format {found}; this Orator reads up to format {PRESET_FORMAT}: update \
         Orator to load it"
    )]
    NewerFormat {
        /// The format found.
        found: u32,
    },
    /// Format 0 does not exist.
    #[error("the preset has format 0, which no Orator writes")]
    UnknownFormat,
    /// A value that does not fit its parameter.
    #[error("the preset's value for `{id}` is invalid: {why}")]
    Value {
        /// The parameter id.
        id: String,
        /// What is wrong.
        why: String,
    },
    /// No name, or no user folder.
    #[error("{0}")]
    Unusable(String),
}

/// One parameter a preset sets, typed.
#[derive(Clone, Copy)]
pub enum Knob<'a> {
    /// A continuous parameter.
    Float(&'a FloatParam),
    /// A switch.
    Bool(&'a BoolParam),
    /// What the ducker listens to.
    DuckKey(&'a EnumParam<DuckKey>),
}

/// The parameters presets carry, by id.
pub fn knobs(p: &OratorParams) -> Vec<(&'static str, Knob<'_>)> {
    use Knob::{Bool, DuckKey, Float};
    vec![
        ("dry", Float(&p.dry_gain_db)),
        ("voice", Float(&p.voice_gain_db)),
        ("out", Float(&p.output_gain_db)),
        ("dry_pan", Float(&p.dry_pan)),
        ("voice_pan", Float(&p.voice_pan)),
        ("sc", Float(&p.sidechain_gain_db)),
        ("sc_pan", Float(&p.sidechain_pan)),
        ("dry_mute", Bool(&p.dry_mute)),
        ("voice_mute", Bool(&p.voice_mute)),
        ("sc_mute", Bool(&p.sidechain_mute)),
        ("dry_solo", Bool(&p.dry_solo)),
        ("voice_solo", Bool(&p.voice_solo)),
        ("sc_solo", Bool(&p.sidechain_solo)),
        ("duck", Float(&p.duck_depth_db)),
        ("duck_att", Float(&p.duck_attack_ms)),
        ("duck_rel", Float(&p.duck_release_ms)),
        ("duck_key", DuckKey(&p.duck_key)),
        ("eq_lo", Float(&p.eq_low_db)),
        ("eq_lo_f", Float(&p.eq_low_hz)),
        ("eq_mid", Float(&p.eq_mid_db)),
        ("eq_mid_f", Float(&p.eq_mid_hz)),
        ("eq_mid_q", Float(&p.eq_mid_q)),
        ("eq_hi", Float(&p.eq_high_db)),
        ("eq_hi_f", Float(&p.eq_high_hz)),
        ("deess", Float(&p.deess_db)),
        ("comp_thr", Float(&p.comp_threshold_db)),
        ("comp_ratio", Float(&p.comp_ratio)),
        ("comp_att", Float(&p.comp_attack_ms)),
        ("comp_rel", Float(&p.comp_release_ms)),
        ("comp_gain", Float(&p.comp_makeup_db)),
        ("limit", Float(&p.limit_db)),
    ]
}

/// A parameter and the normalised value a preset gives it.
pub struct Setting<'a> {
    /// The parameter.
    pub knob: Knob<'a>,
    /// Its new normalised value.
    pub normalized: f32,
}

/// A preset checked against this build's parameters, ready to apply.
pub struct Resolved<'a> {
    /// Every preset parameter's new value (defaults for those the file leaves out).
    pub settings: Vec<Setting<'a>>,
    /// Ids in the file this build does not know (skipped).
    pub skipped: Vec<String>,
}

/// A resolved preset's values, every parameter it does not carry at its default: the sound it
/// gives a host that has no parameters of its own (an OBS filter), through
/// [`OratorParams::path_settings_from`].
impl<'a> Resolved<'a> {
    /// The plain value the preset gives `param`, found by `of` among its settings (the
    /// parameter's default if it has none).
    fn plain<P: Param + 'a>(&self, param: &P, of: impl Fn(Knob<'a>) -> Option<&'a P>) -> P::Plain {
        self.settings
            .iter()
            .find_map(|s| {
                of(s.knob)
                    .filter(|p| std::ptr::eq(*p, param))
                    .map(|p| p.preview_plain(s.normalized))
            })
            .unwrap_or_else(|| param.default_plain_value())
    }
}

impl Values for Resolved<'_> {
    fn float(&self, param: &FloatParam) -> f32 {
        self.plain(param, |k| match k {
            Knob::Float(p) => Some(p),
            _ => None,
        })
    }

    fn flag(&self, param: &BoolParam) -> bool {
        self.plain(param, |k| match k {
            Knob::Bool(p) => Some(p),
            _ => None,
        })
    }

    fn duck_key(&self, param: &EnumParam<DuckKey>) -> DuckKey {
        self.plain(param, |k| match k {
            Knob::DuckKey(p) => Some(p),
            _ => None,
        })
    }
}

impl Preset {
    /// Reads a preset file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, PresetError> {
        if bytes.len() > MAX_PRESET_BYTES {
            return Err(PresetError::TooLarge(bytes.len()));
        }
        let preset: Self = serde_json::from_slice(bytes)?;
        match preset.orator_preset {
            0 => Err(PresetError::UnknownFormat),
            found if found > PRESET_FORMAT => Err(PresetError::NewerFormat { found }),
            _ if preset.name.trim().is_empty() => {
                Err(PresetError::Unusable("the preset has no name".into()))
            }
            _ => Ok(preset),
        }
    }

    /// Reads a preset file.
    pub fn load(path: &Path) -> Result<Self, PresetError> {
        let io = |source| PresetError::Io {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_PRESET_BYTES as u64 {
            return Err(PresetError::TooLarge(size as usize));
        }
        Self::parse(&std::fs::read(path).map_err(io)?)
    }

    /// The current sound of `params` as a preset named `name`. Values equal to the default are
    /// left out (they are what a missing value means).
    pub fn capture(params: &OratorParams, name: &str, description: &str) -> Self {
        let mut values = BTreeMap::new();
        for (id, knob) in knobs(params) {
            let value = match knob {
                Knob::Float(p)
                    if p.unmodulated_normalized_value() != p.default_normalized_value() =>
                {
                    // Six significant digits: what a control can set ("120", not the
                    // "119.99999" a skewed range reads back as).
                    let rounded = format!("{:.5e}", p.unmodulated_plain_value());
                    match rounded.parse::<f64>() {
                        Ok(v) => serde_json::json!(v),
                        Err(_) => continue,
                    }
                }
                Knob::Bool(p) if p.value() != p.default_plain_value() => {
                    serde_json::json!(p.value())
                }
                Knob::DuckKey(p) if p.value() != p.default_plain_value() => {
                    let ids = DuckKey::ids().unwrap_or(&[]);
                    match ids.get(p.value().to_index()) {
                        Some(id) => serde_json::json!(id),
                        None => continue,
                    }
                }
                _ => continue,
            };
            values.insert(id.to_owned(), value);
        }
        Self {
            orator_preset: PRESET_FORMAT,
            name: name.trim().chars().take(MAX_NAME_CHARS).collect(),
            description: description.trim().to_owned(),
            params: values,
        }
    }

    /// Checks every value against `params` and returns what to set. Refuses the whole preset if
    /// any value is invalid.
    pub fn resolve<'a>(&self, params: &'a OratorParams) -> Result<Resolved<'a>, PresetError> {
        let knobs = knobs(params);
        let skipped = self
            .params
            .keys()
            .filter(|id| !knobs.iter().any(|(known, _)| known == id))
            .cloned()
            .collect();
        let mut settings = Vec::with_capacity(knobs.len());
        for (id, knob) in knobs {
            let invalid = |why: &str| PresetError::Value {
                id: id.to_owned(),
                why: why.to_owned(),
            };
            let value = self.params.get(id);
            let normalized = match (knob, value) {
                (Knob::Float(p), None) => p.default_normalized_value(),
                (Knob::Bool(p), None) => p.default_normalized_value(),
                (Knob::DuckKey(p), None) => p.default_normalized_value(),
                (Knob::Float(p), Some(v)) => {
                    let v = v
                        .as_f64()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| invalid("not a number"))? as f32;
                    let normalized = p.preview_normalized(v);
                    let back = p.preview_plain(normalized);
                    if (back - v).abs() > 1e-3 * v.abs().max(1.0) {
                        return Err(invalid(&format!(
                            "{v} is outside its range (the nearest is {back})"
                        )));
                    }
                    normalized
                }
                (Knob::Bool(p), Some(v)) => {
                    p.preview_normalized(v.as_bool().ok_or_else(|| invalid("not true or false"))?)
                }
                (Knob::DuckKey(p), Some(v)) => {
                    let name = v.as_str().ok_or_else(|| invalid("not an option's id"))?;
                    let ids = DuckKey::ids().unwrap_or(&[]);
                    let index = ids
                        .iter()
                        .position(|id| *id == name)
                        .ok_or_else(|| invalid(&format!("`{name}` is not one of {ids:?}")))?;
                    p.preview_normalized(DuckKey::from_index(index))
                }
            };
            settings.push(Setting { knob, normalized });
        }
        Ok(Resolved { settings, skipped })
    }

    /// The file contents.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// The factory presets, in the order the editor lists them.
pub fn factory() -> Vec<Preset> {
    FACTORY
        .iter()
        .filter_map(|text| Preset::parse(text.as_bytes()).ok())
        .collect()
}

/// The user presets' folder: `presets` in the user's data folder
/// ([`crate::platform::user_data_dir`]).
pub fn user_dir() -> Option<PathBuf> {
    crate::platform::user_data_dir().map(|data| data.join("presets"))
}

/// The presets in a folder.
#[derive(Debug, Default)]
pub struct UserPresets {
    /// The presets, by file name.
    pub presets: Vec<(PathBuf, Preset)>,
    /// The files that could not be read, and why.
    pub unreadable: Vec<(PathBuf, PresetError)>,
}

/// The user presets in `dir` (none if it does not exist).
pub fn user_presets(dir: &Path) -> UserPresets {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return UserPresets::default();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        match Preset::load(&path) {
            Ok(preset) => good.push((path, preset)),
            Err(err) => bad.push((path, err)),
        }
    }
    UserPresets {
        presets: good,
        unreadable: bad,
    }
}

/// A file name for a preset name: letters, digits, `-` and `_` kept, the rest `-`.
fn file_name(name: &str) -> String {
    let stem: String = name
        .trim()
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{}.json", stem.trim_matches('-'))
}

/// Saves `preset` in `dir` (made if missing) under a file named after it, replacing a preset
/// of the same name. Written to a temporary file and renamed, so a crash never leaves half a
/// preset. Returns the file.
pub fn save(dir: &Path, preset: &Preset) -> Result<PathBuf, PresetError> {
    let name = file_name(&preset.name);
    if name == ".json" {
        return Err(PresetError::Unusable(
            "give the preset a name with a letter or digit in it".into(),
        ));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PresetError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(name);
    let temporary = path.with_extension("json.partial");
    std::fs::write(&temporary, preset.to_json()).map_err(io(&temporary))?;
    std::fs::rename(&temporary, &path).map_err(io(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets `params` as a host would (no GUI context in unit tests).
    fn apply(resolved: &Resolved) {
        for setting in &resolved.settings {
            match setting.knob {
                Knob::Float(p) => p.set_normalized_for_test(setting.normalized),
                Knob::Bool(p) => p.set_normalized_for_test(setting.normalized),
                Knob::DuckKey(p) => p.set_normalized_for_test(setting.normalized),
            }
        }
    }

    trait SetForTest {
        fn set_normalized_for_test(&self, normalized: f32);
    }

    impl<P: Param> SetForTest for P {
        fn set_normalized_for_test(&self, normalized: f32) {
            let ptr = self.as_ptr();
            // SAFETY: `ptr` points at `self`, which outlives this call; nothing else touches
            // the parameter in a unit test.
            unsafe {
                ptr._internal_set_normalized_value(normalized);
            }
        }
    }

    #[test]
    fn every_preset_parameter_is_a_real_one_and_the_switches_are_not_in_presets() {
        let params = OratorParams::default();
        let ids: Vec<String> = params.param_map().into_iter().map(|(id, ..)| id).collect();
        let knobs: Vec<&str> = knobs(&params).into_iter().map(|(id, _)| id).collect();
        for id in &knobs {
            assert!(ids.iter().any(|known| known == id), "{id} is no parameter");
        }
        let left_out: Vec<&String> = ids
            .iter()
            .filter(|id| !knobs.contains(&id.as_str()))
            .collect();
        assert_eq!(
            left_out,
            [
                "speak",
                "stop",
                "skip",
                "pause",
                "phrase",
                "trigger",
                "base_note",
                "velocity",
                "note_off"
            ]
        );
    }

    #[test]
    fn the_factory_presets_parse_and_resolve() {
        let params = OratorParams::default();
        let names: Vec<String> = factory().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            ["Streamer duck", "Radio voice", "Podcast clean", "Lo-fi"]
        );
        for text in FACTORY {
            let preset = Preset::parse(text.as_bytes()).unwrap();
            let resolved = preset.resolve(&params).unwrap();
            assert!(resolved.skipped.is_empty(), "{}", preset.name);
            assert!(!preset.params.is_empty() && !preset.description.is_empty());
        }
    }

    #[test]
    fn a_preset_round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("orator-presets-{}", std::process::id()));
        let params = OratorParams::default();
        let radio = Preset::parse(FACTORY[1].as_bytes()).unwrap();
        apply(&radio.resolve(&params).unwrap());
        assert_ne!(
            params.eq_low_db.value(),
            0.0,
            "the preset changed something"
        );
        let saved = Preset::capture(&params, "My radio / take 2", "mine");
        let path = save(&dir, &saved).unwrap();
        assert_eq!(path.file_name().unwrap(), "my-radio---take-2.json");
        let fresh = OratorParams::default();
        fresh.session.set_text("Line one.\nLine two.".into());
        let loaded = Preset::load(&path).unwrap();
        assert_eq!(
            (&loaded.name, loaded.params.keys().collect::<Vec<_>>()),
            (&saved.name, saved.params.keys().collect::<Vec<_>>())
        );
        assert_eq!(
            saved.params.get("comp_rel"),
            Some(&serde_json::json!(120.0)),
            "short decimals, not float noise: {:?}",
            saved.params
        );
        apply(&loaded.resolve(&fresh).unwrap());
        assert_eq!(
            fresh.session.snapshot().text,
            "Line one.\nLine two.",
            "the text and its phrases stay"
        );
        for ((id, a), (_, b)) in knobs(&params).into_iter().zip(knobs(&fresh)) {
            let value = |k: Knob| match k {
                Knob::Float(p) => p.unmodulated_normalized_value(),
                Knob::Bool(p) => p.unmodulated_normalized_value(),
                Knob::DuckKey(p) => p.unmodulated_normalized_value(),
            };
            assert_eq!(value(a), value(b), "{id}");
        }
        let listed = user_presets(&dir);
        assert_eq!((listed.presets.len(), listed.unreadable.len()), (1, 0));
        std::fs::write(dir.join("broken.json"), "{ not json").unwrap();
        let listed = user_presets(&dir);
        assert_eq!(
            listed.unreadable.len(),
            1,
            "a broken file is listed with its error"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_presets_are_refused_whole_with_the_reason() {
        let params = OratorParams::default();
        let bad = |json: &str| match Preset::parse(json.as_bytes()) {
            Ok(preset) => preset.resolve(&params).err().map(|e| e.to_string()),
            Err(err) => Some(err.to_string()),
        };
        let cases = [
            (
                r#"{"orator_preset":2,"name":"x","params":{}}"#,
                "update Orator",
            ),
            (r#"{"orator_preset":0,"name":"x","params":{}}"#, "format 0"),
            (r#"{"orator_preset":1,"name":" ","params":{}}"#, "no name"),
            (
                r#"{"orator_preset":1,"name":"x","params":{},"extra":1}"#,
                "not an Orator preset",
            ),
            (
                r#"{"orator_preset":1,"name":"x","params":{"duck":-90}}"#,
                "outside its range",
            ),
            (
                r#"{"orator_preset":1,"name":"x","params":{"duck":"deep"}}"#,
                "not a number",
            ),
            (
                r#"{"orator_preset":1,"name":"x","params":{"dry_mute":1}}"#,
                "not true or false",
            ),
            (
                r#"{"orator_preset":1,"name":"x","params":{"duck_key":"mic"}}"#,
                "not one of",
            ),
            ("[1,2,3]", "not an Orator preset"),
        ];
        for (json, why) in cases {
            let err = bad(json).unwrap_or_else(|| panic!("accepted {json}"));
            assert!(err.contains(why), "{json}: {err}");
        }
        let huge = format!(
            r#"{{"orator_preset":1,"name":"x","params":{{}},"description":"{}"}}"#,
            "a".repeat(MAX_PRESET_BYTES)
        );
        assert!(matches!(
            Preset::parse(huge.as_bytes()),
            Err(PresetError::TooLarge(_))
        ));
        // A newer build's parameter is skipped and reported; the rest applies.
        let preset =
            Preset::parse(br#"{"orator_preset":1,"name":"x","params":{"warp":1,"duck":-20}}"#)
                .unwrap();
        let resolved = preset.resolve(&params).unwrap();
        assert_eq!(resolved.skipped, ["warp"]);
    }
}

//! A filter's preset: the plugin's presets (the factory's, and the user's own folder, shared
//! with the plugin's editor) give the filter its voice chain (EQ, de-esser, compressor,
//! limiter), mix and ducking. Three of a preset's values are also the filter's own sliders
//! (voice level, source level, ducking depth): choosing a preset sets the sliders, which then
//! adjust on top of it. An OBS filter has no sidechain input, so a preset keyed by the
//! sidechain ducks under the voice instead.
//!
//! Thread model: OBS's UI thread (reads the user's preset folder); the chosen sound reaches the
//! audio thread through the filter's queue.

use orator::dsp::path::{DuckKey, PathSettings};
use orator::params::OratorParams;
use orator::presets::{self, Preset, PresetError};

/// Why a preset could not be chosen.
#[derive(Debug, thiserror::Error)]
pub enum PresetChoiceError {
    /// No preset has the name.
    #[error("no preset named `{0}` (the factory's, or a file in the user's preset folder)")]
    NotFound(String),
    /// The preset's values do not fit this build's parameters.
    #[error("preset `{name}` cannot be used: {source}")]
    Invalid {
        name: String,
        #[source]
        source: PresetError,
    },
}

/// The levels a preset sets on the filter's sliders, dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    pub voice_db: f64,
    pub source_db: f64,
    pub duck_db: f64,
}

/// What a preset gives the filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sound {
    /// The signal path's settings (the sliders' levels are applied over them).
    pub path: PathSettings,
    /// The sliders' values; `None` for no preset (the sliders stay as they are).
    pub levels: Option<Levels>,
}

/// Every preset a filter can choose: the user's, then the factory's whose names the user's do
/// not take (a user preset of a factory preset's name replaces it).
fn available() -> Vec<Preset> {
    let mut all: Vec<Preset> = presets::user_dir()
        .map(|dir| presets::user_presets(&dir).presets)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, preset)| preset)
        .collect();
    for preset in presets::factory() {
        if !all.iter().any(|p| p.name == preset.name) {
            all.push(preset);
        }
    }
    all
}

/// The names of every preset, sorted as a list shows them.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = available().into_iter().map(|p| p.name).collect();
    names.sort_by_key(|n| n.to_lowercase());
    names
}

/// The sound of the preset named `name` (empty: no preset, the filter's own defaults).
pub fn choose(name: &str) -> Result<Sound, PresetChoiceError> {
    if name.is_empty() {
        return Ok(Sound {
            path: PathSettings::default(),
            levels: None,
        });
    }
    let preset = available()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| PresetChoiceError::NotFound(name.to_owned()))?;
    let params = OratorParams::default();
    let resolved = preset
        .resolve(&params)
        .map_err(|source| PresetChoiceError::Invalid {
            name: name.to_owned(),
            source,
        })?;
    let mut path = params.path_settings_from(&resolved);
    if path.duck.key == DuckKey::Sidechain {
        path.duck.key = DuckKey::Voice;
    }
    let db = |gain: f32| f64::from(orator::dsp::gain::gain_to_db(gain));
    let levels = Levels {
        voice_db: db(path.strips[orator::dsp::path::strip::VOICE].gain),
        source_db: db(path.strips[orator::dsp::path::strip::HOST].gain),
        duck_db: f64::from(path.duck.depth_db),
    };
    Ok(Sound {
        path,
        levels: Some(levels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_factory_preset_gives_its_chain_and_levels_and_no_sidechain() {
        let sound = choose("Streamer duck").expect("a factory preset");
        let levels = sound.levels.expect("a preset sets the sliders");
        assert!((levels.voice_db - 2.0).abs() < 1e-3, "{levels:?}");
        assert!(levels.source_db.abs() < 1e-3, "{levels:?}");
        assert!((levels.duck_db + 18.0).abs() < 1e-3, "{levels:?}");
        assert_eq!(sound.path.duck.key, DuckKey::Either);
        assert!((sound.path.voice_chain.deess_db - 4.0).abs() < 1e-3);
        assert!((sound.path.voice_chain.compressor.ratio - 3.0).abs() < 1e-3);
        assert!(names().iter().any(|n| n == "Streamer duck"));
    }

    #[test]
    fn no_preset_keeps_the_sliders_and_an_unknown_name_is_an_error() {
        assert_eq!(choose("").expect("none").levels, None);
        assert!(matches!(
            choose("No such preset"),
            Err(PresetChoiceError::NotFound(_))
        ));
    }
}

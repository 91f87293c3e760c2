//! How one queued phrase is voiced when it is not spoken with the instance's own voice and
//! delivery: a voice file, a speaker, a pace, a variation and a level (what a voice alias of
//! the local API names). The speech thread applies it to that phrase only.
//!
//! Also [`configured`]: the engine and settings any phrase is spoken with (its voice's
//! loudness calibrated, [`super::calibration`]).
//!
//! Thread model: made on any thread, sent to the speech thread with the phrase; plain data.

use crate::state::Session;
use crate::tts::engine::Engine;
use crate::tts::text::lexicon::Lexicon;
use crate::tts::voice::config::{Delivery, SynthesisSettings, VoiceConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// The quietest and loudest level a voicing may ask for, dB (the synthesis gain tops out at
/// four times the voice's own, +12 dB).
pub const LEVEL_DB: std::ops::RangeInclusive<f32> = -24.0..=12.0;

/// The most synthesis gain a phrase may have: four times the voice's own.
const MAX_VOLUME: f32 = 4.0;

/// One phrase's voice and delivery (saved as a voice alias's settings).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Voicing {
    /// The voice model (`None`: the instance's voice).
    #[serde(rename = "voice")]
    pub model: Option<PathBuf>,
    /// The speaker of a multi-speaker voice, by name or by number (`None`: the voice's
    /// default).
    pub speaker: Option<String>,
    /// Speaking rate: 1 is the voice's own pace (0.25 to 4).
    pub rate: f32,
    /// Variation of timbre and timing: 1 is the voice's own (0 to 2).
    pub variation: f32,
    /// Level against the voice's own, dB.
    pub level_db: f32,
}

impl Default for Voicing {
    fn default() -> Self {
        Self {
            model: None,
            speaker: None,
            rate: 1.0,
            variation: 1.0,
            level_db: 0.0,
        }
    }
}

impl Voicing {
    /// The speaker id `speaker` names in `config`: a speaker's name, else a number in range.
    /// `None` when it names none (the voice's default speaks).
    pub fn speaker_id(&self, config: &VoiceConfig) -> Option<i64> {
        let wanted = self.speaker.as_deref()?.trim();
        if let Some(&id) = config.speakers.get(wanted) {
            return Some(id);
        }
        if let Some((_, &id)) = config
            .speakers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
        {
            return Some(id);
        }
        wanted
            .parse::<i64>()
            .ok()
            .filter(|id| (0..i64::from(config.num_speakers)).contains(id))
    }

    /// The synthesis settings for a phrase voiced so by a voice with `config`: the session's
    /// phrasing (`session`'s whole-sentence choice), this pace, variation, speaker and level.
    pub fn settings(&self, config: &VoiceConfig, session: Delivery) -> SynthesisSettings {
        let delivery = Delivery {
            rate: self.rate,
            variation: self.variation,
            speaker: self.speaker_id(config),
            ..session
        };
        let mut settings = delivery.apply(config.defaults, config.num_speakers);
        let db = if self.level_db.is_finite() {
            self.level_db.clamp(*LEVEL_DB.start(), *LEVEL_DB.end())
        } else {
            0.0
        };
        settings.volume *= 10f32.powf(db / 20.0);
        settings.sanitized()
    }
}

/// The engine and settings a phrase is spoken with under `session`'s dictionary and delivery,
/// or `voicing`'s delivery.
pub(super) fn configured(
    engine: &Engine,
    session: &Session,
    voicing: Option<&Voicing>,
) -> (Engine, SynthesisSettings) {
    let delivery = session.delivery;
    let mut engine = match Lexicon::new(&session.dictionary) {
        Ok(lexicon) => engine.clone().with_lexicon(Arc::new(lexicon)),
        Err(_) => engine.clone(),
    };
    if delivery.whole_sentences {
        engine = engine.whole_sentences();
    }
    let mut settings = match voicing {
        Some(voicing) => voicing.settings(&engine.voice.config, delivery),
        None => delivery.apply(
            engine.voice.config.defaults,
            engine.voice.config.num_speakers,
        ),
    };
    // Every voice at the default voice's loudness (the level asked for on top).
    let gain = super::calibration::gain(&engine, settings.speaker);
    settings.volume = (settings.volume * gain).min(MAX_VOLUME);
    (engine, settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(speakers: &[(&str, i64)]) -> VoiceConfig {
        let map: serde_json::Map<String, serde_json::Value> = speakers
            .iter()
            .map(|(n, id)| ((*n).to_owned(), (*id).into()))
            .collect();
        let json = serde_json::json!({
            "audio": {"sample_rate": 22050},
            "espeak": {"voice": "en-us"},
            "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
            "num_speakers": speakers.len().max(1),
            "speaker_id_map": map,
            "phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [3]},
        });
        VoiceConfig::parse(json.to_string().as_bytes(), Path::new("test.onnx.json"))
            .expect("a valid config")
    }

    #[test]
    fn speakers_are_found_by_name_or_number_and_nothing_else() {
        let multi = config(&[("alice", 0), ("Bob", 1), ("carol", 2)]);
        let by = |s: &str| {
            Voicing {
                speaker: Some(s.into()),
                ..Voicing::default()
            }
            .speaker_id(&multi)
        };
        assert_eq!(by("Bob"), Some(1));
        assert_eq!(by("bob"), Some(1));
        assert_eq!(by("2"), Some(2));
        assert_eq!(by("3"), None, "out of range");
        assert_eq!(by("dave"), None);
        assert_eq!(Voicing::default().speaker_id(&multi), None);
    }

    #[test]
    fn pace_variation_and_level_shape_the_settings() {
        let multi = config(&[("alice", 0), ("bob", 1)]);
        let voicing = Voicing {
            speaker: Some("bob".into()),
            rate: 2.0,
            variation: 0.0,
            level_db: -6.0,
            ..Voicing::default()
        };
        let s = voicing.settings(&multi, Delivery::default());
        assert_eq!(s.speaker, Some(1));
        assert!((s.length_scale - 0.5).abs() < 1e-6);
        assert_eq!((s.noise_scale, s.noise_w), (0.0, 0.0));
        assert!((s.volume - 0.501).abs() < 1e-3, "{}", s.volume);
        let loud = Voicing {
            level_db: f32::INFINITY,
            ..Voicing::default()
        };
        assert!((loud.settings(&multi, Delivery::default()).volume - 1.0).abs() < 1e-6);
        let loudest = Voicing {
            level_db: 40.0,
            ..Voicing::default()
        };
        let v = loudest.settings(&multi, Delivery::default()).volume;
        assert!((v - 3.981).abs() < 1e-2, "capped at +12 dB: {v}");
    }
}

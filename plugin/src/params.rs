//! Host-visible parameters and the persisted session.
//!
//! Parameter ids are short and permanent: hosts store automation and presets by them, so an id is
//! never renamed or reused. Ranges are in decibels because that is how people read faders; the
//! bottom of each gain range means silence and shows as `-inf`.

use crate::dsp::gain::SILENCE_DB;
use crate::state::SharedSession;
use nice_plug::prelude::*;
use std::sync::Arc;

/// The loudest any gain goes, in dB: enough to lift a quiet voice, not enough to hurt.
pub const MAX_GAIN_DB: f32 = 12.0;

/// What makes the host signal duck.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuckKey {
    /// Orator's own voice.
    #[id = "voice"]
    Voice,
    /// The sidechain input (a microphone bus, say).
    #[id = "sidechain"]
    Sidechain,
    /// Whichever of the two is active.
    #[id = "either"]
    #[name = "Voice or sidechain"]
    Either,
}

/// All of Orator's parameters. Written by the host (automation) and the editor through the
/// framework's atomic parameter storage; read by the audio thread once per block.
#[derive(Params)]
pub struct OratorParams {
    /// What the user typed plus the session schema; saved with the project.
    #[persist = "session"]
    pub session: Arc<SharedSession>,

    /// Level of the host's own signal passing through, in dB.
    #[id = "dry"]
    pub dry_gain_db: FloatParam,

    /// Level of the speech mixed in, in dB.
    #[id = "voice"]
    pub voice_gain_db: FloatParam,

    /// Level of the final mix, in dB.
    #[id = "out"]
    pub output_gain_db: FloatParam,

    /// How far the host signal is lowered while the key is active, in dB (0: no ducking).
    #[id = "duck"]
    pub duck_depth_db: FloatParam,

    /// How fast the host signal goes down when the key starts, in ms.
    #[id = "duck_att"]
    pub duck_attack_ms: FloatParam,

    /// How fast it comes back after the key ends (after a 250 ms hold), in ms.
    #[id = "duck_rel"]
    pub duck_release_ms: FloatParam,

    /// What makes the host signal duck.
    #[id = "duck_key"]
    pub duck_key: EnumParam<DuckKey>,

    /// Speaks the session's text when it turns on (automate it, map it to a button or a MIDI
    /// controller; it acts on the rising edge only).
    #[id = "speak"]
    pub speak: BoolParam,

    /// Stops speaking when it turns on: the voice fades out within the block (5 ms) and
    /// everything queued is dropped. Acts on the rising edge only.
    #[id = "stop"]
    pub stop: BoolParam,
}

impl Default for OratorParams {
    fn default() -> Self {
        Self {
            session: Arc::default(),
            dry_gain_db: gain_param("Dry Gain"),
            voice_gain_db: gain_param("Voice Gain"),
            output_gain_db: gain_param("Output Gain"),
            duck_depth_db: FloatParam::new(
                "Duck Depth",
                -12.0,
                FloatRange::Linear {
                    min: -40.0,
                    max: 0.0,
                },
            )
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            duck_attack_ms: FloatParam::new(
                "Duck Attack",
                10.0,
                FloatRange::Skewed {
                    min: 1.0,
                    max: 500.0,
                    factor: FloatRange::skew_factor(-2.0),
                },
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            duck_release_ms: FloatParam::new(
                "Duck Release",
                400.0,
                FloatRange::Skewed {
                    min: 20.0,
                    max: 3000.0,
                    factor: FloatRange::skew_factor(-2.0),
                },
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(0)),
            duck_key: EnumParam::new("Duck Key", DuckKey::Voice),
            speak: BoolParam::new("Speak", false),
            stop: BoolParam::new("Stop", false),
        }
    }
}

/// A gain fader from silence to +12 dB, at 0 dB by default. Smoothing happens in the mixer's own
/// ramps (see `dsp::gain`), so the parameter itself is unsmoothed.
fn gain_param(name: &str) -> FloatParam {
    FloatParam::new(
        name,
        0.0,
        FloatRange::Linear {
            min: SILENCE_DB,
            max: MAX_GAIN_DB,
        },
    )
    .with_unit(" dB")
    .with_value_to_string(Arc::new(|db| {
        if db <= SILENCE_DB {
            String::from("-inf")
        } else {
            format!("{db:.2}")
        }
    }))
    .with_string_to_value(Arc::new(|text| {
        let text = text.trim().trim_end_matches("dB").trim();
        if text.eq_ignore_ascii_case("-inf") || text.eq_ignore_ascii_case("inf") {
            Some(SILENCE_DB)
        } else {
            text.parse::<f32>().ok().filter(|db| db.is_finite())
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_text_round_trips_including_silence() {
        let params = OratorParams::default();
        let p = &params.dry_gain_db;
        assert_eq!(p.normalized_value_to_string(0.0, false), "-inf");
        let n = p.string_to_normalized_value("-6 dB").unwrap();
        assert!((p.preview_plain(n) + 6.0).abs() < 1e-4);
        assert_eq!(p.string_to_normalized_value("-inf"), Some(0.0));
        assert_eq!(p.string_to_normalized_value("loud"), None);
    }
}

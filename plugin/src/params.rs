//! Host-visible parameters and the persisted session.
//!
//! Parameter ids are short and permanent: hosts store automation and presets by them, so an id is
//! never renamed or reused. Ranges are in decibels because that is how people read faders; the
//! bottom of each gain range means silence and shows as `-inf`.

use crate::dsp::compressor::CompressorSettings;
use crate::dsp::eq::EqSettings;
use crate::dsp::gain::{SILENCE_DB, db_to_gain};
use crate::dsp::mix::StripSettings;
use crate::dsp::path::{self, DuckSettings, PathSettings, strip};
use crate::dsp::voice_chain::VoiceChainSettings;
use crate::playback::bank::MAX_PHRASES;
use crate::playback::bank::placements::Placements;
use crate::state::SharedSession;
use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

/// What a note-off does to the phrase its note started.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteOff {
    /// The phrase plays to its end (a one-shot, as most samplers play speech).
    #[id = "finish"]
    #[name = "Let it finish"]
    Finish,
    /// The phrase stops with the short fade.
    #[id = "stop"]
    #[name = "Stop the phrase"]
    Stop,
}

/// All of Orator's parameters. Written by the host (automation) and the editor through the
/// framework's atomic parameter storage; read by the audio thread once per block.
#[derive(Params)]
pub struct OratorParams {
    /// What the user typed plus the session schema; saved with the project.
    #[persist = "session"]
    pub session: Arc<SharedSession>,

    /// Where the timeline placed its phrases in the project, for its subtitles; saved with
    /// the project so an export made earlier still has them.
    #[persist = "placements"]
    pub placements: Arc<Placements>,

    /// Level of the host's own signal passing through, in dB.
    #[id = "dry"]
    pub dry_gain_db: FloatParam,

    /// Level of the speech mixed in, in dB.
    #[id = "voice"]
    pub voice_gain_db: FloatParam,

    /// Level of the final mix, in dB.
    #[id = "out"]
    pub output_gain_db: FloatParam,

    /// Pan (balance) of the host's signal: −1 left, 0 centre, +1 right.
    #[id = "dry_pan"]
    pub dry_pan: FloatParam,
    /// Pan of the voice (constant power, unity at the centre).
    #[id = "voice_pan"]
    pub voice_pan: FloatParam,
    /// Level of the sidechain input routed to the output, in dB. Off (-inf) by default: the
    /// sidechain is usually only a ducking key.
    #[id = "sc"]
    pub sidechain_gain_db: FloatParam,
    /// Pan (balance) of the routed sidechain.
    #[id = "sc_pan"]
    pub sidechain_pan: FloatParam,
    /// Mutes and solos of the three strips (host, voice, sidechain). While any strip is
    /// soloed, only soloed strips are heard.
    #[id = "dry_mute"]
    pub dry_mute: BoolParam,
    #[id = "voice_mute"]
    pub voice_mute: BoolParam,
    #[id = "sc_mute"]
    pub sidechain_mute: BoolParam,
    #[id = "dry_solo"]
    pub dry_solo: BoolParam,
    #[id = "voice_solo"]
    pub voice_solo: BoolParam,
    #[id = "sc_solo"]
    pub sidechain_solo: BoolParam,

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

    /// Voice EQ: low shelf gain (dB) and corner (Hz).
    #[id = "eq_lo"]
    pub eq_low_db: FloatParam,
    #[id = "eq_lo_f"]
    pub eq_low_hz: FloatParam,
    /// Voice EQ: peak gain (dB), centre (Hz) and Q.
    #[id = "eq_mid"]
    pub eq_mid_db: FloatParam,
    #[id = "eq_mid_f"]
    pub eq_mid_hz: FloatParam,
    #[id = "eq_mid_q"]
    pub eq_mid_q: FloatParam,
    /// Voice EQ: high shelf gain (dB) and corner (Hz).
    #[id = "eq_hi"]
    pub eq_high_db: FloatParam,
    #[id = "eq_hi_f"]
    pub eq_high_hz: FloatParam,

    /// De-esser depth, dB (0 = off).
    #[id = "deess"]
    pub deess_db: FloatParam,

    /// Voice compressor: threshold (dBFS), ratio (1 = off), attack and release (ms), makeup (dB).
    #[id = "comp_thr"]
    pub comp_threshold_db: FloatParam,
    #[id = "comp_ratio"]
    pub comp_ratio: FloatParam,
    #[id = "comp_att"]
    pub comp_attack_ms: FloatParam,
    #[id = "comp_rel"]
    pub comp_release_ms: FloatParam,
    #[id = "comp_gain"]
    pub comp_makeup_db: FloatParam,

    /// Voice limiter ceiling, dBFS.
    #[id = "limit"]
    pub limit_db: FloatParam,

    /// Speaks the session's text when it turns on (automate it, map it to a button or a MIDI
    /// controller; it acts on the rising edge only).
    #[id = "speak"]
    pub speak: BoolParam,

    /// Stops speaking when it turns on: the voice fades out within the block (5 ms) and
    /// everything queued is dropped. Acts on the rising edge only.
    #[id = "stop"]
    pub stop: BoolParam,

    /// Skips the phrase being spoken; the next queued phrase starts at once. Rising edge.
    #[id = "skip"]
    pub skip: BoolParam,

    /// Holds speech where it is (5 ms fade) while on; synthesis continues ahead. Resumes
    /// where it stopped when turned off.
    #[id = "pause"]
    pub pause: BoolParam,

    /// The phrase (a non-empty line of the text, counted from 1) that Trigger speaks.
    #[id = "phrase"]
    pub phrase: IntParam,

    /// Speaks the selected phrase from the phrase bank when it turns on, at the sample the host
    /// puts the change (rising edge only): automation's stand-in for a MIDI note.
    #[id = "trigger"]
    pub trigger: BoolParam,

    /// The note that speaks phrase 1; the notes above it speak phrases 2, 3, …. Named with
    /// middle C (note 60) as C3.
    #[id = "base_note"]
    pub base_note: IntParam,

    /// Whether a note's velocity scales its phrase's level (velocity 127 is full level).
    #[id = "velocity"]
    pub velocity: BoolParam,

    /// What a note-off does to its phrase.
    #[id = "note_off"]
    pub note_off: EnumParam<NoteOff>,
}

impl Default for OratorParams {
    fn default() -> Self {
        Self {
            session: Arc::default(),
            placements: Arc::default(),
            dry_gain_db: gain_param("Dry Gain", 0.0),
            voice_gain_db: gain_param("Voice Gain", 0.0),
            output_gain_db: gain_param("Output Gain", 0.0),
            dry_pan: pan_param("Dry Pan"),
            voice_pan: pan_param("Voice Pan"),
            sidechain_gain_db: gain_param("Sidechain Gain", SILENCE_DB),
            sidechain_pan: pan_param("Sidechain Pan"),
            dry_mute: BoolParam::new("Dry Mute", false),
            voice_mute: BoolParam::new("Voice Mute", false),
            sidechain_mute: BoolParam::new("Sidechain Mute", false),
            dry_solo: BoolParam::new("Dry Solo", false),
            voice_solo: BoolParam::new("Voice Solo", false),
            sidechain_solo: BoolParam::new("Sidechain Solo", false),
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
            eq_low_db: db_param("EQ Low", 0.0, -15.0, 15.0),
            eq_low_hz: hz_param("EQ Low Freq", 200.0, 40.0, 1000.0),
            eq_mid_db: db_param("EQ Mid", 0.0, -15.0, 15.0),
            eq_mid_hz: hz_param("EQ Mid Freq", 1500.0, 200.0, 8000.0),
            eq_mid_q: FloatParam::new(
                "EQ Mid Q",
                1.0,
                FloatRange::Skewed {
                    min: 0.3,
                    max: 6.0,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            eq_high_db: db_param("EQ High", 0.0, -15.0, 15.0),
            eq_high_hz: hz_param("EQ High Freq", 6000.0, 2000.0, 16000.0),
            deess_db: db_param("De-esser", 0.0, 0.0, 12.0),
            comp_threshold_db: db_param("Comp Threshold", -18.0, -60.0, 0.0),
            comp_ratio: FloatParam::new(
                "Comp Ratio",
                1.0,
                FloatRange::Skewed {
                    min: 1.0,
                    max: 20.0,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_unit(":1")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            comp_attack_ms: ms_param("Comp Attack", 10.0, 0.5, 200.0),
            comp_release_ms: ms_param("Comp Release", 150.0, 20.0, 2000.0),
            comp_makeup_db: db_param("Comp Makeup", 0.0, 0.0, 24.0),
            limit_db: db_param("Limiter Ceiling", -1.0, -12.0, 0.0),
            speak: BoolParam::new("Speak", false),
            stop: BoolParam::new("Stop", false),
            skip: BoolParam::new("Skip", false),
            pause: BoolParam::new("Pause", false),
            phrase: IntParam::new(
                "Phrase",
                1,
                IntRange::Linear {
                    min: 1,
                    max: MAX_PHRASES as i32,
                },
            ),
            trigger: BoolParam::new("Trigger", false),
            base_note: IntParam::new("Base Note", 60, IntRange::Linear { min: 0, max: 127 })
                .with_value_to_string(Arc::new(note_name))
                .with_string_to_value(Arc::new(parse_note))
                .non_automatable(),
            velocity: BoolParam::new("Velocity Sensitive", true).non_automatable(),
            note_off: EnumParam::new("Note Off", NoteOff::Finish).non_automatable(),
        }
    }
}

/// Where [`OratorParams::path_settings_from`] takes each parameter's value.
pub trait Values {
    fn float(&self, param: &FloatParam) -> f32;
    fn flag(&self, param: &BoolParam) -> bool;
    fn duck_key(&self, param: &EnumParam<DuckKey>) -> DuckKey;
}

/// The parameters' values now.
struct Current;

impl Values for Current {
    fn float(&self, param: &FloatParam) -> f32 {
        param.value()
    }

    fn flag(&self, param: &BoolParam) -> bool {
        param.value()
    }

    fn duck_key(&self, param: &EnumParam<DuckKey>) -> DuckKey {
        param.value()
    }
}

impl OratorParams {
    /// The signal path's settings as the parameters stand now (called once per block).
    pub fn path_settings(&self) -> PathSettings {
        self.path_settings_from(&Current)
    }

    /// The signal path's settings with each parameter's value taken from `values` (a preset's,
    /// for a host that has no parameters of its own).
    pub fn path_settings_from(&self, values: &impl Values) -> PathSettings {
        let strip = |gain_db: &FloatParam, pan: &FloatParam, mute: &BoolParam, solo: &BoolParam| {
            StripSettings {
                gain: db_to_gain(values.float(gain_db)),
                pan: values.float(pan),
                mute: values.flag(mute),
                solo: values.flag(solo),
            }
        };
        let mut strips = [StripSettings::default(); strip::COUNT];
        strips[strip::HOST] = strip(
            &self.dry_gain_db,
            &self.dry_pan,
            &self.dry_mute,
            &self.dry_solo,
        );
        strips[strip::VOICE] = strip(
            &self.voice_gain_db,
            &self.voice_pan,
            &self.voice_mute,
            &self.voice_solo,
        );
        strips[strip::SIDECHAIN] = strip(
            &self.sidechain_gain_db,
            &self.sidechain_pan,
            &self.sidechain_mute,
            &self.sidechain_solo,
        );
        PathSettings {
            strips,
            output: db_to_gain(values.float(&self.output_gain_db)),
            duck: DuckSettings {
                depth_db: values.float(&self.duck_depth_db),
                attack_ms: values.float(&self.duck_attack_ms),
                release_ms: values.float(&self.duck_release_ms),
                key: match values.duck_key(&self.duck_key) {
                    DuckKey::Voice => path::DuckKey::Voice,
                    DuckKey::Sidechain => path::DuckKey::Sidechain,
                    DuckKey::Either => path::DuckKey::Either,
                },
            },
            voice_chain: VoiceChainSettings {
                eq: EqSettings {
                    low_hz: values.float(&self.eq_low_hz),
                    low_db: values.float(&self.eq_low_db),
                    mid_hz: values.float(&self.eq_mid_hz),
                    mid_db: values.float(&self.eq_mid_db),
                    mid_q: values.float(&self.eq_mid_q),
                    high_hz: values.float(&self.eq_high_hz),
                    high_db: values.float(&self.eq_high_db),
                },
                deess_db: values.float(&self.deess_db),
                compressor: CompressorSettings {
                    threshold_db: values.float(&self.comp_threshold_db),
                    ratio: values.float(&self.comp_ratio),
                    attack_ms: values.float(&self.comp_attack_ms),
                    release_ms: values.float(&self.comp_release_ms),
                    makeup_db: values.float(&self.comp_makeup_db),
                },
                ceiling_db: values.float(&self.limit_db),
            },
        }
    }
}

/// A plain dB control (no -inf floor), shown to 0.1 dB.
fn db_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Linear { min, max })
        .with_unit(" dB")
        .with_value_to_string(formatters::v2s_f32_rounded(1))
}

/// A frequency control: skewed so the knob spends its travel evenly per octave.
fn hz_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    skewed_param(name, default, min, max, " Hz", 0)
}

/// A time control in ms, skewed like a frequency control.
fn ms_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    skewed_param(name, default, min, max, " ms", 1)
}

/// A control over a range spanning decades, with more resolution at its low end.
fn skewed_param(
    name: &str,
    default: f32,
    min: f32,
    max: f32,
    unit: &'static str,
    decimals: usize,
) -> FloatParam {
    FloatParam::new(
        name,
        default,
        FloatRange::Skewed {
            min,
            max,
            factor: FloatRange::skew_factor(-2.0),
        },
    )
    .with_unit(unit)
    .with_value_to_string(formatters::v2s_f32_rounded(decimals))
}

/// A pan control, −1 (left) to +1 (right), shown as "L50", "C", "R50".
fn pan_param(name: &str) -> FloatParam {
    FloatParam::new(
        name,
        0.0,
        FloatRange::Linear {
            min: -1.0,
            max: 1.0,
        },
    )
    .with_value_to_string(formatters::v2s_f32_panning())
    .with_string_to_value(formatters::s2v_f32_panning())
}

/// A gain fader from silence to +12 dB. Smoothing happens in the mixer's own ramps (see
/// `dsp::gain`), so the parameter itself is unsmoothed.
fn gain_param(name: &str, default_db: f32) -> FloatParam {
    FloatParam::new(
        name,
        default_db,
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

const NOTE_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// A MIDI note's name with middle C (60) as C3, the naming of Cubase, Ableton Live, Reaper's
/// default and most keyboards' manuals (others call note 60 C4).
pub fn note_name(note: i32) -> String {
    let name = NOTE_NAMES[note.rem_euclid(12) as usize];
    format!("{name}{} ({note})", note.div_euclid(12) - 2)
}

/// Reads a note as [`note_name`] writes it ("C3", "F#-1", "Db4" too) or as a number ("60").
pub fn parse_note(text: &str) -> Option<i32> {
    let text = text.trim();
    let head = text.split(" (").next().unwrap_or(text).trim();
    if let Ok(n) = head.parse::<i32>() {
        return (0..=127).contains(&n).then_some(n);
    }
    let mut chars = head.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let base = NOTE_NAMES
        .iter()
        .position(|n| n.starts_with(letter) && n.len() == 1)? as i32;
    let rest = chars.as_str();
    let (shift, octave) = match rest.chars().next() {
        Some('#') => (1, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let octave: i32 = octave.trim().parse().ok()?;
    let note = (octave + 2) * 12 + base + shift;
    (0..=127).contains(&note).then_some(note)
}

/// The timeline's placements as the project holds them: JSON of any shape, so that a newer or
/// damaged record reaches [`Placements::load_saved`], which says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SavedPlacements(pub Value);

impl<'a> nice_plug::params::persist::PersistentField<'a, SavedPlacements> for Arc<Placements> {
    fn set(&self, SavedPlacements(saved): SavedPlacements) {
        if let Err(err) = self.load_saved(saved) {
            // Main thread (state load): logging is allowed here.
            nice_plug::nice_error!("Orator: {err}");
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&SavedPlacements) -> R,
    {
        f(&SavedPlacements(self.saved()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_named_with_middle_c_as_c3_and_read_back() {
        assert_eq!(note_name(60), "C3 (60)");
        assert_eq!(note_name(0), "C-2 (0)");
        assert_eq!(note_name(127), "G8 (127)");
        for note in 0..=127 {
            assert_eq!(parse_note(&note_name(note)), Some(note));
        }
        assert_eq!(parse_note("c3"), Some(60));
        assert_eq!(parse_note("Db3"), Some(61));
        assert_eq!(parse_note("F#-1"), Some(18));
        assert_eq!(parse_note("72"), Some(72));
        assert_eq!(parse_note("H2"), None);
        assert_eq!(parse_note("G9"), None, "above 127");
        assert_eq!(parse_note(""), None);
    }

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

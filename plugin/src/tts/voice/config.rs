//! A Piper voice's configuration (`<voice>.onnx.json`): sample rate, espeak voice, inference
//! defaults, speakers, and the phoneme → id map.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Why a voice could not be loaded. Every variant names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The `.onnx.json` is not valid JSON of the expected shape.
    #[error("{path} is not a Piper voice config: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The config parses but cannot work.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// ONNX Runtime refused the model or failed to run it.
    #[error("{path}: ONNX Runtime: {message}")]
    Onnx {
        /// The model file.
        path: PathBuf,
        /// ONNX Runtime's message.
        message: String,
    },
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

#[derive(Deserialize)]
struct RawInference {
    noise_scale: Option<f32>,
    length_scale: Option<f32>,
    noise_w: Option<f32>,
}

/// The largest `.onnx.json` read. Piper's configs are 5–50 KB (the largest multi-speaker ones
/// under 200 KB); anything near this is not a voice config.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// The most symbols a phoneme map may hold (Piper's espeak voices use about 150).
pub const MAX_SYMBOLS: usize = 4096;

/// The most ids one phoneme may map to (Piper's map each to one). Every phoneme spoken adds
/// this many ids to the model's input.
pub const MAX_IDS_PER_PHONEME: usize = 16;

/// The largest phoneme id taken (Piper's voices use ids under 256).
pub const MAX_PHONEME_ID: i64 = 65_535;

/// The most speakers a voice may have (Piper's largest has 904).
pub const MAX_SPEAKERS: u32 = 65_536;

/// The longest speaker name taken, in bytes.
pub const MAX_SPEAKER_NAME: usize = 256;

#[derive(Deserialize)]
struct RawConfig {
    audio: RawAudio,
    espeak: Option<RawEspeak>,
    inference: Option<RawInference>,
    phoneme_type: Option<String>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    num_speakers: Option<u32>,
    /// The size of the model's phoneme embedding, when the config says it.
    num_symbols: Option<u64>,
    #[serde(default)]
    speaker_id_map: BTreeMap<String, i64>,
}

/// How to speak: Piper's inference scales plus Orator's volume and speaker choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthesisSettings {
    /// Phoneme duration multiplier: above 1 is slower, below 1 faster.
    pub length_scale: f32,
    /// Variation of the voice's timbre (latent noise).
    pub noise_scale: f32,
    /// Variation of phoneme durations.
    pub noise_w: f32,
    /// Linear gain applied to the model output.
    pub volume: f32,
    /// Speaker id for multi-speaker voices (ignored by single-speaker ones).
    pub speaker: Option<i64>,
}

impl SynthesisSettings {
    /// The settings with every float made finite and within a sane range, so a garbage value
    /// from the UI or a preset cannot make the model misbehave.
    pub fn sanitized(self) -> Self {
        let clamp = |v: f32, lo: f32, hi: f32, default: f32| {
            if v.is_finite() {
                v.clamp(lo, hi)
            } else {
                default
            }
        };
        Self {
            length_scale: clamp(self.length_scale, 0.25, 4.0, 1.0),
            noise_scale: clamp(self.noise_scale, 0.0, 2.0, 0.667),
            noise_w: clamp(self.noise_w, 0.0, 2.0, 0.8),
            volume: clamp(self.volume, 0.0, 4.0, 1.0),
            speaker: self.speaker,
        }
    }
}

/// How the voice delivers the text: pace, variation, phrasing and speaker. Saved in the
/// session; read by the speech thread when each phrase starts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Speaking rate: 1 is the voice's own pace, 2 twice as fast (0.25 to 4).
    pub rate: f32,
    /// Variation of timbre and timing: 1 is the voice's own, 0 none (up to 2).
    pub variation: f32,
    /// Speak every sentence in one piece, exactly as Piper does, instead of cutting long ones
    /// at clause ends (and at word boundaries where a sentence with none would keep the listener
    /// waiting) so speech starts sooner. A sentence longer than one model run may be
    /// (`engine::MAX_RUN_PHONEMES`) is cut at a word boundary either way.
    pub whole_sentences: bool,
    /// Speaker id of a multi-speaker voice (`None`: the voice's default; ignored by
    /// single-speaker voices and out-of-range ids).
    pub speaker: Option<i64>,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            rate: 1.0,
            variation: 1.0,
            whole_sentences: false,
            speaker: None,
        }
    }
}

impl Delivery {
    /// The voice's default settings adjusted by this delivery (out-of-range values clamped)
    /// for a voice with `num_speakers` speakers.
    pub fn apply(&self, defaults: SynthesisSettings, num_speakers: u32) -> SynthesisSettings {
        let rate = if self.rate.is_finite() {
            self.rate.clamp(0.25, 4.0)
        } else {
            1.0
        };
        let variation = if self.variation.is_finite() {
            self.variation.clamp(0.0, 2.0)
        } else {
            1.0
        };
        // A single-speaker voice has no speaker input: its default stays `None`.
        let speaker = match (defaults.speaker, self.speaker) {
            (Some(_), Some(id)) if id >= 0 && id < i64::from(num_speakers) => Some(id),
            (default, _) => default,
        };
        SynthesisSettings {
            length_scale: defaults.length_scale / rate,
            noise_scale: defaults.noise_scale * variation,
            noise_w: defaults.noise_w * variation,
            speaker,
            ..defaults
        }
    }
}

/// A parsed, validated voice config.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Output sample rate of the model.
    pub sample_rate: u32,
    /// espeak-ng voice used to phonemise text for this model.
    pub espeak_voice: String,
    /// The voice's own inference defaults.
    pub defaults: SynthesisSettings,
    /// Number of speakers (1 for single-speaker voices).
    pub num_speakers: u32,
    /// Speaker names → ids, for multi-speaker voices.
    pub speakers: BTreeMap<String, i64>,
    /// Phoneme (one Unicode scalar) → ids.
    id_map: HashMap<char, Vec<i64>>,
    /// Ids of the padding, start and end symbols.
    pad: Vec<i64>,
    bos: Vec<i64>,
    eos: Vec<i64>,
}

impl VoiceConfig {
    /// Reads and validates `<model>.onnx.json`.
    pub fn load(path: &Path) -> Result<Self, VoiceError> {
        let io = |source| VoiceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(VoiceError::Invalid {
                path: path.to_path_buf(),
                reason: format!(
                    "the file is {size} bytes, more than a voice config can be ({MAX_CONFIG_BYTES})"
                ),
            });
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_CONFIG_BYTES), &mut bytes)
            .map_err(io)?;
        Self::parse(&bytes, path)
    }

    /// Parses config bytes; `path` is only used in error messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, VoiceError> {
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|source| VoiceError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| VoiceError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(kind) = raw.phoneme_type.as_deref()
            && kind != "espeak"
        {
            return Err(invalid(format!(
                "phoneme_type {kind:?} is not supported (Orator reads espeak voices)"
            )));
        }
        if !(8000..=192_000).contains(&raw.audio.sample_rate) {
            return Err(invalid(format!(
                "audio.sample_rate {} is outside 8000–192000 Hz",
                raw.audio.sample_rate
            )));
        }
        if raw.phoneme_id_map.len() > MAX_SYMBOLS {
            return Err(invalid(format!(
                "phoneme_id_map has {} symbols, more than {MAX_SYMBOLS}",
                raw.phoneme_id_map.len()
            )));
        }
        let max_id = raw
            .num_symbols
            .map_or(MAX_PHONEME_ID, |n| {
                i64::try_from(n).unwrap_or(i64::MAX).saturating_sub(1)
            })
            .min(MAX_PHONEME_ID);
        let mut id_map = HashMap::new();
        for (symbol, ids) in raw.phoneme_id_map {
            let mut chars = symbol.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                let shown: Vec<i64> = ids.iter().copied().take(4).collect();
                if ids.is_empty() || ids.len() > MAX_IDS_PER_PHONEME {
                    return Err(invalid(format!(
                        "phoneme_id_map: phoneme {symbol:?} has {} ids (1 to \
                         {MAX_IDS_PER_PHONEME} allowed)",
                        ids.len()
                    )));
                }
                if ids.iter().any(|&id| !(0..=max_id).contains(&id)) {
                    return Err(invalid(format!(
                        "phoneme_id_map: phoneme {symbol:?} has ids {shown:?} outside 0–{max_id}"
                    )));
                }
                id_map.insert(c, ids);
            }
        }
        let special = |c: char| {
            id_map
                .get(&c)
                .cloned()
                .ok_or_else(|| invalid(format!("phoneme_id_map lacks the {c:?} symbol")))
        };
        let (pad, bos, eos) = (special('_')?, special('^')?, special('$')?);
        let inference = raw.inference.unwrap_or(RawInference {
            noise_scale: None,
            length_scale: None,
            noise_w: None,
        });
        let num_speakers = raw.num_speakers.unwrap_or(1).max(1);
        if num_speakers > MAX_SPEAKERS {
            return Err(invalid(format!(
                "num_speakers is {num_speakers}, more than {MAX_SPEAKERS}"
            )));
        }
        if raw.speaker_id_map.len() > num_speakers as usize {
            return Err(invalid(format!(
                "speaker_id_map names {} speakers, more than num_speakers ({num_speakers})",
                raw.speaker_id_map.len()
            )));
        }
        if let Some((name, id)) = raw.speaker_id_map.iter().find(|&(name, &id)| {
            name.len() > MAX_SPEAKER_NAME || !(0..i64::from(num_speakers)).contains(&id)
        }) {
            return Err(invalid(format!(
                "speaker_id_map: speaker {:?} has id {id} (0 to {} allowed, names up to \
                 {MAX_SPEAKER_NAME} bytes)",
                name.chars().take(40).collect::<String>(),
                num_speakers - 1
            )));
        }
        let espeak_voice = raw.espeak.map_or_else(|| "en-us".to_owned(), |e| e.voice);
        crate::tts::text::phonemize::check_voice_name(&espeak_voice)
            .map_err(|e| invalid(format!("espeak.voice: {e}")))?;
        Ok(Self {
            sample_rate: raw.audio.sample_rate,
            espeak_voice,
            defaults: SynthesisSettings {
                length_scale: inference.length_scale.unwrap_or(1.0),
                noise_scale: inference.noise_scale.unwrap_or(0.667),
                noise_w: inference.noise_w.unwrap_or(0.8),
                volume: 1.0,
                speaker: (num_speakers > 1).then_some(0),
            }
            .sanitized(),
            num_speakers,
            speakers: raw.speaker_id_map,
            id_map,
            pad,
            bos,
            eos,
        })
    }

    /// Piper's phoneme → id conversion: `^ _`, then each phoneme followed by `_`, then `$`.
    /// Phonemes the voice does not know are skipped and counted in `unknown`.
    pub fn phoneme_ids(&self, phonemes: &[char], unknown: &mut usize) -> Vec<i64> {
        self.phoneme_ids_owned(phonemes, unknown).0
    }

    /// Like [`VoiceConfig::phoneme_ids`], with each id's owner: the index in `phonemes` of the
    /// phoneme it spells (a phoneme's padding is its own), `None` for the start, the padding
    /// after it and the end.
    pub fn phoneme_ids_owned(
        &self,
        phonemes: &[char],
        unknown: &mut usize,
    ) -> (Vec<i64>, Vec<Option<usize>>) {
        let mut ids = Vec::with_capacity(phonemes.len() * 2 + 3);
        let mut owners = Vec::with_capacity(phonemes.len() * 2 + 3);
        let mut add = |ids: &mut Vec<i64>, new: &[i64], owner: Option<usize>| {
            ids.extend(new);
            owners.extend(std::iter::repeat_n(owner, new.len()));
        };
        add(&mut ids, &self.bos, None);
        add(&mut ids, &self.pad, None);
        for (k, phoneme) in phonemes.iter().enumerate() {
            match self.id_map.get(phoneme) {
                Some(phoneme_ids) => {
                    add(&mut ids, phoneme_ids, Some(k));
                    add(&mut ids, &self.pad, Some(k));
                }
                None => *unknown += 1,
            }
        }
        add(&mut ids, &self.eos, None);
        (ids, owners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},
        "inference":{"noise_scale":0.5,"length_scale":1.2,"noise_w":0.7},
        "phoneme_id_map":{"_":[0],"^":[1],"$":[2],"a":[14],"b":[15],"ab":[99]}}"#;

    #[test]
    fn ids_follow_pipers_layout_and_skip_unknown_phonemes() {
        let config = VoiceConfig::parse(MINIMAL.as_bytes(), Path::new("v.json")).unwrap();
        let mut unknown = 0;
        assert_eq!(
            config.phoneme_ids(&['a', 'x', 'b'], &mut unknown),
            [1, 0, 14, 0, 15, 0, 2]
        );
        assert_eq!(unknown, 1);
        assert_eq!(config.defaults.length_scale, 1.2);
        assert_eq!(config.num_speakers, 1);
        assert_eq!(config.defaults.speaker, None);
    }

    #[test]
    fn broken_configs_name_the_file_and_the_problem() {
        let path = Path::new("bad.onnx.json");
        let err = VoiceConfig::parse(b"{", path).unwrap_err().to_string();
        assert!(
            err.contains("bad.onnx.json") && err.contains("not a Piper voice config"),
            "{err}"
        );
        let no_pad = MINIMAL.replace(r#""_":[0],"#, "");
        let err = VoiceConfig::parse(no_pad.as_bytes(), path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lacks the '_' symbol"), "{err}");
        let text_type = MINIMAL.replace(r#""audio""#, r#""phoneme_type":"text","audio""#);
        let err = VoiceConfig::parse(text_type.as_bytes(), path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn hostile_configs_are_refused_naming_the_field() {
        let path = Path::new("hostile.onnx.json");
        let refused = |text: &str| {
            VoiceConfig::parse(text.as_bytes(), path)
                .expect_err(text)
                .to_string()
        };
        // One phoneme asking for two million ids (each spoken phoneme would add them all).
        let many = format!("[{}]", vec!["1"; 2_000_000].join(","));
        let err = refused(&MINIMAL.replace(r#""a":[14]"#, &format!(r#""a":{many}"#)));
        assert!(
            err.contains("phoneme_id_map") && err.contains("2000000 ids"),
            "{err}"
        );
        let err = refused(&MINIMAL.replace(r#""b":[15]"#, r#""b":[99999999]"#));
        assert!(
            err.contains("phoneme \"b\"") && err.contains("outside"),
            "{err}"
        );
        let err = refused(&MINIMAL.replace(r#""audio""#, r#""num_symbols":10,"audio""#));
        assert!(err.contains("outside 0–9"), "{err}");
        let err = refused(&MINIMAL.replace(r#""audio""#, r#""num_speakers":4000000000,"audio""#));
        assert!(err.contains("num_speakers"), "{err}");
        let err = refused(&MINIMAL.replace(
            r#""audio""#,
            r#""num_speakers":2,"speaker_id_map":{"x":5},"audio""#,
        ));
        assert!(
            err.contains("speaker_id_map") && err.contains("\"x\""),
            "{err}"
        );
        let symbols: Vec<String> = (0..5000)
            .map(|i| format!(r#""{}":[1]"#, char::from_u32(0x4E00 + i).unwrap()))
            .collect();
        let err =
            refused(&MINIMAL.replace(r#""_":[0]"#, &format!(r#""_":[0],{}"#, symbols.join(","))));
        assert!(err.contains("5006 symbols"), "{err}");
        for voice in ["mb/mb-de1", "../../etc", "", "en us"] {
            let err =
                refused(&MINIMAL.replace(r#""voice":"en-us""#, &format!(r#""voice":"{voice}""#)));
            assert!(err.contains("espeak.voice"), "{voice}: {err}");
        }
    }

    #[test]
    fn an_oversized_config_file_is_refused_before_it_is_read() {
        let dir = std::env::temp_dir().join(format!("orator-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.onnx.json");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let err = VoiceConfig::load(&path).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("more than a voice config can be"), "{err}");
    }

    #[test]
    fn garbage_settings_are_made_safe() {
        let s = SynthesisSettings {
            length_scale: f32::NAN,
            noise_scale: 100.0,
            noise_w: -1.0,
            volume: f32::INFINITY,
            speaker: None,
        }
        .sanitized();
        assert_eq!(
            (s.length_scale, s.noise_scale, s.noise_w, s.volume),
            (1.0, 2.0, 0.0, 1.0)
        );
    }
}

//! OpenAI's speech API shape: `POST /v1/audio/speech` (`model`, `input`, `voice`, `speed`,
//! `response_format`), `GET /v1/models`, and a voice list at `GET /v1/voices`.
//!
//! Formats, as OpenAI defines them: `pcm` is raw 24 kHz 16-bit signed little-endian mono;
//! `wav` is the same samples in a WAV file, `flac` in a FLAC file (sent whole), `mp3` an MP3 of
//! them ([`super::mp3`]), `opus` Ogg Opus ([`super::opus`]). Audio is sent as it is made
//! (`stream_format` `audio`, HTTP chunked) or as server-sent events (`sse`); see
//! [`super::speech_stream`]. `aac` is refused with a 400 that says so (its one well-kept
//! encoder, FDK AAC, is under a licence GPL software cannot ship); a request without `response_format` gets `wav` (Orator's
//! choice: OpenAI's default is `mp3`, which a client names when it wants it). OpenAI's voice names
//! speak with the default voice, so clients with a hard-coded voice work; a voice alias's name
//! speaks as that alias (its pace times `speed`); an installed voice's name selects that
//! voice.
//!
//! Orator's own fields: `ssml` (true: the input is SSML, [`super::ssml`]; false: it is text
//! even if it starts with `<speak`; by default input starting with `<speak` is SSML),
//! `loudness` (LUFS) and `true_peak` (dBTP, default −1) bring the whole
//! response to a loudness target ([`crate::loudness`]); such a response is rendered whole
//! before it is sent, so `sse` is refused with them.

use super::aliases::{Choice, VoiceAlias, VoiceAliases, is_chatter_voice};
pub use super::formats::{EncodeError, Format};
use super::ssml::{self, Ssml, SsmlError, looks_like_ssml};
use crate::loudness::{LoudnessError, Target};
use crate::playback::voicing::Voicing;
use serde::Deserialize;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The rate OpenAI's `pcm` and `wav` use.
pub const RATE: u32 = 24_000;

/// The loudness a request with only `true_peak` gets, LUFS, and the ceiling a request with only
/// `loudness` gets, dBTP.
pub const DEFAULT_LOUDNESS: f64 = -16.0;
pub const DEFAULT_TRUE_PEAK: f64 = -1.0;

/// OpenAI's longest input, in characters.
pub const MAX_INPUT: usize = 4096;

/// OpenAI's own voice names (all speak with the default voice).
pub const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage",
    "shimmer", "verse",
];

/// Model ids listed (any model id is accepted).
pub const MODELS: [&str; 4] = ["orator", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// How the audio of a response is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// The audio itself, sent as it is made (chunked).
    Audio,
    /// Server-sent events: `speech.audio.delta` with base64 audio, then `speech.audio.done`.
    Sse,
}

/// A speech request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The text.
    pub input: String,
    /// The voice model to use (`None`: the default, or the owner instance's voice).
    pub voice: Option<PathBuf>,
    /// The voice alias asked for, if any (it names its own voice).
    pub alias: Option<VoiceAlias>,
    /// Pace, 0.25–4.
    pub speed: f32,
    /// How the audio is sent (`stream_format`).
    pub stream: StreamFormat,
    /// What to send back.
    pub format: Format,
    /// A loudness to bring the whole response to (`loudness`, LUFS, under `true_peak`, dBTP):
    /// such a response is rendered whole before it is sent.
    pub loudness: Option<Target>,
    /// The input as SSML (`ssml` true, or input that starts with `<speak`), parsed.
    pub ssml: Option<Ssml>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    model: Option<String>,
    input: String,
    #[serde(default)]
    voice: Option<serde_json::Value>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    response_format: Option<String>,
    // Accepted and ignored: Orator's voices take no instructions.
    #[serde(default)]
    #[allow(dead_code)]
    instructions: Option<String>,
    #[serde(default)]
    stream_format: Option<String>,
    #[serde(default)]
    loudness: Option<f64>,
    #[serde(default)]
    true_peak: Option<f64>,
    #[serde(default)]
    ssml: Option<bool>,
}

/// The voices installed beside the default one: `(name, model file)` for each `.onnx` with its
/// `.onnx.json` in `dir`.
pub fn installed_voices(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut voices: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .filter(|p| p.with_extension("onnx.json").is_file())
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .take(256)
        .collect();
    voices.sort();
    voices
}

/// Why a speech request was refused (a 400 naming what is wrong).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadSpeech {
    /// Not JSON of a speech request's shape.
    #[error("the body is not a speech request: {0}")]
    Shape(String),
    /// No text.
    #[error("`input` is empty")]
    EmptyInput,
    /// Too much text.
    #[error("`input` is {0} characters, more than {MAX_INPUT}")]
    InputTooLong(usize),
    /// A speed out of range.
    #[error("`speed` must be between 0.25 and 4 (got {0})")]
    Speed(f64),
    /// A format not offered.
    #[error(
        "`response_format` `{0}` is not offered: ask for `wav`, `pcm`, `flac`, `mp3` or `opus`"
    )]
    Format(String),
    /// AAC, which Orator cannot ship an encoder for.
    #[error(
        "`response_format` `aac` is not offered: its one well-kept encoder (FDK AAC) has a \
         licence Orator's GPL cannot ship; ask for `mp3` or `opus`"
    )]
    Aac,
    /// A stream format not offered.
    #[error("`stream_format` `{0}` is not offered: ask for `audio` or `sse`")]
    StreamFormat(String),
    /// Events asked for a format that is sent whole.
    #[error("`stream_format` `sse` carries `pcm` or `wav`; `flac` is sent whole")]
    SseOfWholeFormat,
    /// A loudness target or ceiling out of range.
    #[error("{0}")]
    Loudness(#[from] LoudnessError),
    /// Events asked for with a loudness target, which needs the whole render first.
    #[error("`loudness` needs the whole render before any of it is sent: not with `sse`")]
    SseWithLoudness,
    /// `voice` is neither a name nor `{"id": name}`.
    #[error("`voice` must be a voice name")]
    VoiceShape,
    /// A voice not installed.
    #[error(
        "unknown voice `{name}`: use one of OpenAI's names, a voice alias or an installed voice \
         ({known})"
    )]
    UnknownVoice {
        /// The name asked for (its first 40 characters).
        name: String,
        /// The installed voices, comma-separated.
        known: String,
    },
    /// SSML that is malformed or outside the subset.
    #[error("{0}")]
    Ssml(#[from] SsmlError),
}

/// Parses and checks a request body. `voices` are the installed voices, `aliases` the voice
/// aliases (a name both is the alias).
pub fn parse(
    body: &[u8],
    voices: &[(String, PathBuf)],
    aliases: &VoiceAliases,
) -> Result<Speech, BadSpeech> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| BadSpeech::Shape(e.to_string()))?;
    let _ = raw.model;
    if raw.input.trim().is_empty() {
        return Err(BadSpeech::EmptyInput);
    }
    let chars = raw.input.chars().count();
    if chars > MAX_INPUT {
        return Err(BadSpeech::InputTooLong(chars));
    }
    let speed = raw.speed.unwrap_or(1.0);
    if !(speed.is_finite() && (0.25..=4.0).contains(&speed)) {
        return Err(BadSpeech::Speed(speed));
    }
    let asked = raw.response_format.as_deref().unwrap_or("wav");
    let format = match Format::named(asked) {
        Some(format) => format,
        None if asked.eq_ignore_ascii_case("aac") => return Err(BadSpeech::Aac),
        None => return Err(BadSpeech::Format(asked.chars().take(20).collect())),
    };
    let stream = match raw.stream_format.as_deref().unwrap_or("audio") {
        "audio" => StreamFormat::Audio,
        "sse" => StreamFormat::Sse,
        other => return Err(BadSpeech::StreamFormat(other.chars().take(20).collect())),
    };
    if stream == StreamFormat::Sse && format == Format::Flac {
        return Err(BadSpeech::SseOfWholeFormat);
    }
    let loudness = match (raw.loudness, raw.true_peak) {
        (None, None) => None,
        (lufs, ceiling) => Some(Target::new(
            lufs.unwrap_or(DEFAULT_LOUDNESS),
            ceiling.unwrap_or(DEFAULT_TRUE_PEAK),
        )?),
    };
    if loudness.is_some() && stream == StreamFormat::Sse {
        return Err(BadSpeech::SseWithLoudness);
    }
    let name = match &raw.voice {
        None => None,
        Some(serde_json::Value::String(name)) => Some(name.clone()),
        // OpenAI's newer custom-voice form: {"id": "..."}.
        Some(serde_json::Value::Object(o)) => {
            o.get("id").and_then(|v| v.as_str()).map(str::to_owned)
        }
        Some(_) => return Err(BadSpeech::VoiceShape),
    };
    // An alias by name, or a chatter's (`user:NAME`) as the WebSocket's Speak finds it.
    let alias = match name.as_deref().map(|n| aliases.choose(Some(n), None)) {
        Some(Choice::Alias(alias)) => Some(alias.clone()),
        _ => None,
    };
    let voice = match name {
        None => None,
        Some(_) if alias.is_some() => None,
        Some(name) if is_chatter_voice(&name) => None,
        Some(name) if OPENAI_VOICES.contains(&name.to_ascii_lowercase().as_str()) => None,
        Some(name) => match voices.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            Some((_, path)) => Some(path.clone()),
            None => {
                let known: Vec<&str> = aliases
                    .aliases
                    .iter()
                    .map(|a| a.name.as_str())
                    .chain(voices.iter().map(|(n, _)| n.as_str()))
                    .collect();
                return Err(BadSpeech::UnknownVoice {
                    name: name.chars().take(40).collect(),
                    known: known.join(", "),
                });
            }
        },
    };
    let ssml = match raw.ssml {
        Some(false) => None,
        Some(true) => Some(&raw.input),
        None => Some(&raw.input).filter(|input| looks_like_ssml(input)),
    };
    let ssml = match ssml {
        None => None,
        Some(input) => {
            let finder = |name: &str| {
                aliases.find(name).map(|a| a.voicing.clone()).or_else(|| {
                    voices
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, path)| Voicing {
                            model: Some(path.clone()),
                            ..Voicing::default()
                        })
                })
            };
            Some(ssml::parse::parse(input, &finder)?)
        }
    };
    Ok(Speech {
        ssml,
        input: raw.input,
        voice,
        alias,
        speed: speed as f32,
        stream,
        format,
        loudness,
    })
}

/// The longest audio one request may ask for, seconds.
pub const MAX_RENDER_SECONDS: f64 = 300.0;

/// How long `input` takes to speak at `speed`, estimated from above for the default voices:
/// 1/18 s a character (prose reads at about 20 a second) and 0.6 s a digit (digit groups read
/// as numbers take about 0.56 s a digit).
pub fn estimated_seconds(input: &str, speed: f32) -> f64 {
    let digits = input.chars().filter(char::is_ascii_digit).count();
    let other = input.chars().count() - digits;
    (other as f64 / 18.0 + digits as f64 * 0.6) / f64::from(speed.max(0.25))
}

/// A request whose audio is longer than one request may render.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TooLong {
    /// Refused up front, from the text and the speed.
    #[error(
        "this would be about {seconds:.0} s of audio at speed {speed}, more than the \
         {MAX_RENDER_SECONDS:.0} s one request may render: send less text (numbers take \
         longest) or a higher speed"
    )]
    Estimated {
        /// The estimated length, seconds.
        seconds: f64,
        /// The speed asked for.
        speed: f32,
    },
    /// Stopped while rendering, when the audio reached the cap.
    #[error(
        "the audio reached the {MAX_RENDER_SECONDS:.0} s one request may render at speed \
         {speed}, and the render was stopped: send less text or a higher speed"
    )]
    Reached {
        /// The speed asked for.
        speed: f32,
    },
}

/// Refuses up front a request whose audio would be longer than [`MAX_RENDER_SECONDS`].
pub fn check_length(speech: &Speech) -> Result<(), TooLong> {
    let seconds = match &speech.ssml {
        None => estimated_seconds(&speech.input, speech.speed),
        // Each segment at the slowest pace any asks for, and every pause.
        Some(ssml) => {
            estimated_seconds(&ssml.spoken(), speech.speed * ssml.slowest_rate())
                + ssml.pauses_ms() as f64 / 1000.0
        }
    };
    if seconds > MAX_RENDER_SECONDS {
        return Err(TooLong::Estimated {
            seconds,
            speed: speech.speed,
        });
    }
    Ok(())
}

/// Float samples as 16-bit signed integers (clipped, rounded).
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|&x| sample_i16(x)).collect()
}

/// One float sample as a 16-bit signed integer (clipped, rounded; not finite: 0).
pub fn sample_i16(x: f32) -> i16 {
    let x = if x.is_finite() { x } else { 0.0 };
    (x.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// The response body: raw little-endian samples, or a WAV or FLAC file of them.
pub fn encode(samples: &[i16], format: Format) -> Result<Vec<u8>, EncodeError> {
    Ok(match format {
        Format::Pcm => pcm_bytes(samples),
        Format::Wav => {
            let pcm = pcm_bytes(samples);
            let data = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
            let mut wav = Vec::with_capacity(44 + pcm.len());
            wav.extend_from_slice(&wav_header(Some(data)));
            wav.extend_from_slice(&pcm);
            wav
        }
        Format::Flac | Format::Mp3 | Format::Opus => {
            super::formats::encode_file(samples, 1, RATE, format)?.unwrap_or_default()
        }
    })
}

/// Samples as little-endian bytes.
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A 24 kHz 16-bit mono WAV header for `data` bytes of samples; `None` when the length is
/// not known yet (a streamed file: both sizes are then 0xFFFFFFFF, "to the end", as OpenAI's
/// streamed WAV has them).
pub fn wav_header(data: Option<u32>) -> [u8; 44] {
    let (riff, data) = data.map_or((u32::MAX, u32::MAX), |d| (d.saturating_add(36), d));
    let mut header = [0u8; 44];
    let fields: [&[u8]; 12] = [
        b"RIFF",
        &riff.to_le_bytes(),
        b"WAVEfmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(), // PCM
        &1u16.to_le_bytes(), // mono
        &RATE.to_le_bytes(),
        &(RATE * 2).to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// `GET /v1/models`.
pub fn models() -> Vec<u8> {
    let data: Vec<_> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "orator"}))
        .collect();
    json!({"object": "list", "data": data})
        .to_string()
        .into_bytes()
}

/// `GET /v1/voices`: OpenAI's names (the default voice), the voice aliases and the installed
/// voices.
pub fn voice_list(voices: &[(String, PathBuf)], aliases: &VoiceAliases) -> Vec<u8> {
    let mut list: Vec<_> = OPENAI_VOICES
        .iter()
        .map(|n| json!({"id": n, "name": n, "speaks_as": "default"}))
        .collect();
    list.extend(aliases.aliases.iter().map(
        |a| json!({"id": a.name, "name": a.name, "speaks_as": a.voice_name(), "alias": true}),
    ));
    list.extend(
        voices
            .iter()
            .map(|(n, _)| json!({"id": n, "name": n, "speaks_as": n})),
    );
    json!({"object": "list", "data": list})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_with_openai_defaults_and_names() {
        let s = parse(
            br#"{"model":"tts-1","input":"hi","voice":"alloy"}"#,
            &[],
            &VoiceAliases::default(),
        )
        .unwrap();
        assert_eq!((s.format, s.speed, s.voice), (Format::Wav, 1.0, None));
        let voices = vec![("de_DE-thorsten".to_owned(), PathBuf::from("/v/de.onnx"))];
        let s = parse(
            br#"{"input":"hi","voice":"de_DE-thorsten","response_format":"pcm","speed":1.5}"#,
            &voices,
            &VoiceAliases::default(),
        )
        .unwrap();
        assert_eq!((s.format, s.speed), (Format::Pcm, 1.5));
        assert_eq!(s.voice, Some(PathBuf::from("/v/de.onnx")));
    }

    #[test]
    fn a_voice_alias_is_a_voice_and_is_listed() {
        let aliases = VoiceAliases {
            aliases: vec![VoiceAlias {
                name: "Robot".into(),
                voicing: crate::playback::voicing::Voicing {
                    model: Some(PathBuf::from("/v/multi.onnx")),
                    ..Default::default()
                },
            }],
            ..VoiceAliases::default()
        };
        let s = parse(br#"{"input":"hi","voice":"robot"}"#, &[], &aliases).unwrap();
        assert_eq!(s.alias.map(|a| a.name), Some("Robot".to_owned()));
        assert_eq!(s.voice, None);
        // A chatter without an alias speaks with the default voice.
        let s = parse(br#"{"input":"hi","voice":"user:bob"}"#, &[], &aliases).unwrap();
        assert_eq!((s.alias, s.voice), (None, None));
        let err = parse(br#"{"input":"hi","voice":"nobody"}"#, &[], &aliases).unwrap_err();
        assert!(err.to_string().contains("(Robot)"), "{err}");
        let list: serde_json::Value = serde_json::from_slice(&voice_list(&[], &aliases)).unwrap();
        let robot = list["data"]
            .as_array()
            .and_then(|d| d.iter().find(|v| v["id"] == "Robot"))
            .cloned();
        assert_eq!(
            robot.map(|r| (r["speaks_as"].clone(), r["alias"].clone())),
            Some((json!("multi"), json!(true)))
        );
    }

    #[test]
    fn bad_requests_say_why() {
        for (body, part) in [
            (&br#"{"input":"hi","response_format":"aac"}"#[..], "aac"),
            (br#"{"input":"hi","speed":9}"#, "speed"),
            (br#"{"input":""}"#, "empty"),
            (br#"{"input":"hi","voice":"nobody"}"#, "unknown voice"),
            (br#"not json"#, "not a speech request"),
            (br#"{"voice":"alloy"}"#, "input"),
        ] {
            let err = parse(body, &[], &VoiceAliases::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(part), "{err}");
        }
        let long = format!(r#"{{"input":"{}"}}"#, "a".repeat(MAX_INPUT + 1));
        assert!(parse(long.as_bytes(), &[], &VoiceAliases::default()).is_err());
    }

    #[test]
    fn wav_and_pcm_hold_the_same_samples() {
        let samples = to_i16(&[0.0, 0.5, -1.5, f32::NAN]);
        assert_eq!(samples, vec![0, 16384, -32767, 0]);
        let pcm = encode(&samples, Format::Pcm).unwrap();
        let wav = encode(&samples, Format::Wav).unwrap();
        assert_eq!(&wav[44..], &pcm[..]);
        let reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
        assert_eq!(
            (reader.spec().sample_rate, reader.spec().channels),
            (RATE, 1)
        );
    }

    #[test]
    fn loudness_fields_are_checked_and_need_the_whole_render() {
        let none = VoiceAliases::default();
        let parsed = |body: &str| parse(body.as_bytes(), &[], &none);
        let s = parsed(r#"{"input":"hi","loudness":-23}"#).expect("valid");
        let target = s.loudness.expect("a target");
        assert_eq!(
            (target.lufs, target.ceiling_dbtp),
            (-23.0, DEFAULT_TRUE_PEAK)
        );
        let s = parsed(r#"{"input":"hi","true_peak":-2}"#).expect("valid");
        let target = s.loudness.expect("a target");
        assert_eq!((target.lufs, target.ceiling_dbtp), (DEFAULT_LOUDNESS, -2.0));
        assert_eq!(
            parsed(r#"{"input":"hi"}"#)
                .expect("valid")
                .loudness
                .map(|t| t.lufs),
            None
        );
        assert_eq!(
            parsed(r#"{"input":"hi","loudness":0}"#),
            Err(BadSpeech::Loudness(LoudnessError::Target(0.0)))
        );
        assert_eq!(
            parsed(r#"{"input":"hi","loudness":-16,"stream_format":"sse"}"#),
            Err(BadSpeech::SseWithLoudness)
        );
        assert!(matches!(
            parsed(r#"{"input":"hi","loudness":"loud"}"#),
            Err(BadSpeech::Shape(_))
        ));
    }

    #[test]
    fn renders_past_the_length_cap_are_refused_up_front() {
        let speech = |input: String, speed: f32| Speech {
            ssml: None,
            input,
            voice: None,
            alias: None,
            speed,
            format: Format::Wav,
            stream: StreamFormat::Audio,
            loudness: None,
        };
        let prose = "The streamer reads chat aloud tonight. ".repeat(105);
        assert!(prose.chars().count() <= MAX_INPUT);
        assert!(
            check_length(&speech(prose.clone(), 1.0)).is_ok(),
            "all of it at speed 1"
        );
        let slow = check_length(&speech(prose, 0.25)).unwrap_err().to_string();
        assert!(slow.contains("speed 0.25"), "{slow}");
        let digits: Vec<String> = (0..60).map(|i| format!("{},999,299", 999 - i)).collect();
        assert!(
            check_length(&speech(digits.join(" "), 1.0)).is_err(),
            "numbers read long"
        );
        assert!(check_length(&speech("Hello there.".into(), 0.25)).is_ok());
    }
}

//! Speaker.bot's WebSocket protocol, as Streamer.bot speaks it: pure parsing and formatting.
//!
//! Requests are JSON objects `{"id": "<any>", "request": "<Name>", ...}` (names are matched
//! without regard to case). Every request gets one reply `{"id", "status": "ok"|"error", ...}`;
//! `Speak` replies as soon as the phrase is queued, with `result.speechId`, or, with
//! `"wait": true`, when it has been heard to its end, with `result.duration` in milliseconds.
//!
//! Events follow Streamer.bot's envelope: `{"timeStamp", "event": {"source": "TextToSpeech",
//! "type"}, "data"}` with types `TextQueued`, `Playing`, `Finished` (with `duration`, ms),
//! `Deleted` and `Error`; a client gets the ones it subscribed to (`Subscribe` with
//! `{"events": {"TextToSpeech": ["Finished", ...]}}`, or `["*"]`).

use crate::tts::timings::WordTiming;
use serde_json::{Value, json};

/// The largest WebSocket message read.
pub const MAX_MESSAGE: usize = 64 << 10;

/// The longest message text taken (before the chat filter cuts it to its own limit).
pub const MAX_TEXT: usize = 4096;

/// The event source name.
pub const SOURCE: &str = "TextToSpeech";

/// Event types, as sent.
pub const EVENT_TYPES: [&str; 6] = [
    "TextQueued",
    "Playing",
    "Word",
    "Finished",
    "Deleted",
    "Error",
];

/// Not an event: subscribing to it (`{"TextToSpeech": ["Word", "Phonemes"]}`) adds each
/// word's phonemes and their times to the client's `Word` events (for lip-sync avatars).
pub const PHONEMES: &str = "Phonemes";

/// A request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Identify the server.
    GetInfo,
    /// Speak `message`.
    Speak {
        /// The text.
        message: String,
        /// The voice alias asked for.
        voice: Option<String>,
        /// The chatter the message is from, if the bot says ([`chatter`]).
        user: Option<String>,
        /// Whether the word list applies (default true).
        bad_word_filter: bool,
        /// Reply only once the phrase was heard.
        wait: bool,
    },
    /// Stop the phrase being heard.
    Stop,
    /// Hold speech where it is.
    Pause,
    /// Go on.
    Resume,
    /// Drop every phrase waiting.
    Clear,
    /// Speak again.
    Enable,
    /// Refuse Speak until enabled.
    Disable,
    /// Events spoken on/off (Speaker.bot's own platform events; Orator has none).
    Events(bool),
    /// Speaking mode: every message (`false`) or commands only (`true`).
    Mode(bool),
    /// Add event subscriptions.
    Subscribe(Vec<String>),
    /// Remove event subscriptions.
    Unsubscribe(Vec<String>),
    /// List the events.
    GetEvents,
    /// List the voice aliases.
    GetVoices,
    /// List the chat commands.
    Commands,
}

/// A parsed request: its id (echoed) and what it asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The client's id, echoed in the reply.
    pub id: Value,
    /// What it asks.
    pub action: Action,
}

/// Why a request was refused: the id (if one could be read) and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Bad {
    /// The id, or null.
    pub id: Value,
    /// Why.
    pub error: String,
}

/// The `GetVoices` reply's body: every alias with its voice (the model's name, or `default`
/// for the instance's), speaker, rate, variation and level, and whether chatters get voices
/// by name.
pub fn voices(voices: &super::aliases::VoiceAliases) -> Value {
    let list: Vec<Value> = voices
        .aliases
        .iter()
        .map(|a| {
            serde_json::json!({
                "name": a.name,
                "voice": a.voice_name(),
                "speaker": a.voicing.speaker,
                "rate": shown(a.voicing.rate),
                "variation": shown(a.voicing.variation),
                "levelDb": shown(a.voicing.level_db),
            })
        })
        .collect();
    serde_json::json!({
        "voices": list,
        "perChatter": voices.per_chatter,
        "chatters": voices.chatters.len(),
    })
}

/// A setting as people typed it (0.8, not the nearest `f32`'s 0.800000011920929).
fn shown(value: f32) -> f64 {
    (f64::from(value) * 1e4).round() / 1e4
}

/// The fields bots name a message's sender in, any case: `user` (and `userName`, `user_name`,
/// `displayName`, `chatter`).
const CHATTER_FIELDS: [&str; 5] = ["user", "username", "user_name", "displayname", "chatter"];

/// The chatter a request names, if any (at most [`super::aliases::MAX_CHATTER_NAME`]
/// characters are kept).
pub fn chatter(object: &serde_json::Map<String, Value>) -> Option<String> {
    CHATTER_FIELDS
        .iter()
        .find_map(|name| field_str(object, name))
        .map(|c| {
            c.trim()
                .chars()
                .take(super::aliases::MAX_CHATTER_NAME)
                .collect::<String>()
        })
        .filter(|c| !c.is_empty())
}

fn field_str(object: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
}

fn field_bool(object: &serde_json::Map<String, Value>, name: &str) -> Option<bool> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "on" | "1" | "yes" => Some(true),
                "false" | "off" | "0" | "no" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_f64().map(|n| n != 0.0),
            _ => None,
        })
}

/// Why a `Subscribe`'s `events` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("`events` must be an object of sources, each a list of event types")]
    NotAnObject,
    #[error("`events.{0}` must be a list of event types")]
    NotAList(String),
    #[error("`events.{0}` must hold strings")]
    NotStrings(String),
}

/// The event names of a `Subscribe`'s `events` object, as `source.type`, lower-case.
fn event_names(object: &serde_json::Map<String, Value>) -> Result<Vec<String>, EventsError> {
    let Some(Value::Object(events)) = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("events"))
        .map(|(_, v)| v)
    else {
        return Err(EventsError::NotAnObject);
    };
    let mut names = Vec::new();
    for (source, types) in events {
        let Value::Array(types) = types else {
            return Err(EventsError::NotAList(source.clone()));
        };
        for kind in types.iter().take(64) {
            let Value::String(kind) = kind else {
                return Err(EventsError::NotStrings(source.clone()));
            };
            names.push(format!("{}.{}", source.to_lowercase(), kind.to_lowercase()));
        }
    }
    Ok(names)
}

/// Parses one WebSocket text message.
pub fn parse(text: &str) -> Result<Parsed, Bad> {
    if text.len() > MAX_MESSAGE {
        return Err(Bad {
            id: Value::Null,
            error: format!("the message is larger than {MAX_MESSAGE} bytes"),
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| Bad {
        id: Value::Null,
        error: format!("the message is not JSON: {e}"),
    })?;
    let Value::Object(object) = value else {
        return Err(Bad {
            id: Value::Null,
            error: "the message must be a JSON object".into(),
        });
    };
    let id = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("id"))
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null);
    let bad = |error: String| Bad {
        id: id.clone(),
        error,
    };
    let Some(request) = field_str(&object, "request") else {
        return Err(bad("the message has no `request`".into()));
    };
    let action = match request.to_ascii_lowercase().as_str() {
        "getinfo" => Action::GetInfo,
        "speak" => {
            let message = field_str(&object, "message")
                .ok_or_else(|| bad("Speak needs a `message`".into()))?;
            if message.len() > MAX_TEXT {
                return Err(bad(format!(
                    "the message is {} bytes, more than {MAX_TEXT}",
                    message.len()
                )));
            }
            Action::Speak {
                message,
                voice: field_str(&object, "voice").filter(|v| !v.is_empty()),
                user: chatter(&object),
                bad_word_filter: field_bool(&object, "badWordFilter").unwrap_or(true),
                wait: field_bool(&object, "wait").unwrap_or(false),
            }
        }
        "stop" => Action::Stop,
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "clear" => Action::Clear,
        "enable" | "on" => Action::Enable,
        "disable" | "off" => Action::Disable,
        "events" => Action::Events(
            field_bool(&object, "state")
                .ok_or_else(|| bad("Events needs `state`: on or off".into()))?,
        ),
        "mode" => match field_str(&object, "mode")
            .map(|m| m.to_ascii_lowercase())
            .as_deref()
        {
            Some("all") => Action::Mode(false),
            Some("command") => Action::Mode(true),
            _ => return Err(bad("Mode needs `mode`: all or command".into())),
        },
        "subscribe" => Action::Subscribe(event_names(&object).map_err(|e| bad(e.to_string()))?),
        "unsubscribe" => Action::Unsubscribe(event_names(&object).map_err(|e| bad(e.to_string()))?),
        "getevents" => Action::GetEvents,
        "getvoices" | "getaliases" => Action::GetVoices,
        "commands" | "getcommands" => Action::Commands,
        other => {
            return Err(bad(format!(
                "unknown request `{}`",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    Ok(Parsed { id, action })
}

/// An `ok` reply with extra fields.
pub fn ok(id: &Value, extra: Value) -> String {
    let mut reply = json!({"id": id, "status": "ok"});
    if let (Value::Object(reply), Value::Object(extra)) = (&mut reply, extra) {
        reply.extend(extra);
    }
    reply.to_string()
}

/// An `error` reply.
pub fn error(id: &Value, message: &str) -> String {
    json!({"id": id, "status": "error", "error": message}).to_string()
}

/// What a phrase went through, for its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Accepted into the queue.
    TextQueued,
    /// Its first sample was heard.
    Playing,
    /// One of its words started being heard (`data.word`: its index, text and times).
    Word,
    /// Heard to its end.
    Finished,
    /// Stopped, skipped or cleared.
    Deleted,
    /// Could not be spoken.
    Error,
}

impl Stage {
    /// The event type as sent.
    pub fn name(self) -> &'static str {
        match self {
            Self::TextQueued => EVENT_TYPES[0],
            Self::Playing => EVENT_TYPES[1],
            Self::Word => EVENT_TYPES[2],
            Self::Finished => EVENT_TYPES[3],
            Self::Deleted => EVENT_TYPES[4],
            Self::Error => EVENT_TYPES[5],
        }
    }

    /// Whether the phrase is done with.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finished | Self::Deleted | Self::Error)
    }
}

/// Whether a subscription list (`source.type`, lower-case; `*` for all of a source) covers an
/// event type.
pub fn subscribed(subscriptions: &[String], stage: Stage) -> bool {
    let source = SOURCE.to_lowercase();
    let wanted = format!("{source}.{}", stage.name().to_lowercase());
    subscriptions
        .iter()
        .any(|s| *s == wanted || *s == format!("{source}.*"))
}

/// Whether a subscription list asks for the phonemes in `Word` events ([`PHONEMES`]).
pub fn wants_phonemes(subscriptions: &[String]) -> bool {
    let wanted = format!("{}.{}", SOURCE.to_lowercase(), PHONEMES.to_lowercase());
    subscriptions.contains(&wanted)
}

/// A `Word` event's `word`: its index in the phrase, its text as written, its start and end in
/// milliseconds from the phrase's first sample, and with `phonemes`, each phoneme with its
/// times.
pub fn word(word: &WordTiming, sample_rate: u32, phonemes: bool) -> Value {
    let ms = |samples: u64| {
        let ms = samples as f64 * 1000.0 / f64::from(sample_rate.max(1));
        (ms * 10.0).round() / 10.0
    };
    let mut value = json!({
        "index": word.index,
        "text": word.text,
        "start": ms(word.span.start),
        "end": ms(word.span.end),
    });
    if phonemes {
        value["phonemes"] = word
            .phonemes
            .iter()
            .map(|p| json!({"phoneme": p.phoneme.to_string(), "start": ms(p.span.start), "end": ms(p.span.end)}))
            .collect();
    }
    value
}

/// The text of an event.
pub fn event(
    stage: Stage,
    speech_id: u32,
    message: &str,
    duration_ms: Option<f64>,
    error: Option<&str>,
    time_stamp: &str,
) -> String {
    event_with(
        stage,
        speech_id,
        Some(message),
        duration_ms,
        error,
        None,
        time_stamp,
    )
}

/// [`event`] with a `Word` event's `word` ([`word`]); `message` is left out when `None` (a
/// client already given the phrase's text gets only the word).
pub fn event_with(
    stage: Stage,
    speech_id: u32,
    message: Option<&str>,
    duration_ms: Option<f64>,
    error: Option<&str>,
    word: Option<Value>,
    time_stamp: &str,
) -> String {
    let mut data = json!({"speechId": speech_id});
    if let Some(message) = message {
        data["message"] = json!(message);
    }
    if let Some(word) = word {
        data["word"] = word;
    }
    if let Some(duration) = duration_ms {
        data["duration"] = json!(duration.round() as u64);
    }
    if let Some(error) = error {
        data["error"] = json!(error);
    }
    json!({
        "timeStamp": time_stamp,
        "event": {"source": SOURCE, "type": stage.name()},
        "data": data,
    })
    .to_string()
}

/// Now as an RFC 3339 UTC time stamp with milliseconds.
pub fn time_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn streamer_bot_requests_parse() {
        let p = parse(r#"{"id":"a1","request":"Speak","voice":"EventVoice","message":"hi","badWordFilter":false}"#).unwrap();
        assert_eq!(p.id, json!("a1"));
        assert_eq!(
            p.action,
            Action::Speak {
                message: "hi".into(),
                voice: Some("EventVoice".into()),
                user: None,
                bad_word_filter: false,
                wait: false
            }
        );
        let p = parse(r#"{"request":"Speak","message":"hi","userName":"  @Viewer_1 "}"#).unwrap();
        assert!(
            matches!(&p.action, Action::Speak { user: Some(u), voice: None, .. } if u == "@Viewer_1"),
            "{:?}",
            p.action
        );
        for (name, action) in [
            ("GetInfo", Action::GetInfo),
            ("Stop", Action::Stop),
            ("Pause", Action::Pause),
            ("Resume", Action::Resume),
            ("Clear", Action::Clear),
            ("Enable", Action::Enable),
            ("Disable", Action::Disable),
            ("GetEvents", Action::GetEvents),
            ("GetVoices", Action::GetVoices),
        ] {
            assert_eq!(
                parse(&format!(r#"{{"id":"x","request":"{name}"}}"#))
                    .unwrap()
                    .action,
                action
            );
        }
        assert_eq!(
            parse(r#"{"id":"x","request":"Events","state":"off"}"#)
                .unwrap()
                .action,
            Action::Events(false)
        );
        assert_eq!(
            parse(r#"{"id":"x","request":"Subscribe","events":{"TextToSpeech":["Finished","*"]}}"#)
                .unwrap()
                .action,
            Action::Subscribe(vec![
                "texttospeech.finished".into(),
                "texttospeech.*".into()
            ])
        );
    }

    #[test]
    fn bad_requests_get_a_reason_and_keep_their_id() {
        assert_eq!(parse("not json").unwrap_err().id, Value::Null);
        let bad = parse(r#"{"id":7,"request":"Speak"}"#).unwrap_err();
        assert_eq!((bad.id, bad.error.contains("message")), (json!(7), true));
        assert!(parse(r#"{"id":7,"request":"Launch"}"#).is_err());
        assert!(parse(r#"[1,2]"#).is_err());
        let huge = format!(
            r#"{{"request":"Speak","message":"{}"}}"#,
            "a".repeat(MAX_TEXT + 1)
        );
        assert!(parse(&huge).is_err());
    }

    #[test]
    fn events_match_subscriptions_and_carry_the_duration() {
        let subs = vec!["texttospeech.finished".to_owned()];
        assert!(subscribed(&subs, Stage::Finished));
        assert!(!subscribed(&subs, Stage::Playing));
        assert!(subscribed(&["texttospeech.*".to_owned()], Stage::Playing));
        let e: Value =
            serde_json::from_str(&event(Stage::Finished, 3, "hi", Some(1234.4), None, "t"))
                .unwrap();
        assert_eq!(e["event"]["type"], "Finished");
        assert_eq!(e["data"]["duration"], 1234);
        assert_eq!(time_stamp().len(), 24);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn json_shaped_garbage_never_panics(id in any::<i64>(), req in "[A-Za-z]{0,12}", msg in "\\PC{0,50}") {
            let text = json!({"id": id, "request": req, "message": msg, "events": {"a": [msg.clone()]}}).to_string();
            let _ = parse(&text);
        }
    }

    #[test]
    fn word_events_carry_times_and_phonemes_only_when_asked() {
        use crate::tts::timings::{PhonemeTiming, Span};
        let cats = WordTiming {
            index: 2,
            text: "cats".into(),
            range: Some((5, 9)),
            span: Span {
                start: 4800,
                end: 9600,
            },
            phonemes: vec![PhonemeTiming {
                phoneme: 'k',
                span: Span {
                    start: 4800,
                    end: 5280,
                },
            }],
        };
        let plain = word(&cats, 48_000, false);
        assert_eq!(
            plain,
            json!({"index": 2, "text": "cats", "start": 100.0, "end": 200.0})
        );
        let detailed = word(&cats, 48_000, true);
        assert_eq!(
            detailed["phonemes"],
            json!([{"phoneme": "k", "start": 100.0, "end": 110.0}])
        );
        let subs = vec!["texttospeech.word".to_owned()];
        assert!(subscribed(&subs, Stage::Word) && !wants_phonemes(&subs));
        assert!(wants_phonemes(&["texttospeech.phonemes".to_owned()]));
        let text = event_with(Stage::Word, 7, None, None, None, Some(plain), "t");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["event"]["type"], "Word");
        assert_eq!(parsed["data"]["word"]["text"], "cats");
        assert!(parsed["data"].get("message").is_none());
    }
}

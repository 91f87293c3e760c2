//! Non-parameter state saved with the host's project: what the user typed, under a schema
//! version so later releases can migrate it.

use crate::tts::text::lexicon::{Lexicon, LexiconError};
use crate::tts::voice::config::Delivery;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The schema this build writes. Bump it when [`Session`] changes shape, and teach
/// [`Session::validate`] to accept (and migrate) the older one.
///
/// - 1: text and dictionary.
/// - 2: adds the voice, its delivery and the editor's size (schema 1 loads with their defaults).
/// - 3: adds the local API's settings (older schemas load with the API off).
pub const SESSION_SCHEMA: u32 = 3;

/// The editor's size when nothing was saved, logical pixels.
pub const DEFAULT_EDITOR_SIZE: (u32, u32) = (900, 600);

/// The largest editor size a project may ask for (an 8K screen); a larger saved size is
/// brought down to it (the editor itself keeps its own smallest size).
pub const MAX_EDITOR_SIZE: (u32, u32) = (7680, 4320);

/// A saved editor size within [`MAX_EDITOR_SIZE`].
pub fn bounded_editor_size((width, height): (u32, u32)) -> (u32, u32) {
    (width.min(MAX_EDITOR_SIZE.0), height.min(MAX_EDITOR_SIZE.1))
}

/// The largest editor text kept in a project (8 MiB). A host should never hand us more; a
/// bigger blob is corrupt or hostile and is refused.
pub const MAX_TEXT_BYTES: usize = 8 << 20;

/// The most pronunciation entries a project may hold.
pub const MAX_DICTIONARY_ENTRIES: usize = 10_000;

/// Everything Orator saves besides its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Version of this layout; see [`SESSION_SCHEMA`].
    pub schema: u32,
    /// The editor's text, exactly as typed.
    pub text: String,
    /// The user's pronunciation dictionary: word → respelling or `[[ phonemes ]]`.
    #[serde(default)]
    pub dictionary: BTreeMap<String, String>,
    /// The voice model (`None`: the bundled default voice). Saved losslessly, whatever bytes
    /// the path holds (see [`voice_path`]).
    #[serde(default, with = "voice_path")]
    pub voice: Option<PathBuf>,
    /// Pace, variation, phrasing and speaker.
    #[serde(default)]
    pub delivery: Delivery,
    /// The editor window's size, logical pixels.
    #[serde(default = "default_editor_size")]
    pub editor_size: (u32, u32),
    /// The local API (Speaker.bot-compatible WebSocket, OpenAI-compatible HTTP).
    #[serde(default)]
    pub api: crate::api::ApiSettings,
}

fn default_editor_size() -> (u32, u32) {
    DEFAULT_EDITOR_SIZE
}

impl Default for Session {
    fn default() -> Self {
        Self {
            schema: SESSION_SCHEMA,
            text: String::new(),
            dictionary: BTreeMap::new(),
            voice: None,
            delivery: Delivery::default(),
            editor_size: DEFAULT_EDITOR_SIZE,
            api: crate::api::ApiSettings::at_startup(),
        }
    }
}

/// A voice path as saved: a string when it is UTF-8 (every path any release wrote), else its
/// bytes (`{"unix_bytes": [...]}`), so a path with any bytes in it saves and loads unchanged.
mod voice_path {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::path::PathBuf;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Saved {
        Text(String),
        Bytes { unix_bytes: Vec<u8> },
    }

    pub(super) fn serialize<S: Serializer>(
        path: &Option<PathBuf>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let saved = path.as_ref().map(|p| match p.to_str() {
            Some(text) => Saved::Text(text.to_owned()),
            None => Saved::Bytes {
                unix_bytes: p.as_os_str().as_encoded_bytes().to_vec(),
            },
        });
        saved.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<PathBuf>, D::Error> {
        Ok(match Option::<Saved>::deserialize(deserializer)? {
            None => None,
            Some(Saved::Text(text)) => Some(PathBuf::from(text)),
            Some(Saved::Bytes { unix_bytes }) => Some(from_bytes(unix_bytes)),
        })
    }

    #[cfg(unix)]
    fn from_bytes(bytes: Vec<u8>) -> PathBuf {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }

    #[cfg(not(unix))]
    fn from_bytes(bytes: Vec<u8>) -> PathBuf {
        PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Why a saved session was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// Saved by a newer Orator.
    #[error(
        "the project was saved by a newer Orator (session schema {found}, this build reads up to \
         {SESSION_SCHEMA}); update Orator to open it without losing its text"
    )]
    NewerSchema {
        /// The schema found in the blob.
        found: u32,
    },
    /// Schema 0 was never written by any release.
    #[error("the saved session has schema 0, which no Orator release writes; the blob is corrupt")]
    UnknownSchema,
    /// The dictionary has an invalid entry.
    #[error("the saved pronunciation dictionary is invalid: {0}")]
    Dictionary(#[from] LexiconError),
    /// The dictionary is larger than any real project holds.
    #[error(
        "the saved pronunciation dictionary has {0} entries, more than {MAX_DICTIONARY_ENTRIES}"
    )]
    DictionaryTooLarge(usize),
    /// The API settings are out of range.
    #[error("the saved API settings are invalid: {0}")]
    Api(#[from] crate::api::SettingsError),
    /// The text is larger than any real project holds.
    #[error("the saved text is {bytes} bytes, more than the {MAX_TEXT_BYTES}-byte limit")]
    TextTooLarge {
        /// Size of the refused text.
        bytes: usize,
    },
    /// The blob is not a session at all.
    #[error("the saved session is damaged: {0}")]
    Damaged(String),
}

impl Session {
    /// Checks a session read from a project before it replaces the current one.
    pub fn validate(&self) -> Result<(), SessionError> {
        match self.schema {
            0 => return Err(SessionError::UnknownSchema),
            s if s > SESSION_SCHEMA => return Err(SessionError::NewerSchema { found: s }),
            _ => {}
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(SessionError::TextTooLarge {
                bytes: self.text.len(),
            });
        }
        if self.dictionary.len() > MAX_DICTIONARY_ENTRIES {
            return Err(SessionError::DictionaryTooLarge(self.dictionary.len()));
        }
        Lexicon::new(&self.dictionary)?;
        self.api.validate()?;
        Ok(())
    }
}

/// What a saved session held that this build could not take, kept so that saving the project
/// again loses none of it.
#[derive(Debug, Default)]
struct Kept {
    /// Fields this build does not know (a newer Orator's), by name.
    fields: Map<String, Value>,
    /// The newer schema they came with.
    schema: Option<u64>,
    /// Dictionary entries this build refused, by word.
    dictionary: Map<String, Value>,
    /// A blob refused whole while the session was untouched, and the session's generation
    /// then: it is saved back as it was until the session changes.
    refused: Option<(Value, u64)>,
}

/// A saved session read field by field: what loads, what is kept aside, what to tell the user.
struct Salvaged {
    session: Session,
    kept: Kept,
    warnings: Vec<String>,
}

/// Reads a saved session leniently: the schema and the text must be there and sound (they are
/// what the project is), and each other field loads if it can. A dictionary entry, unknown
/// field or setting that cannot is left out (and kept, where saving it back is safe), with a
/// warning.
fn salvage(saved: &Value) -> Result<Salvaged, SessionError> {
    let Value::Object(fields) = saved else {
        return Err(SessionError::Damaged("it is not a JSON object".into()));
    };
    let schema = match fields.get("schema").and_then(Value::as_u64) {
        Some(0) => return Err(SessionError::UnknownSchema),
        Some(schema) => schema,
        None => return Err(SessionError::Damaged("it has no schema number".into())),
    };
    let Some(text) = fields.get("text").and_then(Value::as_str) else {
        return Err(SessionError::Damaged("it has no text".into()));
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(SessionError::TextTooLarge { bytes: text.len() });
    }
    let mut session = Session {
        schema: SESSION_SCHEMA,
        text: text.to_owned(),
        ..Session::default()
    };
    let mut kept = Kept::default();
    let mut warnings = Vec::new();
    if schema > u64::from(SESSION_SCHEMA) {
        kept.schema = Some(schema);
        warnings.push(format!(
            "this project was saved by a newer Orator (session schema {schema}; this build \
             reads up to {SESSION_SCHEMA}): its text and the settings this build knows are \
             loaded, the rest is kept and saved back unchanged"
        ));
    }
    for (name, value) in fields {
        match name.as_str() {
            "schema" | "text" => {}
            "dictionary" => {
                let Value::Object(entries) = value else {
                    warnings
                        .push("the pronunciation dictionary is damaged and was left out".into());
                    continue;
                };
                let mut refused = Vec::new();
                for (word, respelling) in entries {
                    let entry = respelling
                        .as_str()
                        .map(|r| BTreeMap::from([(word.clone(), r.to_owned())]));
                    let fits = session.dictionary.len() < MAX_DICTIONARY_ENTRIES;
                    match entry.map(|e| Lexicon::new(&e).map(|_| e)) {
                        Some(Ok(entry)) if fits => session.dictionary.extend(entry),
                        _ => {
                            kept.dictionary.insert(word.clone(), respelling.clone());
                            refused.push(word.chars().take(40).collect::<String>());
                        }
                    }
                }
                if !refused.is_empty() {
                    warnings.push(format!(
                        "{} pronunciation entr{} could not be used and {} kept aside: {}",
                        refused.len(),
                        if refused.len() == 1 { "y" } else { "ies" },
                        if refused.len() == 1 { "is" } else { "are" },
                        refused
                            .iter()
                            .take(5)
                            .map(|w| format!("{w:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            "voice" => match voice_path::deserialize(value.clone()) {
                Ok(voice) => session.voice = voice,
                Err(_) => warnings
                    .push("the saved voice could not be read; the default voice speaks".into()),
            },
            // A rate too large for an `f32` reads as infinity, which a save would write as
            // `null`: such a delivery is not loaded, so what is saved loads the same again.
            "delivery" => match serde_json::from_value::<Delivery>(value.clone()) {
                Ok(delivery) if delivery.rate.is_finite() && delivery.variation.is_finite() => {
                    session.delivery = delivery
                }
                _ => warnings.push(
                    "the saved rate, variation and speaker could not be read; the defaults apply"
                        .into(),
                ),
            },
            "editor_size" => {
                if let Ok(size) = serde_json::from_value::<(u32, u32)>(value.clone()) {
                    session.editor_size = bounded_editor_size(size);
                }
            }
            "api" => match serde_json::from_value::<crate::api::ApiSettings>(value.clone()) {
                Ok(api) if api.validate().is_ok() => session.api = api,
                _ => {
                    warnings.push("the saved API settings could not be read; the API is off".into())
                }
            },
            _ => {
                kept.fields.insert(name.clone(), value.clone());
            }
        }
    }
    if kept.schema.is_none() && !kept.fields.is_empty() {
        let names: Vec<&str> = kept.fields.keys().map(String::as_str).take(5).collect();
        warnings.push(format!(
            "the project holds settings this build does not know ({}); they are kept and \
             saved back unchanged",
            names.join(", ")
        ));
    }
    Ok(Salvaged {
        session,
        kept,
        warnings,
    })
}

/// The session shared between the editor (writes the text), the host's state save/load (main
/// thread) and the speech thread (reads the text when a phrase starts).
///
/// A `RwLock` is fine here because the audio thread never touches it; readers are short (a clone
/// of the text). A poisoned lock is recovered rather than propagated: the data is plain values,
/// so a panic elsewhere cannot leave it half-written.
#[derive(Debug, Default)]
pub struct SharedSession {
    session: RwLock<Session>,
    /// Bumped on every change, so the editor notices a state load without comparing texts.
    generation: AtomicU64,
    /// What the last saved session held that this build could not take (main thread).
    kept: Mutex<Kept>,
    /// What the user should know about the last load (the editor shows it).
    warning: Mutex<Option<String>>,
}

impl SharedSession {
    /// A copy of the current session.
    pub fn snapshot(&self) -> Session {
        self.read(Session::clone)
    }

    /// Counts changes: differs from an earlier value exactly when the session changed since.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the text the editor shows.
    pub fn set_text(&self, text: String) {
        self.update(|session| session.text = text);
    }

    /// Changes the session in place (main or editor thread; never the audio thread).
    pub fn update<R>(&self, change: impl FnOnce(&mut Session) -> R) -> R {
        let mut session = self.session.write().unwrap_or_else(|e| e.into_inner());
        let result = change(&mut session);
        self.generation.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// Reads the session in place, without copying the text.
    pub fn read<R>(&self, look: impl FnOnce(&Session) -> R) -> R {
        look(&self.session.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the whole session after validating it; on error the current session is kept.
    pub fn try_replace(&self, mut session: Session) -> Result<(), SessionError> {
        session.validate()?;
        session.editor_size = bounded_editor_size(session.editor_size);
        self.update(|current| *current = session);
        Ok(())
    }

    /// Loads a session saved in a project (main thread). What can be loaded is; what cannot
    /// is kept aside and saved back by [`Self::saved`]; the reason is returned and shown in the
    /// editor ([`Self::warning`]). A blob refused whole leaves the current session as it is,
    /// and if that session is still untouched (a fresh instance opening the project), the
    /// refused blob is what the next save writes, so the project's text is never overwritten
    /// with nothing.
    pub fn load_saved(&self, saved: Value) -> Option<String> {
        let warning = match salvage(&saved) {
            Ok(salvaged) => {
                self.update(|current| *current = salvaged.session);
                *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = salvaged.kept;
                (!salvaged.warnings.is_empty()).then(|| salvaged.warnings.join("; "))
            }
            Err(why) => {
                let untouched = self.read(|s| *s == Session::default());
                let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
                if untouched {
                    kept.refused = Some((saved, self.generation()));
                    Some(format!(
                        "the project's Orator session could not be loaded ({why}); it is kept \
                         unchanged and saved back as it was until you edit"
                    ))
                } else {
                    Some(format!(
                        "the saved Orator session could not be loaded ({why}); the current one \
                         is kept"
                    ))
                }
            }
        };
        *self.warning.lock().unwrap_or_else(|e| e.into_inner()) = warning.clone();
        warning
    }

    /// The session as it is saved into the project: the current one with what the last load
    /// kept aside put back, or a refused blob unchanged while nothing was edited since.
    pub fn saved(&self) -> Value {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((blob, generation)) = &kept.refused
            && *generation == self.generation()
        {
            return blob.clone();
        }
        let mut saved = self
            .read(|s| serde_json::to_value(s))
            .unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut saved {
            for (name, value) in &kept.fields {
                fields.entry(name.clone()).or_insert_with(|| value.clone());
            }
            if let Some(schema) = kept.schema {
                fields.insert("schema".into(), schema.into());
            }
            if !kept.dictionary.is_empty()
                && let Some(Value::Object(entries)) = fields.get_mut("dictionary")
            {
                for (word, respelling) in &kept.dictionary {
                    entries
                        .entry(word.clone())
                        .or_insert_with(|| respelling.clone());
                }
            }
        }
        saved
    }

    /// What the user should know about the last project load, if anything.
    pub fn warning(&self) -> Option<String> {
        self.warning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The session as the project holds it: JSON of any shape, so that a newer, older or damaged
/// one reaches [`SharedSession::load_saved`] instead of being dropped before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SavedSession(pub Value);

impl<'a> nice_plug::params::persist::PersistentField<'a, SavedSession> for Arc<SharedSession> {
    fn set(&self, SavedSession(saved): SavedSession) {
        if let Some(warning) = self.load_saved(saved) {
            // Main thread (state load): logging is allowed here.
            nice_plug::nice_error!("Orator: {warning}");
        }
        // The loaded project may enable or disable the local API.
        crate::api::refresh();
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&SavedSession) -> R,
    {
        f(&SavedSession(self.saved()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_or_zero_schema_and_huge_text_are_refused_keeping_the_old_session() {
        let shared = SharedSession::default();
        shared.set_text("keep me".into());
        for bad in [
            Session {
                schema: SESSION_SCHEMA + 1,
                text: "new".into(),
                ..Session::default()
            },
            Session {
                schema: 0,
                text: "zero".into(),
                ..Session::default()
            },
            Session {
                schema: SESSION_SCHEMA,
                text: "x".repeat(MAX_TEXT_BYTES + 1),
                ..Session::default()
            },
            Session {
                dictionary: [("two words".to_string(), "x".to_string())].into(),
                ..Session::default()
            },
        ] {
            assert!(shared.try_replace(bad).is_err());
            assert_eq!(shared.snapshot().text, "keep me");
        }
        let err = Session {
            schema: 7,
            ..Session::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("update Orator"), "{err}");
    }

    #[test]
    fn unknown_fields_and_wrong_types_do_not_deserialize() {
        assert!(serde_json::from_str::<Session>(r#"{"schema":1,"text":"a","x":1}"#).is_err());
        assert!(serde_json::from_str::<Session>(r#"{"schema":"1","text":"a"}"#).is_err());
        let ok: Session = serde_json::from_str(r#"{"schema":1,"text":"héllo ✓"}"#).unwrap();
        assert_eq!(ok.text, "héllo ✓");
        assert!(
            ok.dictionary.is_empty(),
            "older sessions without a dictionary still load"
        );
        let with_dict: Session =
            serde_json::from_str(r#"{"schema":1,"text":"","dictionary":{"gif":"jif"}}"#).unwrap();
        assert_eq!(with_dict.dictionary["gif"], "jif");
        assert_eq!(
            (
                with_dict.voice.clone(),
                with_dict.delivery,
                with_dict.editor_size
            ),
            (None, Delivery::default(), DEFAULT_EDITOR_SIZE),
            "schema 1 sessions load with the defaults of what schema 2 added"
        );
        with_dict.validate().unwrap();
    }

    #[test]
    fn a_huge_saved_editor_size_is_brought_down() {
        let shared = SharedSession::default();
        let saved = serde_json::json!({
            "schema": 2, "text": "t", "dictionary": {}, "editor_size": [4_000_000_000u32, 3000]
        });
        assert_eq!(shared.load_saved(saved), None);
        assert_eq!(shared.read(|s| s.editor_size), (MAX_EDITOR_SIZE.0, 3000));
        let huge = Session {
            editor_size: (10, u32::MAX),
            ..Session::default()
        };
        shared.try_replace(huge).unwrap();
        assert_eq!(shared.read(|s| s.editor_size), (10, MAX_EDITOR_SIZE.1));
    }

    /// Sessions as each schema wrote them (field order and all), the way projects hold them.
    const SCHEMA_1: &str =
        r#"{"schema":1,"text":"Hello there.\nSecond line.","dictionary":{"gif":"jif"}}"#;
    const SCHEMA_2: &str = r#"{"schema":2,"text":"Two","dictionary":{},"voice":"/v/en_GB-alba-medium.onnx","delivery":{"rate":1.25,"variation":0.5,"whole_sentences":true,"speaker":3},"editor_size":[1200,700]}"#;
    const SCHEMA_3: &str = r#"{"schema":3,"text":"Three","dictionary":{"Orator":"[[ ˈɔːɹeɪtɚ ]]"},"voice":null,"delivery":{"rate":1.0,"variation":1.0,"whole_sentences":false,"speaker":null},"editor_size":[900,600],"api":{"enabled":true,"port":7581,"udp_port":0,"token":"t","filter_editor":false,"emoji":"FirstName","max_chars":500,"word_list":null}}"#;

    fn load(json: &str) -> (SharedSession, Option<String>) {
        let shared = SharedSession::default();
        let warning = shared.load_saved(serde_json::from_str(json).unwrap());
        (shared, warning)
    }

    /// Found by the `session` fuzz target: a rate of 1e83 read as infinity, was saved as
    /// `null`, and the saved session then loaded with the default delivery (speaker and
    /// whole-sentences lost between two saves).
    #[test]
    fn a_rate_beyond_f32_is_not_loaded_and_a_save_loads_the_same_again() {
        let huge = r#"{"schema":1,"text":"^","delivery":{"rate":1e83,"whole_sentences":true,"speaker":3}}"#;
        let (first, warning) = load(huge);
        assert!(warning.is_some_and(|w| w.contains("rate")));
        assert!(first.snapshot().delivery.rate.is_finite());
        let (second, _) = load(&first.saved().to_string());
        assert_eq!(second.snapshot(), first.snapshot());
        assert_eq!(second.saved(), first.saved());
    }

    #[test]
    fn every_schema_so_far_loads_whole_without_a_warning() {
        let (one, warning) = load(SCHEMA_1);
        assert_eq!(warning, None);
        let one = one.snapshot();
        assert_eq!(
            (
                one.text.as_str(),
                one.dictionary["gif"].as_str(),
                one.voice,
                one.delivery
            ),
            (
                "Hello there.\nSecond line.",
                "jif",
                None,
                Delivery::default()
            )
        );
        let (two, warning) = load(SCHEMA_2);
        assert_eq!(warning, None);
        let two = two.snapshot();
        assert_eq!(two.voice, Some(PathBuf::from("/v/en_GB-alba-medium.onnx")));
        assert_eq!(
            (two.delivery.rate, two.delivery.speaker, two.editor_size),
            (1.25, Some(3), (1200, 700))
        );
        assert!(!two.api.enabled, "schema 2 had no API: it stays off");
        let (three, warning) = load(SCHEMA_3);
        assert_eq!(warning, None);
        let three = three.snapshot();
        assert_eq!(
            (three.api.enabled, three.api.port, three.api.token.as_str()),
            (true, 7581, "t")
        );
        assert_eq!(three.dictionary["Orator"], "[[ ˈɔːɹeɪtɚ ]]");
    }

    #[test]
    fn a_newer_session_loads_what_it_can_and_saves_the_rest_back() {
        let newer = r#"{"schema":9,"text":"From the future.","captions":{"font":"Inter"},"dictionary":{"gif":"jif"}}"#;
        let (shared, warning) = load(newer);
        let warning = warning.expect("a warning");
        assert!(
            warning.contains("newer Orator") && warning.contains("schema 9"),
            "{warning}"
        );
        assert_eq!(shared.snapshot().text, "From the future.");
        let saved = shared.saved();
        assert_eq!(saved["schema"], 9);
        assert_eq!(saved["captions"]["font"], "Inter");
        assert_eq!(saved["dictionary"]["gif"], "jif");
        // Edited and saved again: the edit is kept, and so are the newer settings.
        shared.set_text("Edited.".into());
        let saved = shared.saved();
        assert_eq!(
            (saved["text"].as_str(), saved["captions"]["font"].as_str()),
            (Some("Edited."), Some("Inter"))
        );
    }

    #[test]
    fn one_bad_dictionary_entry_or_setting_loses_nothing_else() {
        let blob = r#"{"schema":3,"text":"Keep me.","dictionary":{"gif":"jif","two words":"x","ok":"okay"},"api":{"port":0},"delivery":"fast"}"#;
        let (shared, warning) = load(blob);
        let warning = warning.expect("a warning");
        assert!(warning.contains("\"two words\""), "{warning}");
        assert!(
            warning.contains("API") && warning.contains("rate"),
            "{warning}"
        );
        let session = shared.snapshot();
        assert_eq!(session.text, "Keep me.");
        assert_eq!(session.dictionary.len(), 2);
        assert!(!session.api.enabled);
        // The refused entry goes back into the project.
        assert_eq!(shared.saved()["dictionary"]["two words"], "x");
    }

    #[test]
    fn a_refused_blob_is_never_overwritten_by_an_empty_session() {
        for blob in [
            r#"{"schema":3,"text":7}"#,
            r#"{"text":"no schema"}"#,
            r#"[1, 2, 3]"#,
            r#"{"schema":0,"text":"zero"}"#,
        ] {
            let (shared, warning) = load(blob);
            assert!(
                warning.is_some_and(|w| w.contains("kept unchanged")),
                "{blob}"
            );
            assert_eq!(
                shared.saved(),
                serde_json::from_str::<Value>(blob).unwrap(),
                "{blob}"
            );
            // Once the user edits, their session is what is saved.
            shared.set_text("New text.".into());
            assert_eq!(shared.saved()["text"], "New text.");
        }
        // Into an instance that already holds a session, a refused blob changes nothing.
        let (shared, _) = load(SCHEMA_3);
        let warning = shared.load_saved(serde_json::json!({"schema": 3}));
        assert!(warning.is_some_and(|w| w.contains("current one is kept")));
        assert_eq!(shared.snapshot().text, "Three");
        assert_eq!(shared.saved()["text"], "Three");
    }

    #[cfg(unix)]
    #[test]
    fn a_voice_path_that_is_not_utf8_saves_and_loads_unchanged() {
        use std::os::unix::ffi::OsStringExt;
        let path = PathBuf::from(std::ffi::OsString::from_vec(
            b"/voices/caf\xe9.onnx".to_vec(),
        ));
        let shared = SharedSession::default();
        shared.update(|s| s.voice = Some(path.clone()));
        let saved = shared.saved();
        assert!(saved["voice"].is_object(), "{saved}");
        let (back, warning) = load(&saved.to_string());
        assert_eq!(warning, None);
        assert_eq!(back.snapshot().voice, Some(path));
    }

    #[test]
    fn saving_twice_gives_the_same_bytes() {
        let (shared, _) = load(SCHEMA_3);
        let once = shared.saved().to_string();
        let (again, _) = load(&once);
        assert_eq!(again.saved().to_string(), once);
    }

    #[test]
    fn schema_2_round_trips_voice_delivery_and_editor_size() {
        let session = Session {
            text: "line one\nline two".into(),
            voice: Some("/voices/en_GB-alba-medium.onnx".into()),
            delivery: Delivery {
                rate: 1.25,
                variation: 0.5,
                whole_sentences: true,
                speaker: Some(3),
            },
            editor_size: (1200, 700),
            ..Session::default()
        };
        let json = serde_json::to_string(&session).unwrap();
        let back: Session = serde_json::from_str(&json).unwrap();
        assert_eq!(back, session);
        back.validate().unwrap();
    }
}

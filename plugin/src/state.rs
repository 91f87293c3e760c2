//! Non-parameter state saved with the host's project: what the user typed, under a schema
//! version so later releases can migrate it.

use crate::tts::text::lexicon::{Lexicon, LexiconError};
use crate::tts::voice::config::Delivery;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The schema this build writes. Bump it when [`Session`] changes shape, and teach
/// [`Session::validate`] to accept (and migrate) the older one.
///
/// - 1: text and dictionary.
/// - 2: adds the voice, its delivery and the editor's size (schema 1 loads with their defaults).
/// - 3: adds the local API's settings (older schemas load with the API off).
pub const SESSION_SCHEMA: u32 = 3;

/// The editor's size when nothing was saved, logical pixels.
pub const DEFAULT_EDITOR_SIZE: (u32, u32) = (900, 600);

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
    /// The voice model (`None`: the bundled default voice).
    #[serde(default)]
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
    Api(String),
    /// The text is larger than any real project holds.
    #[error("the saved text is {bytes} bytes, more than the {MAX_TEXT_BYTES}-byte limit")]
    TextTooLarge {
        /// Size of the refused text.
        bytes: usize,
    },
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
        self.api.validate().map_err(SessionError::Api)?;
        Ok(())
    }
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
    pub fn try_replace(&self, session: Session) -> Result<(), SessionError> {
        session.validate()?;
        self.update(|current| *current = session);
        Ok(())
    }
}

impl<'a> nice_plug::params::persist::PersistentField<'a, Session> for Arc<SharedSession> {
    fn set(&self, new_value: Session) {
        if let Err(err) = self.try_replace(new_value) {
            // Main thread (state load): logging is allowed here.
            nice_plug::nice_error!("Ignoring the saved Orator session: {err}");
        }
        // The loaded project may enable or disable the local API.
        crate::api::refresh();
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Session) -> R,
    {
        self.read(f)
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

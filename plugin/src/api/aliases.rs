//! Voice aliases: named voices chat bots ask for (Speaker.bot's aliases), each a voice file
//! plus a speaker, pace, variation and level, and the rule that gives each chatter a voice of
//! their own (a chatter named in the table gets that alias; with per-chatter voices on, any
//! other chatter gets one of the aliases, picked by a stable hash of their name). Saved with the
//! API settings; `orator serve` reads them from a JSON file ([`VoiceAliases::load`]).
//!
//! Thread model: plain data, read by the server's threads and edited by the editor's.

use crate::playback::voicing::{LEVEL_DB, Voicing};
use crate::tts::hash::fnv1a;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The most aliases kept.
pub const MAX_ALIASES: usize = 64;

/// The longest alias name, in characters.
pub const MAX_NAME: usize = 40;

/// The most chatters the table names.
pub const MAX_CHATTERS: usize = 4096;

/// The longest chatter name, in characters (Twitch's are at most 25, YouTube's handles 30).
pub const MAX_CHATTER_NAME: usize = 64;

/// The largest alias file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// What a `voice` naming the chatter instead of an alias starts with (`user:%user%` in a
/// Streamer.bot Speak sub-action, whose voice field is the only one it sends).
pub const CHATTER_PREFIX: &str = "user:";

/// What replies and lists name the instance's own voice as.
pub const INSTANCE_VOICE: &str = "default";

/// One named voice: a name and how it voices a phrase (saved flat: `name`, `voice`,
/// `speaker`, `rate`, `variation`, `level_db`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceAlias {
    /// What clients ask for (case-insensitive).
    pub name: String,
    /// Its voice file, speaker, rate (0.25 to 4), variation (0 to 2) and level (dB).
    #[serde(flatten)]
    pub voicing: Voicing,
}

impl VoiceAlias {
    /// Its voice as lists show it: the model's file name, or [`INSTANCE_VOICE`].
    pub fn voice_name(&self) -> String {
        self.voicing
            .model
            .as_ref()
            .and_then(|v| v.file_stem())
            .map_or_else(
                || INSTANCE_VOICE.to_owned(),
                |s| s.to_string_lossy().into_owned(),
            )
    }
}

/// The aliases and the chatters' voices.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceAliases {
    /// The aliases, in the order they are listed.
    pub aliases: Vec<VoiceAlias>,
    /// Whether a chatter the table does not name gets an alias by their name.
    pub per_chatter: bool,
    /// Chatters (any case) given an alias.
    pub chatters: BTreeMap<String, String>,
}

/// What a request is spoken with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice<'a> {
    /// The instance's voice (no alias asked for, or no rule gives the chatter one).
    Default,
    /// An alias.
    Alias(&'a VoiceAlias),
    /// An alias asked for by name that does not exist: the instance's voice speaks.
    Unknown,
}

/// Why aliases were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// More aliases than kept.
    #[error("at most {MAX_ALIASES} voice aliases (got {0})")]
    TooMany(usize),
    /// An empty, long or odd name.
    #[error(
        "a voice alias name must be 1 to {MAX_NAME} characters without control characters, \
         and not start with `{CHATTER_PREFIX}` (got `{0}`)"
    )]
    Name(String),
    /// Two aliases of one name.
    #[error("two voice aliases are named `{0}`")]
    Duplicate(String),
    /// A value out of range.
    #[error("voice alias `{name}`: {what}")]
    Range {
        /// The alias.
        name: String,
        /// Which value and its range.
        what: String,
    },
    /// The chatter table is too large or names something wrong.
    #[error("chatter voices: {0}")]
    Chatters(String),
    /// The file could not be read.
    #[error("cannot read the voice aliases {path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

impl VoiceAliases {
    /// Checks names, ranges and the chatter table.
    pub fn validate(&self) -> Result<(), AliasError> {
        if self.aliases.len() > MAX_ALIASES {
            return Err(AliasError::TooMany(self.aliases.len()));
        }
        for (i, alias) in self.aliases.iter().enumerate() {
            let name = alias.name.trim();
            let chars = name.chars().count();
            if chars == 0
                || chars > MAX_NAME
                || name.chars().any(char::is_control)
                || is_chatter_voice(name)
            {
                return Err(AliasError::Name(name.chars().take(MAX_NAME).collect()));
            }
            if self.aliases[..i]
                .iter()
                .any(|other| other.name.trim().eq_ignore_ascii_case(name))
            {
                return Err(AliasError::Duplicate(name.to_owned()));
            }
            let range = |what: &str, v: f32, lo: f32, hi: f32| {
                if v.is_finite() && (lo..=hi).contains(&v) {
                    Ok(())
                } else {
                    Err(AliasError::Range {
                        name: name.to_owned(),
                        what: format!("{what} must be {lo} to {hi} (got {v})"),
                    })
                }
            };
            range("rate", alias.voicing.rate, 0.25, 4.0)?;
            range("variation", alias.voicing.variation, 0.0, 2.0)?;
            range(
                "level_db",
                alias.voicing.level_db,
                *LEVEL_DB.start(),
                *LEVEL_DB.end(),
            )?;
        }
        if self.chatters.len() > MAX_CHATTERS {
            return Err(AliasError::Chatters(format!(
                "at most {MAX_CHATTERS} chatters (got {})",
                self.chatters.len()
            )));
        }
        for (chatter, alias) in &self.chatters {
            if chatter.trim().is_empty() || chatter.chars().count() > MAX_CHATTER_NAME {
                return Err(AliasError::Chatters(format!(
                    "a chatter's name must be 1 to {MAX_CHATTER_NAME} characters"
                )));
            }
            if self.find(alias).is_none() {
                return Err(AliasError::Chatters(format!(
                    "`{}` is given the voice alias `{}`, which does not exist",
                    chatter.chars().take(MAX_CHATTER_NAME).collect::<String>(),
                    alias.chars().take(MAX_NAME).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    /// The alias named `name` (any case).
    pub fn find(&self, name: &str) -> Option<&VoiceAlias> {
        let name = name.trim();
        self.aliases
            .iter()
            .find(|a| a.name.trim().eq_ignore_ascii_case(name))
    }

    /// What a request asking for `voice` (if any) from `chatter` (if known) is spoken with:
    /// an alias named in `voice` first (or, for a `voice` of `user:NAME`, NAME's voice), then
    /// the chatter's alias in the table, then, with per-chatter voices on, an alias picked by
    /// the chatter's name (the same one every time while the aliases stay the same).
    pub fn choose(&self, voice: Option<&str>, chatter: Option<&str>) -> Choice<'_> {
        let mut chatter = chatter;
        if let Some(voice) = voice.map(str::trim).filter(|v| !v.is_empty()) {
            if !is_chatter_voice(voice) {
                return self.find(voice).map_or(Choice::Unknown, Choice::Alias);
            }
            chatter = voice.get(CHATTER_PREFIX.len()..);
        }
        let Some(chatter) = chatter.map(chatter_key).filter(|c| !c.is_empty()) else {
            return Choice::Default;
        };
        if let Some(alias) = self
            .chatters
            .iter()
            .find(|(name, _)| chatter_key(name) == chatter)
            .and_then(|(_, alias)| self.find(alias))
        {
            return Choice::Alias(alias);
        }
        if !self.per_chatter || self.aliases.is_empty() {
            return Choice::Default;
        }
        let at = fnv1a(chatter.bytes()) % self.aliases.len() as u64;
        self.aliases
            .get(usize::try_from(at).unwrap_or(0))
            .map_or(Choice::Default, Choice::Alias)
    }

    /// The voice files the aliases name, each once, in order.
    pub fn voice_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = Vec::new();
        for file in self.aliases.iter().filter_map(|a| a.voicing.model.as_ref()) {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
        files
    }

    /// Reads aliases from a JSON file of this shape (`{"aliases": [{"name", "voice",
    /// "speaker", "rate", "variation", "level_db"}], "per_chatter", "chatters": {name: alias}}`).
    /// A relative voice path is taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, AliasError> {
        let file_error = |why: String| AliasError::File {
            path: path.to_path_buf(),
            why,
        };
        let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_FILE_BYTES + 1),
            &mut bytes,
        )
        .map_err(|e| file_error(e.to_string()))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(file_error(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let mut aliases: Self =
            serde_json::from_slice(&bytes).map_err(|e| file_error(e.to_string()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        for alias in &mut aliases.aliases {
            if let Some(voice) = alias.voicing.model.as_mut().filter(|v| v.is_relative()) {
                *voice = folder.join(&*voice);
            }
        }
        aliases.validate()?;
        Ok(aliases)
    }
}

/// Whether `voice` names a chatter rather than an alias (`user:NAME`).
pub fn is_chatter_voice(voice: &str) -> bool {
    voice
        .get(..CHATTER_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CHATTER_PREFIX))
}

/// A chatter's name as the rule compares it: trimmed, without a leading `@`, lower case.
fn chatter_key(name: &str) -> String {
    name.trim().trim_start_matches('@').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(name: &str) -> VoiceAlias {
        VoiceAlias {
            name: name.into(),
            ..VoiceAlias::default()
        }
    }

    fn three() -> VoiceAliases {
        VoiceAliases {
            aliases: vec![alias("Deep"), alias("Bright"), alias("Robot")],
            per_chatter: true,
            chatters: [("StreamerFriend".to_owned(), "robot".to_owned())].into(),
        }
    }

    fn name(choice: Choice<'_>) -> Option<&str> {
        match choice {
            Choice::Alias(a) => Some(&a.name),
            Choice::Default => None,
            Choice::Unknown => Some("?"),
        }
    }

    #[test]
    fn a_named_alias_wins_then_the_table_then_the_hash() {
        let a = three();
        assert_eq!(
            name(a.choose(Some("bright"), Some("streamerfriend"))),
            Some("Bright")
        );
        assert_eq!(name(a.choose(Some("Brian"), None)), Some("?"));
        assert_eq!(name(a.choose(None, Some("@StreamerFriend"))), Some("Robot"));
        assert_eq!(
            name(a.choose(Some("user:streamerfriend"), None)),
            Some("Robot")
        );
        assert_eq!(name(a.choose(Some(""), None)), None);
        assert_eq!(name(a.choose(None, None)), None);
        // Every other chatter gets an alias, the same one whatever the case or `@`.
        let picked = name(a.choose(None, Some("xX_Sn1per_Xx")));
        assert!(picked.is_some_and(|p| p != "?"), "{picked:?}");
        assert_eq!(name(a.choose(None, Some("@xx_sn1per_xx"))), picked);
        assert_eq!(name(a.choose(Some("USER:xX_Sn1per_Xx"), None)), picked);
        // Spread over the aliases.
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..60 {
            seen.insert(name(a.choose(None, Some(&format!("viewer{i}")))));
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        // Off: only the table gives voices.
        let off = VoiceAliases {
            per_chatter: false,
            ..three()
        };
        assert_eq!(name(off.choose(None, Some("viewer1"))), None);
        assert_eq!(
            name(off.choose(None, Some("streamerfriend"))),
            Some("Robot")
        );
    }

    #[test]
    fn a_chatter_keeps_their_alias_across_builds_and_platforms() {
        // FNV-1a of the lower-cased name modulo the number of aliases: fixed here, so a change
        // of the rule (which would move every chatter's voice) fails.
        let a = three();
        assert_eq!(name(a.choose(None, Some("Viewer7"))), Some("Robot"));
        assert_eq!(name(a.choose(None, Some("xX_Sn1per_Xx"))), Some("Deep"));
    }

    #[test]
    fn bad_aliases_are_refused_with_the_reason() {
        let cases: Vec<(VoiceAliases, &str)> = vec![
            (
                VoiceAliases {
                    aliases: vec![alias("")],
                    ..VoiceAliases::default()
                },
                "1 to 40",
            ),
            (
                VoiceAliases {
                    aliases: vec![alias("user:x")],
                    ..VoiceAliases::default()
                },
                "user:",
            ),
            (
                VoiceAliases {
                    aliases: vec![alias("A"), alias("a")],
                    ..VoiceAliases::default()
                },
                "two voice aliases",
            ),
            (
                VoiceAliases {
                    aliases: vec![VoiceAlias {
                        voicing: Voicing {
                            rate: f32::NAN,
                            ..Voicing::default()
                        },
                        ..alias("A")
                    }],
                    ..VoiceAliases::default()
                },
                "rate",
            ),
            (
                VoiceAliases {
                    aliases: vec![VoiceAlias {
                        voicing: Voicing {
                            level_db: 30.0,
                            ..Voicing::default()
                        },
                        ..alias("A")
                    }],
                    ..VoiceAliases::default()
                },
                "level_db",
            ),
            (
                VoiceAliases {
                    chatters: [("bob".to_owned(), "nobody".to_owned())].into(),
                    ..VoiceAliases::default()
                },
                "does not exist",
            ),
            (
                VoiceAliases {
                    aliases: (0..=MAX_ALIASES).map(|i| alias(&format!("a{i}"))).collect(),
                    ..VoiceAliases::default()
                },
                "at most",
            ),
        ];
        for (aliases, part) in cases {
            let err = aliases.validate().unwrap_err().to_string();
            assert!(err.contains(part), "{err}");
        }
        assert!(three().validate().is_ok());
    }

    #[test]
    fn a_file_loads_with_voices_beside_it() {
        let dir = std::env::temp_dir().join(format!("orator-aliases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("aliases.json");
        std::fs::write(
            &file,
            r#"{"aliases": [{"name": "Deep", "voice": "deep.onnx", "speaker": "2", "rate": 0.9},
                            {"name": "Plain", "level_db": -3}],
                "per_chatter": true, "chatters": {"mod_anna": "Plain"}}"#,
        )
        .unwrap();
        let loaded = VoiceAliases::load(&file).unwrap();
        assert_eq!(loaded.aliases[0].voicing.model, Some(dir.join("deep.onnx")));
        assert_eq!(loaded.aliases[1].voicing.model, None);
        assert_eq!(loaded.voice_files(), vec![dir.join("deep.onnx")]);
        std::fs::write(&file, r#"{"aliases": [{"name": "x", "rate": 9}]}"#).unwrap();
        assert!(
            VoiceAliases::load(&file)
                .unwrap_err()
                .to_string()
                .contains("rate")
        );
        std::fs::write(&file, "not json").unwrap();
        assert!(matches!(
            VoiceAliases::load(&file),
            Err(AliasError::File { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

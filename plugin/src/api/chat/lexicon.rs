//! The chat lexicon: how chat shorthand (`gg`, `brb`), written abbreviations (`e.g.`, `w/`),
//! emoticons (`:)`, `<3`) and kaomoji (`¯\_(ツ)_/¯`) are read aloud, and which stretched words
//! keep a double letter. Data, not code: the built-in file (`lexicon.txt`, documented at its
//! top) and the user's own file, whose entries are added and win over the built-in ones.
//!
//! Thread model: parsed once per file and shared read-only (`Arc`) by every thread that
//! filters chat; a lookup never allocates more than a lowercase copy of one word.

use crate::api::file_cache::FileCache;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The built-in lexicon, as shipped.
pub const BUILT_IN: &str = include_str!("lexicon.txt");

/// A lexicon file's largest size.
pub const MAX_BYTES: u64 = 1 << 20;

/// A lexicon's most entries.
pub const MAX_ENTRIES: usize = 20_000;

/// The longest kaomoji key, in characters (matching scans for each at every position).
pub const MAX_KAOMOJI_CHARS: usize = 40;

/// Why a lexicon file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexiconError {
    /// A line outside the known sections' shape.
    #[error("line {line}: {what}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// Too many entries.
    #[error("more than {MAX_ENTRIES} entries")]
    TooMany,
    /// The file is too large or unreadable.
    #[error("{0}")]
    File(String),
}

/// The sections of a lexicon file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Words,
    Tokens,
    Emoticons,
    Kaomoji,
    Doubles,
}

/// A parsed lexicon. Cloning shares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    inner: Arc<Entries>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Entries {
    /// Lowercase word → reading.
    words: HashMap<String, String>,
    /// Token as typed (ASCII letters lowercased) → reading.
    tokens: HashMap<String, String>,
    /// Emoticon as typed → reading.
    emoticons: HashMap<String, String>,
    /// Kaomoji, longest first, with their readings.
    kaomoji: Vec<(String, String)>,
    /// Words whose double letters survive shortening.
    doubles: HashSet<String>,
}

impl Lexicon {
    /// Parses a lexicon file's text.
    pub fn parse(text: &str) -> Result<Self, LexiconError> {
        let mut entries = Entries::default();
        entries.add(text)?;
        entries.finish();
        Ok(Self {
            inner: Arc::new(entries),
        })
    }

    /// The built-in lexicon (parsed once per process).
    pub fn built_in() -> Self {
        static BUILT: OnceLock<Lexicon> = OnceLock::new();
        BUILT
            .get_or_init(|| Self::parse(BUILT_IN).unwrap_or_default())
            .clone()
    }

    /// The lexicon for a voice speaking `espeak_voice`: the built-in one is English chat, so
    /// other languages start from nothing (their user's file alone applies).
    pub fn for_language(espeak_voice: Option<&str>) -> Self {
        if is_english(espeak_voice) {
            Self::built_in()
        } else {
            Self::default()
        }
    }

    /// [`Lexicon::for_language`] with the user's file at `path` added (its entries win).
    pub fn with_file_for(path: &Path, espeak_voice: Option<&str>) -> Result<Self, LexiconError> {
        if is_english(espeak_voice) {
            return Self::with_file_cached(path);
        }
        static LOADED: FileCache<Lexicon> = FileCache::new();
        LOADED.get(path, |p| Self::parse(&read(p)?), |e| unreadable(path, &e))
    }

    /// The built-in lexicon with the user's file at `path` added (its entries win).
    pub fn with_file(path: &Path) -> Result<Self, LexiconError> {
        let text = read(path)?;
        let mut entries = Entries::default();
        entries.add(BUILT_IN)?;
        entries.add(&text)?;
        entries.finish();
        Ok(Self {
            inner: Arc::new(entries),
        })
    }

    /// [`Lexicon::with_file`], parsed again only when the file changes.
    pub fn with_file_cached(path: &Path) -> Result<Self, LexiconError> {
        static LOADED: FileCache<Lexicon> = FileCache::new();
        LOADED.get(path, Self::with_file, |e| unreadable(path, &e))
    }

    /// How a whole word (any case) is read, if the lexicon says.
    pub fn word(&self, word: &str) -> Option<&str> {
        self.inner
            .words
            .get(&word.to_lowercase())
            .map(String::as_str)
    }

    /// How a token as typed is read (abbreviations; emoticons if `emoticons`), if the lexicon
    /// says. ASCII letters match in any case in abbreviations, exactly in emoticons (`:P`,
    /// `:p` and `xD` are distinct entries).
    pub fn token(&self, token: &str, emoticons: bool) -> Option<&str> {
        if emoticons && let Some(reading) = self.inner.emoticons.get(token) {
            return Some(reading);
        }
        self.inner
            .tokens
            .get(&token.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Whether `token` is an emoticon (read or dropped by the setting).
    pub fn is_emoticon(&self, token: &str) -> bool {
        self.inner.emoticons.contains_key(token)
    }

    /// The kaomoji, longest first, with their readings.
    pub fn kaomoji(&self) -> &[(String, String)] {
        &self.inner.kaomoji
    }

    /// Whether a shortened word keeps its double letter (`good`, `cool`).
    pub fn keeps_double(&self, word: &str) -> bool {
        self.inner.doubles.contains(&word.to_lowercase())
    }

    /// Entries in all.
    pub fn len(&self) -> usize {
        let e = &self.inner;
        e.words.len() + e.tokens.len() + e.emoticons.len() + e.kaomoji.len() + e.doubles.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether an espeak-ng voice name is English (no voice: English, the default voice's).
fn is_english(espeak_voice: Option<&str>) -> bool {
    espeak_voice.is_none_or(|v| {
        let lang = v.rsplit('/').next().unwrap_or(v);
        lang.eq_ignore_ascii_case("en") || lang.to_ascii_lowercase().starts_with("en-")
    })
}

/// A lexicon file's text (at most [`MAX_BYTES`]).
fn read(path: &Path) -> Result<String, LexiconError> {
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(path, &e))?
        .len();
    if size > MAX_BYTES {
        return Err(LexiconError::File(format!(
            "{} is {size} bytes, more than {MAX_BYTES}",
            path.display()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| unreadable(path, &e))
}

fn unreadable(path: &Path, e: &std::io::Error) -> LexiconError {
    LexiconError::File(format!("{}: {e}", path.display()))
}

impl Entries {
    fn add(&mut self, text: &str) -> Result<(), LexiconError> {
        let mut section = None;
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let syntax = |what| LexiconError::Syntax {
                line: number + 1,
                what,
            };
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(match name.trim() {
                    "words" => Section::Words,
                    "tokens" => Section::Tokens,
                    "emoticons" => Section::Emoticons,
                    "kaomoji" => Section::Kaomoji,
                    "doubles" => Section::Doubles,
                    _ => return Err(syntax("unknown section")),
                });
                continue;
            }
            let Some(section) = section else {
                return Err(syntax("an entry before any [section]"));
            };
            if self.count() >= MAX_ENTRIES {
                return Err(LexiconError::TooMany);
            }
            if section == Section::Doubles {
                self.doubles
                    .extend(line.split_whitespace().map(str::to_lowercase));
                continue;
            }
            let Some((key, reading)) = line.rsplit_once(" =").or_else(|| line.rsplit_once('='))
            else {
                return Err(syntax("expected `key = reading`"));
            };
            let (key, reading) = (key.trim(), reading.trim().to_owned());
            if key.is_empty() {
                return Err(syntax("an empty key"));
            }
            match section {
                Section::Words => {
                    if key.split_whitespace().count() != 1 {
                        return Err(syntax("a [words] key is one word"));
                    }
                    self.words.insert(key.to_lowercase(), reading);
                }
                Section::Tokens => {
                    if key.split_whitespace().count() != 1 {
                        return Err(syntax("a [tokens] key has no spaces"));
                    }
                    self.tokens.insert(key.to_ascii_lowercase(), reading);
                }
                Section::Emoticons => {
                    if key.split_whitespace().count() != 1 {
                        return Err(syntax("an [emoticons] key has no spaces"));
                    }
                    self.emoticons.insert(key.to_owned(), reading);
                }
                Section::Kaomoji => {
                    if key.chars().count() > MAX_KAOMOJI_CHARS {
                        return Err(syntax("a kaomoji key is at most 40 characters"));
                    }
                    self.kaomoji.retain(|(k, _)| k != key);
                    self.kaomoji.push((key.to_owned(), reading));
                }
                Section::Doubles => {}
            }
        }
        Ok(())
    }

    /// Orders the kaomoji longest first, so a longer one wins over a part of it.
    fn finish(&mut self) {
        self.kaomoji
            .sort_by_key(|(key, _)| std::cmp::Reverse(key.chars().count()));
    }

    fn count(&self) -> usize {
        self.words.len()
            + self.tokens.len()
            + self.emoticons.len()
            + self.kaomoji.len()
            + self.doubles.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lexicon_parses_and_reads() {
        let lexicon = Lexicon::parse(BUILT_IN).unwrap();
        assert_eq!(Lexicon::built_in(), lexicon);
        assert_eq!(lexicon.word("GG"), Some("good game"));
        assert_eq!(lexicon.token("E.G.", false), Some("for example"));
        assert_eq!(lexicon.token(":P", true), Some("tongue out"));
        assert_eq!(lexicon.token(":P", false), None);
        assert!(lexicon.keeps_double("good") && !lexicon.keeps_double("soo"));
        assert!(lexicon.kaomoji()[0].0.chars().count() >= 10);
        assert!(lexicon.len() > 200, "{}", lexicon.len());
    }

    #[test]
    fn a_users_file_adds_and_wins() {
        let dir = std::env::temp_dir().join(format!("orator-lexicon-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mine.txt");
        std::fs::write(
            &path,
            "[words]\ngg = gee gee\npog = play of the game\nkappa =\n",
        )
        .unwrap();
        let lexicon = Lexicon::with_file(&path).unwrap();
        assert_eq!(lexicon.word("gg"), Some("gee gee"));
        assert_eq!(lexicon.word("kappa"), Some(""));
        assert_eq!(lexicon.word("brb"), Some("be right back"));
        let german = Lexicon::with_file_for(&path, Some("de")).unwrap();
        assert_eq!(
            (german.word("gg"), german.word("brb")),
            (Some("gee gee"), None)
        );
        assert!(Lexicon::for_language(Some("gmw/de")).is_empty());
        assert_eq!(
            Lexicon::for_language(Some("gmw/en-US")),
            Lexicon::built_in()
        );
        std::fs::write(&path, "gg = x\n").unwrap();
        assert!(matches!(
            Lexicon::with_file(&path),
            Err(LexiconError::Syntax { line: 1, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

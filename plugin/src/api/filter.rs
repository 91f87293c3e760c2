//! The chat filter: turns a chat line into what a person would read aloud.
//!
//! In order: the user's word list may drop the whole message; inline phoneme spans (`[[ ]]`)
//! are kept only from trusted text and otherwise taken out; kaomoji are read by meaning (or
//! dropped); links become "link"; a run of emoji becomes at most one spoken name (or nothing);
//! the text is NFKC-normalised (full-width letters become plain ones); characters the voice's
//! language cannot read are dropped (never spelled as code points); runs of one character and
//! repeats of one word are capped; then each word: abbreviations and emoticons from the chat
//! lexicon, ratings (`10/10`), the word list (replace or bleep), very long numbers, decorated
//! names and `@mentions`, stretched words, chat shorthand from the lexicon ([`super::chat`]);
//! whitespace is collapsed; and the result is cut to a length at a word boundary, ending the
//! sentence there.
//!
//! Pure functions of their input: no I/O except [`WordList::load`].

use super::chat::lexicon::Lexicon;
use super::chat::rules::{self, Piece};

use super::file_cache::FileCache;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};
use unicode_segmentation::UnicodeSegmentation;

/// The word list file's largest size.
pub const MAX_WORD_LIST_BYTES: u64 = 1 << 20;

/// The word list's most entries.
pub const MAX_WORD_LIST_ENTRIES: usize = 10_000;

/// How a run of emoji is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum EmojiMode {
    /// The first emoji's name, once per run.
    #[default]
    FirstName,
    /// Nothing.
    Drop,
}

/// How emoticons (`:)`, `<3`) and kaomoji (`¯\_(ツ)_/¯`) are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum EmoticonMode {
    /// By meaning, from the chat lexicon ("smile", "shrug").
    #[default]
    Read,
    /// Not at all.
    Drop,
}

/// What the word list does with a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordAction {
    /// Say this instead.
    Replace(String),
    /// Say "bleep" instead.
    Bleep,
    /// Say nothing of the whole message.
    DropMessage,
}

/// The user's word list: whole words, matched without regard to case (a word listed twice
/// keeps its first entry). Cloning shares the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordList {
    entries: Arc<HashMap<String, WordAction>>,
}

/// The word lists read lately.
static LOADED: FileCache<WordList> = FileCache::new();

/// Why a word list was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WordListError {
    /// A line is not `word = replacement`, `word = !bleep` or `word = !drop`.
    #[error("line {line}: expected `word = replacement`, `word = !bleep` or `word = !drop`")]
    Syntax {
        /// 1-based line number.
        line: usize,
    },
    /// Too many entries.
    #[error("more than {MAX_WORD_LIST_ENTRIES} entries")]
    TooMany,
    /// The file is too large or unreadable.
    #[error("{0}")]
    File(String),
}

impl WordList {
    /// Parses a word list: one `word = replacement`, `word = !bleep` or `word = !drop` per
    /// line; `#` starts a comment; blank lines are ignored.
    pub fn parse(text: &str) -> Result<Self, WordListError> {
        let mut entries = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let Some((word, action)) = line.split_once('=') else {
                return Err(WordListError::Syntax { line: number + 1 });
            };
            let word = word.trim().nfkc().collect::<String>().to_lowercase();
            if word.is_empty() || word.split_whitespace().count() != 1 {
                return Err(WordListError::Syntax { line: number + 1 });
            }
            let action = match action.trim() {
                "!bleep" => WordAction::Bleep,
                "!drop" => WordAction::DropMessage,
                other => WordAction::Replace(other.to_owned()),
            };
            if entries.len() == MAX_WORD_LIST_ENTRIES {
                return Err(WordListError::TooMany);
            }
            entries.entry(word).or_insert(action);
        }
        Ok(Self {
            entries: Arc::new(entries),
        })
    }

    /// Reads and parses a word list file (at most [`MAX_WORD_LIST_BYTES`]).
    pub fn load(path: &Path) -> Result<Self, WordListError> {
        let size = std::fs::metadata(path)
            .map_err(|e| WordListError::File(format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_WORD_LIST_BYTES {
            return Err(WordListError::File(format!(
                "{} is {size} bytes, more than {MAX_WORD_LIST_BYTES}",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| WordListError::File(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// [`WordList::load`], read again only when the file's modification time or size changed
    /// since it was last read: chat messages come many a second, and each needs the list.
    pub fn load_cached(path: &Path) -> Result<Self, WordListError> {
        LOADED.get(path, Self::load, |e| {
            WordListError::File(format!("{}: {e}", path.display()))
        })
    }

    /// Whether two lists share their entries (one read of a file).
    pub fn same_read(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.entries, &other.entries)
    }

    fn action(&self, word: &str) -> Option<&WordAction> {
        self.entries.get(&word.to_lowercase())
    }

    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The filter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSettings {
    /// How emoji are read.
    pub emoji: EmojiMode,
    /// The most characters spoken of one message.
    pub max_chars: usize,
    /// The most times one character may repeat in a row ("soooo" → "sooo").
    pub max_repeat_chars: usize,
    /// The most times one word may repeat in a row.
    pub max_repeat_words: usize,
    /// The scripts the voice reads, besides digits and punctuation (`None`: every script).
    pub scripts: Option<Vec<Script>>,
    /// The user's word list.
    pub words: WordList,
    /// Whether the word list applies (Speaker.bot's `badWordFilter`).
    pub use_words: bool,
    /// The chat lexicon (shorthand, abbreviations, emoticons, kaomoji).
    pub lexicon: Lexicon,
    /// How emoticons and kaomoji are read.
    pub emoticons: EmoticonMode,
    /// Whether inline phoneme spans (`[[ ]]`) are honoured (trusted text) or taken out.
    pub phonemes: bool,
}

impl Default for FilterSettings {
    fn default() -> Self {
        Self {
            emoji: EmojiMode::FirstName,
            max_chars: 500,
            max_repeat_chars: 3,
            max_repeat_words: 3,
            scripts: Some(vec![Script::Latin]),
            words: WordList::default(),
            use_words: true,
            lexicon: Lexicon::built_in(),
            emoticons: EmoticonMode::Read,
            phonemes: false,
        }
    }
}

/// The scripts an espeak-ng voice name's language is written in (`None`: not known, so every
/// script is kept).
pub fn scripts_for_language(espeak_voice: &str) -> Option<Vec<Script>> {
    let lang = espeak_voice
        .rsplit('/')
        .next()
        .unwrap_or(espeak_voice)
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let scripts = match lang.as_str() {
        "ru" | "uk" | "bg" | "sr" | "mk" | "be" | "kk" | "ky" | "tt" | "ba" | "mn" => {
            vec![Script::Cyrillic]
        }
        "el" | "grc" => vec![Script::Greek],
        "ar" | "fa" | "ur" | "ps" | "sd" | "ug" => vec![Script::Arabic],
        "he" | "yi" => vec![Script::Hebrew],
        "hi" | "mr" | "ne" | "sa" | "kok" => vec![Script::Devanagari],
        "bn" | "as" => vec![Script::Bengali],
        "ta" => vec![Script::Tamil],
        "te" => vec![Script::Telugu],
        "kn" => vec![Script::Kannada],
        "ml" => vec![Script::Malayalam],
        "gu" => vec![Script::Gujarati],
        "pa" => vec![Script::Gurmukhi],
        "si" => vec![Script::Sinhala],
        "th" => vec![Script::Thai],
        "lo" => vec![Script::Lao],
        "my" => vec![Script::Myanmar],
        "ka" => vec![Script::Georgian],
        "hy" => vec![Script::Armenian],
        "am" => vec![Script::Ethiopic],
        "ko" => vec![Script::Hangul, Script::Han],
        "ja" => vec![Script::Hiragana, Script::Katakana, Script::Han],
        "zh" | "cmn" | "yue" | "hak" => vec![Script::Han],
        "" => return None,
        // Every other espeak-ng language is written in Latin letters.
        _ => vec![Script::Latin],
    };
    Some(scripts)
}

/// What the filter made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    /// Speak this.
    Speak(String),
    /// Speak this: the message cut at the length cap (at a word, with a full stop); `cut`
    /// characters of the filtered text were left out.
    Cut {
        /// What is spoken.
        text: String,
        /// Characters left out.
        cut: usize,
    },
    /// The word list drops the message.
    Dropped,
    /// Nothing readable is left.
    Empty,
}

/// Whether `token` is a link: a scheme URL, `www.` or a bare domain with a common ending.
fn is_link(token: &str) -> bool {
    let t = token.trim_matches(|c: char| matches!(c, '(' | ')' | '<' | '>' | '"' | '\'' | ','));
    let lower = t.to_ascii_lowercase();
    if ["http://", "https://", "ftp://", "www."]
        .iter()
        .any(|p| lower.starts_with(p) && lower.len() > p.len())
    {
        return true;
    }
    let host = lower.split('/').next().unwrap_or_default();
    let host = host.trim_end_matches(['.', '!', '?']);
    let Some((name, tld)) = host.rsplit_once('.') else {
        return false;
    };
    const ENDINGS: &[&str] = &[
        "com", "net", "org", "tv", "gg", "io", "co", "me", "ly", "be", "app", "dev", "xyz", "info",
        "uk", "de", "fr", "ru", "jp", "live", "stream", "link", "shop",
    ];
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && ENDINGS.contains(&tld)
}

/// Whether a grapheme is an emoji (a pictograph, a flag, a keycap or a modified one).
fn emoji_name(grapheme: &str) -> Option<&'static str> {
    if grapheme.is_ascii() {
        return None;
    }
    emojis::get(grapheme)
        .or_else(|| emojis::get(grapheme.trim_end_matches('\u{fe0f}')))
        // "thumbs up: medium skin tone" is read as "thumbs up".
        .map(|e| e.name().split(':').next().unwrap_or_default())
}

/// Filters one chat message.
pub fn filter(text: &str, settings: &FilterSettings) -> Filtered {
    // The word list may drop the message whole (checked on the normalised words).
    let normalised: String = text.nfkc().collect();
    if settings.use_words
        && normalised
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .any(|w| settings.words.action(w) == Some(&WordAction::DropMessage))
    {
        return Filtered::Dropped;
    }
    let mut joined = String::new();
    for piece in rules::phoneme_pieces(text, settings.phonemes) {
        let read = match piece {
            Piece::Text(text) => read_text(text, settings),
            Piece::Phonemes(span) => span.to_owned(),
        };
        if !read.is_empty() {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(&read);
        }
        // Stop work on absurdly long input early: nothing past the cap is spoken.
        if joined.len() > settings.max_chars.saturating_mul(4) + 64 {
            break;
        }
    }
    if !joined.chars().any(char::is_alphanumeric) {
        return Filtered::Empty;
    }
    let mut kept = cut(&joined, settings.max_chars.max(1));
    // Never an open phoneme span at the end: it goes, from its brackets.
    if let Some(open) = kept.rfind("[[")
        && !kept[open..].contains("]]")
    {
        kept.truncate(open);
        let head = kept.trim_end_matches(|c: char| !c.is_alphanumeric() && c != ']');
        kept = format!("{head}.");
    }
    if kept.len() == joined.len() {
        return Filtered::Speak(kept);
    }
    // The kept text ends with an added full stop.
    let left_out = joined.chars().count() + 1 - kept.chars().count();
    Filtered::Cut {
        text: kept,
        cut: left_out,
    }
}

/// Kaomoji read by meaning (or dropped): each is replaced by its reading between spaces; the
/// same one repeated (with only spaces between) is read once.
fn read_kaomoji(text: &str, settings: &FilterSettings) -> String {
    let kaomoji = settings.lexicon.kaomoji();
    let mut out = String::with_capacity(text.len());
    let mut last: Option<usize> = None;
    let mut rest = text;
    'scan: while let Some(c) = rest.chars().next() {
        for (index, (key, reading)) in kaomoji.iter().enumerate() {
            if rest.starts_with(key.as_str()) {
                if last != Some(index) && settings.emoticons == EmoticonMode::Read {
                    out.push(' ');
                    out.push_str(reading);
                    out.push(' ');
                }
                last = Some(index);
                rest = &rest[key.len()..];
                continue 'scan;
            }
        }
        if !c.is_whitespace() {
            last = None;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// One piece of plain text, read as chat (everything [`filter`] does but the drop, the cut
/// and phoneme spans).
fn read_text(text: &str, settings: &FilterSettings) -> String {
    // Nothing past sixteen times the cap is read (kaomoji are looked for at every character).
    let mut end = text.len().min(settings.max_chars.saturating_mul(16) + 64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &read_kaomoji(&text[..end], settings);
    // Links, then emoji runs (on the text as sent: NFKC would take some emoji apart).
    let mut spoken = String::with_capacity(text.len().min(settings.max_chars * 4 + 16));
    let mut in_emoji_run = false;
    for token in text.split_inclusive(char::is_whitespace) {
        let word = token.trim_end();
        if is_link(word) {
            spoken.push_str("link");
            spoken.push_str(&token[word.len()..]);
            in_emoji_run = false;
            continue;
        }
        for grapheme in token.graphemes(true) {
            if let Some(name) = emoji_name(grapheme) {
                if !in_emoji_run && settings.emoji == EmojiMode::FirstName {
                    spoken.push(' ');
                    spoken.push_str(name);
                    spoken.push(' ');
                }
                in_emoji_run = true;
            } else if grapheme.chars().all(char::is_whitespace) {
                spoken.push_str(grapheme);
            } else {
                in_emoji_run = false;
                spoken.push_str(grapheme);
            }
        }
        // Stop work on absurdly long input early: nothing past four times the cap is spoken.
        if spoken.len() > settings.max_chars.saturating_mul(16) + 64 {
            break;
        }
    }

    // NFKC, then characters the voice cannot read go (whitespace in their place).
    let mut readable = String::with_capacity(spoken.len());
    for c in spoken.nfkc() {
        let keep = c.is_whitespace()
            || match c.script() {
                Script::Common | Script::Inherited => {
                    c.is_ascii() || c.is_alphanumeric() || is_speakable_punctuation(c)
                }
                script => settings
                    .scripts
                    .as_ref()
                    .is_none_or(|s| s.contains(&script)),
            };
        if c.is_control() {
            readable.push(' ');
        } else if keep {
            readable.push(c);
        } else {
            readable.push(' ');
        }
    }

    // Runs of one character capped.
    let mut capped = String::with_capacity(readable.len());
    let mut last = None;
    let mut run = 0;
    for c in readable.chars() {
        if Some(c) == last {
            run += 1;
        } else {
            last = Some(c);
            run = 1;
        }
        if run <= settings.max_repeat_chars.max(1) || c.is_whitespace() {
            capped.push(c);
        }
    }

    // Words: repeats capped, each read (lexicon, word list, rules), whitespace collapsed.
    let mut words: Vec<String> = Vec::new();
    let mut repeat = 0;
    let mut previous = String::new();
    for word in capped.split_whitespace() {
        // Abbreviations and emoticons, as typed (a trailing comma or mark kept after them).
        let trimmed = word.trim_end_matches([',', '!', '?', ';']);
        let emoticons = settings.emoticons == EmoticonMode::Read;
        let typed = [word, trimmed]
            .into_iter()
            .find_map(|w| settings.lexicon.token(w, emoticons).map(|r| (w, r)));
        if let Some((matched, reading)) = typed {
            push_reading(&mut words, reading, &word[matched.len()..]);
            continue;
        }
        if settings.lexicon.is_emoticon(word) || settings.lexicon.is_emoticon(trimmed) {
            continue;
        }
        let stripped = word.trim_end_matches(['.', ',', '!', '?', ';']);
        if let Some(rated) = rules::rating(stripped) {
            words.push(format!("{rated}{}", &word[stripped.len()..]));
            continue;
        }
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        // Leftovers of kaomoji and ASCII art ("(^", "^)") are not read; pauses are kept.
        if bare.is_empty() && !word.chars().all(|c| ".,!?;:…–—-".contains(c)) {
            continue;
        }
        let key = bare.to_lowercase();
        if !key.is_empty() && key == previous {
            repeat += 1;
            if repeat >= settings.max_repeat_words.max(1) {
                continue;
            }
        } else {
            repeat = 0;
            previous = key;
        }
        if bare.is_empty() {
            words.push(word.to_owned());
            continue;
        }
        let at = word.find(bare).unwrap_or(0);
        // A mention's `@` is not read; other leading marks (quotes, brackets) stay.
        let prefix = word[..at].trim_end_matches('@');
        let suffix = &word[at + bare.len()..];
        let reading = match settings.use_words.then(|| settings.words.action(bare)) {
            Some(Some(WordAction::Replace(with))) => with.clone(),
            Some(Some(WordAction::Bleep)) => "bleep".to_owned(),
            _ => read_word(bare, settings),
        };
        push_reading(&mut words, &reading, suffix);
        if let Some(last) = words.last_mut()
            && !prefix.is_empty()
        {
            last.insert_str(0, prefix);
        }
    }
    words.join(" ")
}

/// One word (no surrounding marks) as chat reads it: a very long number is "a long number",
/// a decorated name its name, a stretched word shortened, and then chat shorthand from the
/// lexicon.
fn read_word(bare: &str, settings: &FilterSettings) -> String {
    if rules::is_long_number(bare) {
        return rules::LONG_NUMBER.to_owned();
    }
    let undecorated = rules::undecorate(bare);
    let parts = undecorated.as_deref().unwrap_or(bare);
    parts
        .split(' ')
        .filter_map(|part| {
            let short = rules::shorten_stretched(part, &settings.lexicon);
            let part = short.as_deref().unwrap_or(part);
            match settings.lexicon.word(part) {
                Some("") => None,
                Some(reading) => Some(reading.to_owned()),
                None => Some(part.to_owned()),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Adds `reading` (nothing if empty) with `suffix` (the marks after the word) to `words`.
fn push_reading(words: &mut Vec<String>, reading: &str, suffix: &str) {
    if reading.is_empty() {
        if suffix.chars().any(|c| ".!?".contains(c)) {
            words.push(suffix.to_owned());
        }
        return;
    }
    words.push(format!("{reading}{suffix}"));
}

impl Filtered {
    /// The text to speak, if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Speak(text) | Self::Cut { text, .. } => Some(text),
            Self::Dropped | Self::Empty => None,
        }
    }
}

/// Punctuation and symbols outside ASCII that read well or pause well.
fn is_speakable_punctuation(c: char) -> bool {
    matches!(
        c,
        '€' | '£'
            | '¥'
            | '°'
            | '%'
            | '…'
            | '–'
            | '—'
            | '‘'
            | '’'
            | '“'
            | '”'
            | '¿'
            | '¡'
            | '«'
            | '»'
    )
}

/// `text` cut to at most `max` characters at a word boundary, ending with a full stop when it
/// was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let limit = max.saturating_sub(1);
    let end = text
        .char_indices()
        .nth(limit)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    let at_word_end = text[end..].starts_with(char::is_whitespace);
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if space > 0 && !at_word_end => &head[..space],
        _ => head,
    };
    let head = head.trim_end_matches(|c: char| !c.is_alphanumeric());
    format!("{head}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(text: &str) -> String {
        match filter(text, &FilterSettings::default()) {
            Filtered::Speak(s) | Filtered::Cut { text: s, .. } => s,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn links_are_read_as_link() {
        assert_eq!(run("see https://example.com/a?b=1 now"), "see link now");
        assert_eq!(run("go to www.twitch.tv/orator!"), "go to link");
        assert_eq!(run("visit orator.gg today"), "visit link today");
        assert_eq!(run("e.g. this"), "for example this");
    }

    #[test]
    fn a_run_of_emoji_says_one_name_or_none() {
        assert_eq!(run("gg 🎉🎉🎉 🎉 wow"), "good game party popper wow");
        let settings = FilterSettings {
            emoji: EmojiMode::Drop,
            ..FilterSettings::default()
        };
        assert_eq!(
            filter("gg 🎉🎉 wow 👍🏽", &settings),
            Filtered::Speak("good game wow".into())
        );
        assert_eq!(run("👍🏽 nice"), "thumbs up nice");
    }

    #[test]
    fn full_width_letters_are_normalised_and_unreadable_scripts_dropped() {
        assert_eq!(run("ｈｅｌｌｏ　ｗｏｒｌｄ こんにちは 世界"), "hello world");
        assert_eq!(run("(＾▽＾) hi"), "happy face hi");
        let dropped = FilterSettings {
            emoticons: EmoticonMode::Drop,
            ..FilterSettings::default()
        };
        assert_eq!(
            filter("(＾▽＾) hi :) <3", &dropped),
            Filtered::Speak("hi".into())
        );
        assert_eq!(run("こんにちは"), "Empty");
        let japanese = FilterSettings {
            scripts: scripts_for_language("ja"),
            ..FilterSettings::default()
        };
        assert_eq!(
            filter("こんにちは", &japanese),
            Filtered::Speak("こんにちは".into())
        );
    }

    #[test]
    fn phoneme_spans_are_honoured_only_when_trusted() {
        let text = "say [[ h ə l ˈoʊ ]] world";
        assert_eq!(run(text), "say world");
        let trusted = FilterSettings {
            phonemes: true,
            ..FilterSettings::default()
        };
        assert_eq!(
            filter(text, &trusted),
            Filtered::Speak("say [[ h ə l ˈoʊ ]] world".into())
        );
        let short = FilterSettings {
            max_chars: 12,
            ..trusted
        };
        let Filtered::Cut { text: cut, .. } = filter(text, &short) else {
            panic!("cut expected");
        };
        assert!(!cut.contains("[["), "{cut:?}");
    }

    #[test]
    fn repeats_are_capped() {
        assert_eq!(run("sooooooo gooooood"), "so good");
        assert_eq!(run("wow wow wow wow wow WOW"), "wow wow wow");
        assert_eq!(run("!!!!!!!!"), "Empty");
    }

    #[test]
    fn the_word_list_replaces_bleeps_and_drops() {
        let words = WordList::parse("# mine\ndarn = dang\nheck = !bleep\nspam = !drop\n").unwrap();
        let settings = FilterSettings {
            words,
            ..FilterSettings::default()
        };
        assert_eq!(
            filter("Darn it, heck!", &settings),
            Filtered::Speak("dang it, bleep!".into())
        );
        assert_eq!(filter("buy SPAM now", &settings), Filtered::Dropped);
        let off = FilterSettings {
            use_words: false,
            ..settings
        };
        assert_eq!(
            filter("darn spam", &off),
            Filtered::Speak("darn spam".into())
        );
        assert_eq!(
            WordList::parse("no equals sign"),
            Err(WordListError::Syntax { line: 1 })
        );
    }

    #[test]
    fn a_word_list_file_is_read_again_only_when_it_changes() {
        let dir = std::env::temp_dir().join(format!("orator-words-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("words.txt");
        std::fs::write(&path, "darn = dang\n").unwrap();
        let first = WordList::load_cached(&path).unwrap();
        let again = WordList::load_cached(&path).unwrap();
        assert!(
            first.same_read(&again),
            "an unchanged file is not read again"
        );
        std::fs::write(&path, "darn = dang\nheck = !bleep\n").unwrap();
        let changed = WordList::load_cached(&path).unwrap();
        assert!(!changed.same_read(&first));
        assert_eq!(changed.len(), 2);
        std::fs::remove_file(&path).unwrap();
        assert!(
            WordList::load_cached(&path).is_err(),
            "a removed file is an error"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn long_messages_are_cut_at_a_word_with_a_full_stop() {
        let settings = FilterSettings {
            max_chars: 20,
            ..FilterSettings::default()
        };
        assert_eq!(
            filter("the quick brown fox jumps over the lazy dog", &settings),
            Filtered::Cut {
                text: "the quick brown fox.".into(),
                cut: " jumps over the lazy dog".len(),
            }
        );
        assert_eq!(
            filter("the quick brown fox", &settings),
            Filtered::Speak("the quick brown fox".into())
        );
    }

    #[test]
    fn the_scripts_follow_the_voice_language() {
        assert_eq!(scripts_for_language("en-us"), Some(vec![Script::Latin]));
        assert_eq!(scripts_for_language("ru"), Some(vec![Script::Cyrillic]));
        assert_eq!(scripts_for_language("roa/fr"), Some(vec![Script::Latin]));
    }

    proptest! {
        #[test]
        fn never_panics_and_stays_within_the_cap(text in "\\PC{0,400}", max in 1usize..80) {
            let settings = FilterSettings { max_chars: max, ..FilterSettings::default() };
            if let Some(out) = filter(&text, &settings).text() {
                prop_assert!(out.chars().count() <= max, "{out:?}");
                prop_assert!(!out.is_empty());
                let mut run = 0;
                let mut last = None;
                for c in out.chars() {
                    if Some(c) == last { run += 1 } else { run = 1; last = Some(c) }
                    prop_assert!(run <= 3 || c.is_whitespace(), "{out:?}");
                }
            }
        }

        #[test]
        fn output_is_never_longer_than_a_bound_of_the_input(text in "[a-z🎉👍 .:/]{0,200}") {
            if let Some(out) = filter(&text, &FilterSettings::default()).text() {
                // An emoji (4 bytes) can become its name (up to ~40 bytes); nothing else grows.
                prop_assert!(out.len() <= text.len() * 12 + 8, "{text:?} -> {out:?}");
            }
        }
    }
}

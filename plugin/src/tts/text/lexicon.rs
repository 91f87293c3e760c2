//! The user's pronunciation dictionary: whole words replaced, before phonemisation, by a
//! respelling ("Nguyen" → "win") or by phonemes in Piper's inline syntax
//! ("Orator" → "[[ ɔːɹˈeɪtɚ ]]"). Matching ignores case; text already inside `[[ ]]` is left
//! alone. The dictionary is saved with the project (see `state::Session`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// The longest word or replacement accepted (characters): far beyond any real entry, small
/// enough that a corrupt project cannot make every phrase huge.
pub const MAX_ENTRY_CHARS: usize = 200;

/// Why an entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LexiconError {
    /// The word is empty or is not a single word.
    #[error("{0:?} is not a single word (letters, digits, apostrophes or hyphens)")]
    NotAWord(String),
    /// The replacement is empty.
    #[error("the entry for {0:?} has an empty replacement")]
    Empty(String),
    /// Too long.
    #[error("the entry for {0:?} is longer than {MAX_ENTRY_CHARS} characters")]
    TooLong(String),
    /// Unbalanced phoneme brackets.
    #[error("the replacement for {0:?} opens or closes [[ ]] without the other")]
    Brackets(String),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '\'' | '’' | '-')
}

/// A validated dictionary, ready to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    /// Lower-cased word → replacement.
    entries: HashMap<String, String>,
}

impl Lexicon {
    /// Builds a lexicon from saved entries, refusing the first invalid one.
    pub fn new(entries: &BTreeMap<String, String>) -> Result<Self, LexiconError> {
        let mut map = HashMap::with_capacity(entries.len());
        for (word, replacement) in entries {
            let word_trimmed = word.trim();
            if word_trimmed.is_empty() || !word_trimmed.chars().all(is_word_char) {
                return Err(LexiconError::NotAWord(word.clone()));
            }
            let replacement = replacement.trim();
            if replacement.is_empty() {
                return Err(LexiconError::Empty(word.clone()));
            }
            if word_trimmed.chars().count() > MAX_ENTRY_CHARS
                || replacement.chars().count() > MAX_ENTRY_CHARS
            {
                return Err(LexiconError::TooLong(word.clone()));
            }
            if replacement.matches("[[").count() != replacement.matches("]]").count() {
                return Err(LexiconError::Brackets(word.clone()));
            }
            map.insert(word_trimmed.to_lowercase(), replacement.to_owned());
        }
        Ok(Self { entries: map })
    }

    /// Whether there is nothing to replace.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The text with every dictionary word replaced.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.entries.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut rest = text;
        while !rest.is_empty() {
            // Leave inline phonemes untouched.
            if rest.starts_with("[[")
                && let Some(end) = rest.find("]]")
            {
                out.push_str(&rest[..end + 2]);
                rest = &rest[end + 2..];
                continue;
            }
            let word_len: usize = rest
                .chars()
                .take_while(|&c| is_word_char(c))
                .map(char::len_utf8)
                .sum();
            if word_len == 0 {
                let c = rest.chars().next().map_or(1, char::len_utf8);
                out.push_str(&rest[..c]);
                rest = &rest[c..];
                continue;
            }
            let word = &rest[..word_len];
            match self.entries.get(&word.to_lowercase()) {
                Some(replacement) => {
                    out.push_str(replacement);
                    changed = true;
                }
                None => out.push_str(word),
            }
            rest = &rest[word_len..];
        }
        if changed {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(entries: &[(&str, &str)]) -> Lexicon {
        Lexicon::new(
            &entries
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn whole_words_are_replaced_ignoring_case_and_phoneme_blocks_are_kept() {
        let lex = lexicon(&[
            ("nguyen", "win"),
            ("Orator", "[[ ɔːɹˈeɪtɚ ]]"),
            ("GIF", "jif"),
        ]);
        assert_eq!(
            lex.apply("Mr. Nguyen likes orator's GIFs."),
            "Mr. win likes orator's GIFs."
        );
        assert_eq!(
            lex.apply("Orator, ORATOR! gif"),
            "[[ ɔːɹˈeɪtɚ ]], [[ ɔːɹˈeɪtɚ ]]! jif"
        );
        assert_eq!(lex.apply("[[ gif ]] gif"), "[[ gif ]] jif");
        assert!(matches!(lex.apply("nothing here"), Cow::Borrowed(_)));
        assert_eq!(lex.apply("Ünïcode gif…"), "Ünïcode jif…");
    }

    #[test]
    fn bad_entries_are_refused_with_the_word() {
        let refuse = |w: &str, r: &str| {
            Lexicon::new(&[(w.to_string(), r.to_string())].into_iter().collect()).unwrap_err()
        };
        assert_eq!(
            refuse("two words", "x"),
            LexiconError::NotAWord("two words".into())
        );
        assert_eq!(refuse("", "x"), LexiconError::NotAWord(String::new()));
        assert_eq!(refuse("a", "  "), LexiconError::Empty("a".into()));
        assert_eq!(refuse("a", "[[ x"), LexiconError::Brackets("a".into()));
        assert!(matches!(
            refuse("a", &"x".repeat(500)),
            LexiconError::TooLong(_)
        ));
    }
}

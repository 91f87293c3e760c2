//! Where a sentence's phonemes are cut for synthesis: at clause ends for long sentences, and
//! once more at a word boundary where a group is too long to open a phrase quickly. The cuts
//! depend on the text alone, so a phrase is cut the same way every time.

use super::phonemize::{
    ClausedSentence, EspeakGuard, PhonemizeError, SentencePhonemes, strip_language_flags,
};
use unicode_normalization::UnicodeNormalization;
/// Groups a sentence's clauses for synthesis. A sentence of at most `long` phonemes stays
/// whole (exactly as Piper speaks it); a longer one is cut at clause ends into groups of at
/// least `min_group` phonemes, so its first audio arrives after the first group rather than
/// after the whole sentence. A final short remainder joins the group before it.
pub fn group_clauses(
    sentence: &ClausedSentence,
    long: usize,
    min_group: usize,
) -> Vec<SentencePhonemes> {
    let total: usize = sentence.iter().map(Vec::len).sum();
    if total <= long {
        return vec![sentence.concat()];
    }
    let mut groups: Vec<SentencePhonemes> = Vec::new();
    let mut current = SentencePhonemes::new();
    for clause in sentence {
        current.extend(clause);
        if current.len() >= min_group {
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        match groups.last_mut() {
            Some(last) if current.len() < min_group => last.extend(current),
            _ => groups.push(current),
        }
    }
    groups
}

/// English words a new phrase often starts with: conjunctions, subordinators, relative words
/// and a few prepositions. A group too long for its place in the phrase is cut before one of
/// these when it can be (see [`word_cut`]).
const ENGLISH_PHRASE_OPENERS: &[&str] = &[
    "and", "but", "or", "nor", "so", "yet", "because", "although", "though", "unless", "until",
    "while", "whereas", "whether", "when", "whenever", "where", "wherever", "which", "who", "whom",
    "whose", "that", "if", "then", "after", "before", "since", "once", "with", "without", "from",
    "into", "about", "through", "during",
];

/// How the voice's language spells the words a phrase often starts with, as espeak-ng
/// phonemises them, without stress marks (a word's stress depends on its neighbours). Empty for
/// languages without a list (only English has one): their cuts are ranked by stress alone.
#[derive(Debug, Clone, Default)]
pub struct PhraseOpeners(std::collections::HashSet<String>);

impl PhraseOpeners {
    /// The openers of `voice`'s language (an espeak-ng voice name such as `en-us`).
    pub fn for_voice(espeak: &mut EspeakGuard, voice: &str) -> Result<Self, PhonemizeError> {
        let mut spellings = std::collections::HashSet::new();
        if voice.starts_with("en") {
            espeak.set_voice(voice)?;
            for word in ENGLISH_PHRASE_OPENERS {
                for (phonemes, _) in espeak.clauses(word)? {
                    let phonemes: SentencePhonemes =
                        strip_language_flags(&phonemes).nfd().collect();
                    spellings.insert(unstressed(&phonemes));
                }
            }
        }
        Ok(Self(spellings))
    }

    /// Whether the phoneme word `word` is one of them.
    pub fn contains(&self, word: &[char]) -> bool {
        self.0.contains(&unstressed(word))
    }
}

/// A phoneme word without its stress marks.
fn unstressed(word: &[char]) -> String {
    word.iter().filter(|c| !matches!(c, 'ˈ' | 'ˌ')).collect()
}

/// Where to cut a clause group that is too long to open a phrase: the index of a word boundary
/// (a space) leaving at least `min` phonemes on each side and at most `limit` before it. `None`
/// when the group is short enough or has no such boundary (one very long word, say).
///
/// Boundaries are ranked by how likely a phrase starts there, and the last of the best rank
/// wins (the longest first part, so the fewest pauses):
/// 1. before a phrase opener of the voice's language (`openers`);
/// 2. after a stressed word and before an unstressed one (in espeak-ng's stress marks, in any
///    language: a content word, then a function word that may start the next phrase);
/// 3. after a stressed word (not between an article or preposition and its noun);
/// 4. any word boundary.
///
/// A cut without a clause end costs the sentence a seam: each side is spoken as an utterance of
/// its own, so the first side ends as a sentence does, with a short pause. The engine does it
/// only where a group is too long for the audio before it (`engine::group_budget`).
pub fn word_cut(
    group: &[char],
    limit: usize,
    min: usize,
    openers: &PhraseOpeners,
) -> Option<usize> {
    if group.len() <= limit {
        return None;
    }
    let last = limit.min(group.len().saturating_sub(min + 1));
    let stressed = |word: &[char]| word.contains(&'ˈ');
    let word_before = |i: usize| {
        let head = &group[..i];
        &head[head.iter().rposition(|&c| c == ' ').map_or(0, |p| p + 1)..]
    };
    let word_after = |i: usize| {
        let rest = &group[i + 1..];
        &rest[..rest.iter().position(|&c| c == ' ').unwrap_or(rest.len())]
    };
    let rank = |i: usize| {
        let (before, after) = (word_before(i), word_after(i));
        if openers.contains(after) {
            3
        } else if stressed(before) && !stressed(after) {
            2
        } else if stressed(before) {
            1
        } else {
            0
        }
    };
    (min..=last)
        .filter(|&i| group[i] == ' ')
        .max_by_key(|&i| (rank(i), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_too_long_to_open_a_phrase_is_cut_where_a_phrase_most_likely_starts() {
        let text = |s: &str| s.chars().collect::<Vec<_>>();
        let openers = PhraseOpeners(["ænd".to_string()].into());
        let none = PhraseOpeners::default();
        // Spaces at 4, 9, 13, 18, 23, 28.
        let group = text("aaaa bbbb ænd cccc dddd eeee ffff");
        assert!(openers.contains(&text("ˈænd")), "stress marks aside");
        assert_eq!(word_cut(&group, 40, 4, &openers), None, "short enough");
        assert_eq!(word_cut(&group, 25, 4, &openers), Some(9), "before \"and\"");
        assert_eq!(
            word_cut(&group, 25, 4, &none),
            Some(23),
            "nothing ranks higher: the last space within the limit"
        );
        assert_eq!(
            word_cut(&group, 25, 10, &openers),
            Some(18),
            "the opener's space leaves too little before it: the last space that fits"
        );
        assert_eq!(
            word_cut(&group, 32, 4, &none),
            Some(28),
            "leaves at least min after it"
        );
        assert_eq!(
            word_cut(&text(&"a".repeat(50)), 25, 4, &openers),
            None,
            "one long word"
        );
        // Spaces at 5, 9, 15, 19, 25, 31.
        let group = text("ˈaaaa ðɐn ˈbbbb ðɪʲ ˈcccc ˈdddd eeee");
        assert_eq!(
            word_cut(&group, 28, 4, &none),
            Some(15),
            "after a stressed word, before an unstressed one; not between \"ðɪʲ\" and its noun"
        );
        // Spaces at 4, 8, 14, 20, 24.
        let group = text("aaaa ðɐn ˈbbbb ˈcccc ðɪʲ ˈdddd");
        assert_eq!(
            word_cut(&group, 19, 4, &none),
            Some(14),
            "after a stressed word, then any boundary"
        );
    }

    #[test]
    fn long_sentences_are_grouped_at_clause_ends_and_short_ones_stay_whole() {
        let clause = |s: &str| s.chars().collect::<Vec<_>>();
        let sentence = vec![
            clause("aaaa, "),
            clause("bb, "),
            clause("cccccc, "),
            clause("d."),
        ];
        assert_eq!(group_clauses(&sentence, 100, 5), vec![sentence.concat()]);
        let groups = group_clauses(&sentence, 10, 5);
        let text: Vec<String> = groups.iter().map(|g| g.iter().collect()).collect();
        assert_eq!(text, ["aaaa, ", "bb, cccccc, d."]);
        assert_eq!(
            groups.concat(),
            sentence.concat(),
            "nothing lost or reordered"
        );
    }
}

//! Word and phoneme timings from the voice itself.
//!
//! A Piper voice decides every phoneme's length: its duration predictor gives each phoneme id a
//! whole number of latent frames, and each frame is the decoder's hop (256 samples in Piper's
//! voices) of audio. The
//! front hands those durations on ([`crate::tts::model::split`]), so where each phoneme, and so
//! each word, lies in a sentence's audio is known exactly, not estimated.
//!
//! - [`SentenceTimings::new`]: one synthesised group's phonemes and words, in samples at the
//!   voice's rate from the group's start;
//! - [`written_words`]: the words of the text as written (what a caption shows);
//! - [`align`]: which written word each spoken phoneme belongs to;
//! - [`PhraseTimings`]: a phrase's words, in samples from the phrase's first sample, at any
//!   output rate.
//!
//! Pure logic: the engine and the speech thread feed it.

use std::ops::Range;

/// Where something lies in audio: samples `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// First sample.
    pub start: u64,
    /// One past the last sample.
    pub end: u64,
}

/// One phoneme of a group and its span.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhonemeTiming {
    /// The phoneme (an IPA character; stress marks and punctuation included).
    pub phoneme: char,
    /// Its span in the group's audio, at the voice's rate.
    pub span: Span,
}

/// One spoken word of a group: a run of phonemes between spaces and punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpokenWord {
    /// Its phonemes' indices in [`SentenceTimings::phonemes`].
    pub phonemes: Range<usize>,
    /// Its span in the group's audio, at the voice's rate.
    pub span: Span,
}

/// One synthesised group's timings (a sentence, or the part of one synthesised at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceTimings {
    /// The group's length in samples at the voice's rate: the sum of every id's duration.
    pub length: u64,
    /// Every phoneme the voice knew, in order.
    pub phonemes: Vec<PhonemeTiming>,
    /// The spoken words, in order.
    pub words: Vec<SpokenWord>,
}

/// Whether a phoneme character separates words (a space or Piper's punctuation).
fn separates(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation() || matches!(c, '—' | '…' | '¡' | '¿')
}

impl SentenceTimings {
    /// The timings of a group whose phonemes `phonemes` became ids owned as `owners` says
    /// (`owners[i]`: the index in `phonemes` of the phoneme id `i` belongs to, `None` for the
    /// start, end and leading padding), each lasting `durations[i]` frames of `hop` samples.
    /// `None` if the lists do not match.
    pub fn new(
        phonemes: &[char],
        owners: &[Option<usize>],
        durations: &[u32],
        hop: usize,
    ) -> Option<Self> {
        if owners.len() != durations.len() || hop == 0 {
            return None;
        }
        let hop = hop as u64;
        let mut spans: Vec<Option<Span>> = vec![None; phonemes.len()];
        let mut at = 0u64;
        for (owner, &frames) in owners.iter().zip(durations) {
            let end = at + u64::from(frames) * hop;
            if let Some(&k) = owner.as_ref() {
                let span = spans.get_mut(k)?;
                *span = Some(match *span {
                    Some(s) => Span {
                        start: s.start,
                        end,
                    },
                    None => Span { start: at, end },
                });
            }
            at = end;
        }
        let mut timed = Vec::with_capacity(phonemes.len());
        let mut words = Vec::new();
        let mut word: Option<(usize, Span)> = None;
        for (&phoneme, span) in phonemes.iter().zip(&spans) {
            // A phoneme the voice does not know has no ids and no time.
            let Some(span) = *span else { continue };
            let index = timed.len();
            timed.push(PhonemeTiming { phoneme, span });
            if separates(phoneme) {
                if let Some((first, span)) = word.take() {
                    words.push(SpokenWord {
                        phonemes: first..index,
                        span,
                    });
                }
            } else {
                word = Some(match word {
                    Some((first, s)) => (
                        first,
                        Span {
                            start: s.start,
                            end: span.end,
                        },
                    ),
                    None => (index, span),
                });
            }
        }
        if let Some((first, span)) = word {
            words.push(SpokenWord {
                phonemes: first..timed.len(),
                span,
            });
        }
        Some(Self {
            length: at,
            phonemes: timed,
            words,
        })
    }

    /// A word's phonemes as text (for the tests' messages and checks).
    #[cfg(test)]
    pub fn word_phonemes(&self, word: &SpokenWord) -> String {
        self.phonemes
            .get(word.phonemes.clone())
            .unwrap_or_default()
            .iter()
            .map(|p| p.phoneme)
            .collect()
    }
}

/// A word of the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenWord {
    /// The word, without the punctuation around it (a `[[ ]]` block keeps its brackets).
    pub text: String,
    /// Where it is in the text (bytes).
    pub range: Range<usize>,
}

/// The words of `text` as a reader sees them: runs between white space, punctuation trimmed
/// from their ends (a `[[ ]]` phoneme block is one word however many it holds). Runs of
/// punctuation alone (a dash, "...") are not words.
pub fn written_words(text: &str) -> Vec<WrittenWord> {
    let mut words = Vec::new();
    let mut rest = 0;
    while rest < text.len() {
        let tail = &text[rest..];
        let Some(skip) = tail.find(|c: char| !c.is_whitespace()) else {
            break;
        };
        let start = rest + skip;
        let token_end = if text[start..].starts_with("[[") {
            text[start..]
                .find("]]")
                .map_or(text.len(), |close| start + close + 2)
        } else {
            text[start..]
                .find(char::is_whitespace)
                .map_or(text.len(), |len| start + len)
        };
        let token = &text[start..token_end];
        let trimmed_start = token.len() - token.trim_start_matches(is_edge_punctuation).len();
        let trimmed = token
            .trim_start_matches(is_edge_punctuation)
            .trim_end_matches(is_edge_punctuation);
        if !trimmed.is_empty() || token.starts_with("[[") {
            let (from, word) = if token.starts_with("[[") {
                (start, token)
            } else {
                (start + trimmed_start, trimmed)
            };
            words.push(WrittenWord {
                text: word.to_owned(),
                range: from..from + word.len(),
            });
        }
        rest = token_end;
    }
    words
}

fn is_edge_punctuation(c: char) -> bool {
    (c.is_ascii_punctuation() && !matches!(c, '&' | '%' | '$' | '#' | '@' | '+' | '='))
        || matches!(
            c,
            '—' | '–' | '…' | '“' | '”' | '‘' | '’' | '«' | '»' | '¡' | '¿'
        )
}

/// Whether a phoneme is a stress mark (left out when phonemes are matched up: espeak-ng
/// stresses a word differently alone and in a sentence).
fn is_stress(c: char) -> bool {
    matches!(c, 'ˈ' | 'ˌ')
}

/// The phonemes matched up when spoken phonemes are given to written words.
fn matched(c: char) -> bool {
    !is_stress(c) && !separates(c)
}

/// The largest alignment worked out phoneme by phoneme (cells of its table); a longer phrase
/// is matched word by word in proportion.
const MAX_ALIGNMENT_CELLS: usize = 4 << 20;

/// For each phoneme of `spoken` (a phrase's phonemes as synthesised, stress and separators
/// left out), the written word it belongs to, given each written word's phonemes on its own
/// (`written`, from the phonemizer). In a sentence espeak-ng joins some words ("for the" is
/// one word `fɚðə`) and says others differently, so the two are matched up phoneme by phoneme
/// (the fewest edits), and each spoken phoneme goes to the written word of the phoneme it
/// matched (or, if it matched none, of the one before). Returns `None` for each phoneme when
/// nothing can be matched.
pub fn align(written: &[Vec<char>], spoken: &[char]) -> Vec<Option<usize>> {
    let target: Vec<(char, usize)> = written
        .iter()
        .enumerate()
        .flat_map(|(w, p)| p.iter().filter(|&&c| matched(c)).map(move |&c| (c, w)))
        .collect();
    let (n, m) = (spoken.len(), target.len());
    if m == 0 {
        return vec![None; n];
    }
    if spoken.iter().copied().eq(target.iter().map(|t| t.0)) {
        return target.iter().map(|t| Some(t.1)).collect();
    }
    if (n + 1).saturating_mul(m + 1) > MAX_ALIGNMENT_CELLS {
        return (0..n).map(|k| Some(target[k * m / n.max(1)].1)).collect();
    }
    // Edit distance, keeping each cell's cost; walked back from the end.
    let width = m + 1;
    let mut cost = vec![0u32; (n + 1) * width];
    for (j, cell) in cost.iter_mut().take(width).enumerate() {
        *cell = j as u32;
    }
    for i in 1..=n {
        cost[i * width] = i as u32;
        for j in 1..=m {
            let same = u32::from(spoken[i - 1] != target[j - 1].0);
            cost[i * width + j] = (cost[(i - 1) * width + j - 1] + same)
                .min(cost[(i - 1) * width + j] + 1)
                .min(cost[i * width + j - 1] + 1);
        }
    }
    let mut owners = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 {
        let here = cost[i * width + j];
        if j > 0
            && here == cost[(i - 1) * width + j - 1] + u32::from(spoken[i - 1] != target[j - 1].0)
        {
            owners[i - 1] = Some(target[j - 1].1);
            i -= 1;
            j -= 1;
        } else if j > 0 && here == cost[i * width + j - 1] + 1 {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    // A phoneme that matched none goes with the one before it (or after, at the start).
    let mut last = None;
    for owner in owners.iter_mut() {
        match owner {
            Some(w) => last = Some(*w),
            None => *owner = last,
        }
    }
    let first = owners.iter().flatten().next().copied();
    for owner in owners.iter_mut().take_while(|o| o.is_none()) {
        *owner = first;
    }
    owners
}

/// One word of a phrase as heard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WordTiming {
    /// Its place among the phrase's timed words, from 0.
    pub index: usize,
    /// The word as written (or its phonemes, where the written words are not known).
    pub text: String,
    /// Where it is in the phrase's text (bytes), if known.
    pub range: Option<(usize, usize)>,
    /// Its span in samples from the phrase's first sample, at the rate the timings were asked
    /// at.
    pub span: Span,
    /// Its phonemes, each with its span (same rate and origin).
    pub phonemes: Vec<PhonemeTiming>,
}

/// A phrase's timings as its groups are synthesised: spoken words with their spans from the
/// phrase's first sample, at the voice's rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhraseTimings {
    /// The phrase's spoken words in order: (span, phonemes with spans), at the voice's rate
    /// from the phrase's start.
    spoken: Vec<(Span, Vec<PhonemeTiming>)>,
    /// Whether every group so far had timings.
    complete: bool,
    /// Groups added.
    groups: usize,
}

impl PhraseTimings {
    /// An empty phrase.
    pub fn new() -> Self {
        Self {
            complete: true,
            ..Self::default()
        }
    }

    /// Adds the next group, which starts `offset` samples into the phrase (at the voice's
    /// rate), with its timings if the voice gave them.
    pub fn push(&mut self, offset: u64, timings: Option<&SentenceTimings>) {
        match timings {
            Some(t) => {
                let shift = |s: Span| Span {
                    start: s.start + offset,
                    end: s.end + offset,
                };
                for word in &t.words {
                    let phonemes = t
                        .phonemes
                        .get(word.phonemes.clone())
                        .unwrap_or_default()
                        .iter()
                        .map(|p| PhonemeTiming {
                            phoneme: p.phoneme,
                            span: shift(p.span),
                        })
                        .collect();
                    self.spoken.push((shift(word.span), phonemes));
                }
            }
            None => self.complete = false,
        }
        self.groups += 1;
    }

    /// Whether every group had timings (and there was at least one).
    pub fn is_complete(&self) -> bool {
        self.complete && self.groups > 0
    }

    /// Spoken words so far.
    #[cfg(test)]
    pub fn spoken_words(&self) -> usize {
        self.spoken.len()
    }

    /// The words, their spans converted from the voice's rate `from` to `to` (as the
    /// streaming resampler maps them: output sample `round(n · to / from)`). With `written`
    /// (the text's words and each one's phonemes on its own, [`align`]), the words are the
    /// written ones, each spanning the phonemes that were matched to it; without it each
    /// spoken word is reported by its phonemes.
    pub fn words(
        &self,
        from: u32,
        to: u32,
        written: Option<(&[WrittenWord], &[Vec<char>])>,
    ) -> Vec<WordTiming> {
        let convert = |s: Span| Span {
            start: rescale(s.start, from, to),
            end: rescale(s.end, from, to),
        };
        let converted = |p: &PhonemeTiming| PhonemeTiming {
            phoneme: p.phoneme,
            span: convert(p.span),
        };
        let Some((words, phonemes)) = written.filter(|(w, p)| w.len() == p.len()) else {
            return self
                .spoken
                .iter()
                .enumerate()
                .map(|(index, (span, list))| WordTiming {
                    index,
                    text: list.iter().map(|p| p.phoneme).collect(),
                    range: None,
                    span: convert(*span),
                    phonemes: list.iter().map(converted).collect(),
                })
                .collect();
        };
        let all: Vec<&PhonemeTiming> = self.spoken.iter().flat_map(|(_, list)| list).collect();
        let keys: Vec<char> = all
            .iter()
            .map(|p| p.phoneme)
            .filter(|&c| matched(c))
            .collect();
        let owners = align(phonemes, &keys);
        let mut out: Vec<WordTiming> = Vec::new();
        let mut owner_of = owners.into_iter();
        // Stress marks go with the phoneme after them.
        let mut pending: Vec<&PhonemeTiming> = Vec::new();
        let mut current: Option<usize> = None;
        for p in all {
            if !matched(p.phoneme) {
                pending.push(p);
                continue;
            }
            let owner = owner_of.next().flatten();
            let Some(w) = owner else {
                pending.clear();
                continue;
            };
            let Some(word) = words.get(w) else { continue };
            if current != Some(w) {
                current = Some(w);
                out.push(WordTiming {
                    index: out.len(),
                    text: word.text.clone(),
                    range: Some((word.range.start, word.range.end)),
                    span: convert(pending.first().map_or(p.span, |q| q.span)),
                    phonemes: Vec::new(),
                });
            }
            if let Some(last) = out.last_mut() {
                for q in pending.drain(..).chain([p]) {
                    last.phonemes.push(converted(q));
                    last.span.end = convert(q.span).end;
                }
            }
        }
        out
    }
}

/// Sample `n` at `from` Hz as a sample at `to` Hz, rounded to the nearest.
pub fn rescale(n: u64, from: u32, to: u32) -> u64 {
    if from == to || from == 0 {
        return n;
    }
    let scaled = u128::from(n) * u128::from(to);
    let from = u128::from(from);
    u64::try_from((scaled + from / 2) / from).unwrap_or(u64::MAX)
}

/// Words of `text` with `spans` (start, end) in order, each word's text and range its own
/// without the marks after it (`there.` is `there`). A fixture for tests of what uses timings.
#[cfg(test)]
pub(crate) fn fixture_words(text: &str, spans: &[(u64, u64)]) -> Vec<WordTiming> {
    let mut at = 0;
    text.split_whitespace()
        .zip(spans)
        .enumerate()
        .map(|(index, (w, &(start, end)))| {
            let from = text[at..].find(w).map_or(at, |i| at + i);
            at = from + w.len();
            let bare = w.trim_end_matches(['.', ',', '!', '?']);
            WordTiming {
                index,
                text: bare.into(),
                range: Some((from, from + bare.len())),
                span: Span { start, end },
                phonemes: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOP: u64 = 256;

    #[test]
    fn phoneme_and_word_spans_follow_the_durations() {
        // "ab c." as Piper lays out ids: ^ _ a _ b _ ' ' _ c _ . _ $
        let phonemes = ['a', 'b', ' ', 'c', '.'];
        let owners = [
            None,
            None,
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            Some(2),
            Some(2),
            Some(3),
            Some(3),
            Some(4),
            Some(4),
            None,
        ];
        let durations = [0, 2, 3, 1, 2, 2, 1, 1, 4, 0, 5, 0, 1];
        let t = SentenceTimings::new(&phonemes, &owners, &durations, 256).expect("matching lists");
        assert_eq!(t.length, 22 * HOP);
        let span = |a: u64, b: u64| Span {
            start: a * HOP,
            end: b * HOP,
        };
        assert_eq!(t.phonemes[0].span, span(2, 6));
        assert_eq!(t.phonemes[1].span, span(6, 10));
        assert_eq!(t.words.len(), 2);
        assert_eq!(t.words[0].span, span(2, 10));
        assert_eq!(t.words[1].span, span(12, 16));
        assert_eq!(t.word_phonemes(&t.words[0]), "ab");
        assert_eq!(t.word_phonemes(&t.words[1]), "c");
        assert!(SentenceTimings::new(&phonemes, &owners, &durations[1..], 256).is_none());
    }

    #[test]
    fn written_words_trim_punctuation_and_keep_phoneme_blocks_whole() {
        let text = "Hello, \"world\"... it's 2026 - [[bˈʌt nˈaʊ]] & more!";
        let words: Vec<String> = written_words(text).into_iter().map(|w| w.text).collect();
        assert_eq!(
            words,
            [
                "Hello",
                "world",
                "it's",
                "2026",
                "[[bˈʌt nˈaʊ]]",
                "&",
                "more"
            ]
        );
        for word in written_words(text) {
            assert_eq!(&text[word.range.clone()], word.text);
        }
        assert!(written_words("  ... -- ").is_empty());
    }

    #[test]
    fn spoken_phonemes_go_to_the_written_words_they_match() {
        let chars = |s: &str| s.chars().collect::<Vec<char>>();
        // "for the follow": espeak-ng says `fɚðə fˈɑːloʊ` in the sentence, `fɔːɹ`, `ðə` and
        // `fˈɑːloʊ` alone.
        let written = [chars("fɔːɹ"), chars("ðə"), chars("fˈɑːloʊ")];
        let spoken: Vec<char> = "fɚðəfɑːloʊ".chars().collect();
        let owners = align(&written, &spoken);
        assert_eq!(
            owners,
            [0, 0, 1, 1, 2, 2, 2, 2, 2, 2]
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>()
        );
        // Identical: one to one.
        assert_eq!(
            align(&[chars("ab"), chars("c")], &chars("abc")),
            [Some(0), Some(0), Some(1)]
        );
        assert_eq!(align(&[], &chars("ab")), [None, None]);
    }

    #[test]
    fn phrase_words_are_shifted_merged_and_rescaled() {
        // "a b" twice, each phoneme 1 frame plus its pad's.
        let owners = [None, Some(0), Some(1), Some(2)];
        let one =
            SentenceTimings::new(&['a', ' ', 'b'], &owners, &[1, 2, 1, 3], 256).expect("lists");
        let mut phrase = PhraseTimings::new();
        phrase.push(0, Some(&one));
        phrase.push(one.length, Some(&one));
        assert!(phrase.is_complete());
        assert_eq!(phrase.spoken_words(), 4);
        let spoken = phrase.words(22_050, 22_050, None);
        assert_eq!(spoken[2].span.start, one.length + HOP);
        assert_eq!(spoken[2].text, "a");
        // Written "ab ab": each written word matches two spoken ones.
        let written = written_words("ab ab");
        let phonemes = [vec!['a', 'b'], vec!['a', 'b']];
        let words = phrase.words(22_050, 44_100, Some((&written, &phonemes)));
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].text, "ab");
        assert_eq!(words[0].span.start, 2 * HOP);
        assert_eq!(words[0].span.end, 2 * one.length);
        assert_eq!(words[1].index, 1);
        assert_eq!(words[1].range, Some((3, 5)));
        assert_eq!(words[0].phonemes.len(), 2);
        phrase.push(2 * one.length, None);
        assert!(!phrase.is_complete());
    }

    #[test]
    fn rescaling_rounds_to_the_nearest_sample() {
        assert_eq!(rescale(22_050, 22_050, 48_000), 48_000);
        assert_eq!(rescale(1, 22_050, 48_000), 2);
        assert_eq!(rescale(7, 3, 3), 7);
        assert_eq!(rescale(u64::MAX, 1, 2), u64::MAX);
    }
}

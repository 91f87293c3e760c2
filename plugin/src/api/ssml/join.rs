//! Joins the segments' renders into one output, each pause exact to the sample.
//!
//! A pause is measured where a listener hears it: from the end of the last word before it to
//! the start of the first word after it (the word timings' spans). Around a pause each render
//! keeps [`FADE_MS`] of its own sound past its words' edge, faded out (or in), and the rest of
//! its edge is dropped, so what lies between the fades is digital silence. The output's start
//! (without a leading `<break>`) and end (without a trailing one) keep the voice's own.
//!
//! The word timings of each render move with it, and are mapped onto the document's shown text
//! ([`super::Piece`]): the words said for a `<sub>`, a `<say-as>` or a `<phoneme>` become one
//! word, the shown text, spanning them all.
//!
//! Thread model: plain data, used by one render thread.

use super::Piece;
use crate::tts::timings::{Span, WordTiming};

/// How much of a render's own sound is kept past its words' edge at a pause, milliseconds.
pub const FADE_MS: u32 = 5;

/// The pause between two segments with no `<break>` between them (a change of voice or pace):
/// after a sentence's end 400 ms (a `medium` break), after a clause's 200 ms, else 60 ms.
pub fn natural_pause_ms(previous: &str) -> u32 {
    let end = previous.trim_end();
    if end.ends_with(['.', '!', '?', '…']) {
        400
    } else if end.ends_with([',', ';', ':', '—']) {
        200
    } else {
        60
    }
}

/// Samples of `ms` at `rate`, rounded.
pub fn samples(ms: u32, rate: u32) -> usize {
    ((u64::from(ms) * u64::from(rate) + 500) / 1000) as usize
}

/// One segment's render, ready to join.
pub struct Take<'a> {
    /// Its samples.
    pub samples: &'a [f32],
    /// Where its first word starts.
    pub first: usize,
    /// Where its last word ends.
    pub last: usize,
}

impl<'a> Take<'a> {
    /// A render's take: its words' edges from `words` (spans from `start`), or, without
    /// words, its first and last sound.
    pub fn new(samples: &'a [f32], words: &[WordTiming], start: u64) -> Option<Self> {
        let at = |s: u64| {
            usize::try_from(start + s)
                .unwrap_or(usize::MAX)
                .min(samples.len())
        };
        let (first, last) = match (words.first(), words.last()) {
            (Some(a), Some(b)) => (at(a.span.start), at(b.span.end)),
            _ => {
                let first = samples.iter().position(|&x| x != 0.0)?;
                let last = samples.iter().rposition(|&x| x != 0.0)? + 1;
                (first, last)
            }
        };
        (first <= last).then_some(Self {
            samples,
            first,
            last,
        })
    }
}

/// The output being joined; its front is handed on as soon as nothing more can change it.
#[derive(Debug, Default)]
pub struct Joiner {
    /// Samples not yet handed on, from output sample `handed`.
    out: Vec<f32>,
    /// Samples handed on.
    handed: usize,
    /// Where the last placed take's last word ends in the output.
    words_end: Option<usize>,
    /// Samples of [`FADE_MS`].
    fade: usize,
}

impl Joiner {
    /// A joiner for output at `rate`.
    pub fn new(rate: u32) -> Self {
        Self {
            fade: samples(FADE_MS, rate),
            ..Self::default()
        }
    }

    /// Where the next take's first word will be with `pause` before it (`None`: the first take
    /// without a leading break, which starts the output as rendered).
    fn first_word_at(&self, pause: Option<usize>) -> Option<usize> {
        match (self.words_end, pause) {
            (Some(end), pause) => Some(end + pause.unwrap_or(0)),
            (None, pause) => pause,
        }
    }

    /// The output length so far.
    pub fn len(&self) -> usize {
        self.handed + self.out.len()
    }

    /// Whether nothing was placed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Places `take` with `pause` samples between the previous take's last word and its first
    /// (`None` for a first take without a leading break); `trim_end` when a pause follows it.
    /// Returns where its sample 0 lands in the output (may be negative: its front was
    /// dropped).
    pub fn place(&mut self, take: &Take<'_>, pause: Option<usize>, trim_end: bool) -> i64 {
        let (lo, first_at) = match self.first_word_at(pause) {
            None => (0, take.first),
            Some(at) => (take.first - self.fade.min(take.first).min(at), at),
        };
        let hi = if trim_end {
            (take.last + self.fade).min(take.samples.len())
        } else {
            take.samples.len()
        };
        let offset = first_at as i64 - take.first as i64;
        let start = usize::try_from(lo as i64 + offset).unwrap_or(0);
        let end = start + (hi - lo);
        let local = |i: usize| i.saturating_sub(self.handed);
        if self.out.len() < local(end) {
            self.out.resize(local(end), 0.0);
        }
        let fade_in = take.first - lo;
        let fade_out = hi.saturating_sub(take.last);
        for (i, &x) in take.samples[lo..hi].iter().enumerate() {
            let source = lo + i;
            let mut gain = 1.0f32;
            if source < take.first && pause.is_some() {
                gain = (source - lo + 1) as f32 / (fade_in + 1) as f32;
            }
            if source >= take.last && trim_end {
                gain *= (hi - source) as f32 / (fade_out + 1) as f32;
            }
            let at = start + i;
            if at >= self.handed {
                self.out[at - self.handed] += x * gain;
            }
        }
        self.words_end = Some(usize::try_from(take.last as i64 + offset).unwrap_or(0));
        offset
    }

    /// Hands on what no later take can change, given the pause before the next one (`None`:
    /// there is no next one; everything placed is final).
    pub fn ready(&mut self, next_pause: Option<usize>) -> Vec<f32> {
        let until = match (self.words_end, next_pause) {
            (Some(end), Some(pause)) => (end + pause).saturating_sub(self.fade),
            _ => self.len(),
        };
        let n = until.saturating_sub(self.handed).min(self.out.len());
        self.handed += n;
        self.out.drain(..n).collect()
    }

    /// Ends the output `pause` samples after the last word (`None`: where the last take ends).
    pub fn finish(&mut self, pause: Option<usize>) {
        if let (Some(end), Some(pause)) = (self.words_end, pause) {
            let length = (end + pause).saturating_sub(self.handed);
            self.out.resize(length, 0.0);
        }
    }
}

/// `words` of a take placed at `offset` (its phrase starting at take sample `start`), moved to
/// output samples and mapped onto the shown text through `pieces`; appended to `out`.
pub fn map_words(
    words: &[WordTiming],
    (start, offset): (u64, i64),
    pieces: &[Piece],
    shown: &str,
    out: &mut Vec<WordTiming>,
) {
    let moved = |span: Span| Span {
        start: (span.start as i64 + start as i64 + offset).max(0) as u64,
        end: (span.end as i64 + start as i64 + offset).max(0) as u64,
    };
    let mut merged_piece: Option<usize> = None;
    for word in words {
        let mut word = word.clone();
        word.span = moved(word.span);
        for p in &mut word.phonemes {
            p.span = moved(p.span);
        }
        let piece = word
            .range
            .and_then(|(a, _)| pieces.iter().position(|p| p.spoken.contains(&a)));
        let Some(index) = piece else {
            merged_piece = None;
            word.range = None;
            out.push(word);
            continue;
        };
        let p = &pieces[index];
        if p.same {
            let (a, b) = word.range.unwrap_or_default();
            let from = p.shown.start + (a - p.spoken.start);
            let to = (p.shown.start + b.saturating_sub(p.spoken.start)).min(p.shown.end);
            word.range = Some((from, to.max(from)));
            merged_piece = None;
            out.push(word);
            continue;
        }
        // A replaced piece: its words are one shown word.
        if merged_piece == Some(index) {
            if let Some(last) = out.last_mut() {
                last.span.end = last.span.end.max(word.span.end);
                last.phonemes.extend(word.phonemes);
            }
            continue;
        }
        merged_piece = Some(index);
        word.range = Some((p.shown.start, p.shown.end));
        word.text = shown.get(p.shown.clone()).unwrap_or_default().to_owned();
        out.push(word);
    }
    for (i, word) in out.iter_mut().enumerate() {
        word.index = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, range: (usize, usize), span: (u64, u64)) -> WordTiming {
        WordTiming {
            index: 0,
            text: text.into(),
            range: Some(range),
            span: Span {
                start: span.0,
                end: span.1,
            },
            phonemes: Vec::new(),
        }
    }

    #[test]
    fn a_pause_is_exact_between_words_and_silent_between_the_fades() {
        let rate = 1000; // 5 samples of fade
        let a = vec![0.5f32; 100]; // words 10..80
        let b = vec![0.25f32; 60]; // words 20..50
        let mut joiner = Joiner::new(rate);
        let take_a = Take {
            samples: &a,
            first: 10,
            last: 80,
        };
        assert_eq!(joiner.place(&take_a, None, true), 0);
        // Nothing past the next take's fade-in can be handed on yet.
        let front = joiner.ready(Some(30));
        assert_eq!(front.len(), 85, "all of the first take, fade included");
        let take_b = Take {
            samples: &b,
            first: 20,
            last: 50,
        };
        let offset = joiner.place(&take_b, Some(30), false);
        assert_eq!(
            offset + 20,
            110,
            "the next word starts 30 samples after the last ended"
        );
        let mut all = front;
        all.extend(joiner.ready(None));
        assert_eq!(all.len(), 110 - 20 + 60);
        assert_eq!(
            &all[..10],
            &[0.5; 10],
            "the output's start is the voice's own"
        );
        assert!(all[80..85].iter().all(|&x| x > 0.0 && x < 0.5), "faded out");
        assert!(
            all[85..105].iter().all(|&x| x == 0.0),
            "silence between the fades"
        );
        assert!(
            all[105..110].iter().all(|&x| x > 0.0 && x < 0.25),
            "faded in"
        );
        assert_eq!(all[110], 0.25);
    }

    #[test]
    fn leading_and_trailing_breaks_are_exact() {
        let a = vec![1.0f32; 50]; // words 20..30
        let mut joiner = Joiner::new(1000);
        let offset = joiner.place(
            &Take {
                samples: &a,
                first: 20,
                last: 30,
            },
            Some(3),
            true,
        );
        assert_eq!(
            offset + 20,
            3,
            "the first word starts at the leading break's end"
        );
        joiner.finish(Some(40));
        let all = joiner.ready(None);
        assert_eq!(all.len(), 30 + 3 - 20 + 40);
        assert_eq!(all[0], 0.25, "a 3-sample fade-in (of 3 kept)");
    }

    #[test]
    fn words_map_onto_the_shown_text_and_replacements_become_one_word() {
        // Shown: "Call WWW now"; spoken: "Call World Wide Web now".
        let pieces = [
            Piece {
                spoken: 0..5,
                shown: 0..5,
                same: true,
            },
            Piece {
                spoken: 5..19,
                shown: 5..8,
                same: false,
            },
            Piece {
                spoken: 19..23,
                shown: 8..12,
                same: true,
            },
        ];
        let words = [
            word("Call", (0, 4), (0, 10)),
            word("World", (5, 10), (10, 20)),
            word("Wide", (11, 15), (20, 30)),
            word("Web", (16, 19), (30, 40)),
            word("now", (20, 23), (45, 50)),
        ];
        let mut out = Vec::new();
        map_words(&words, (100, -50), &pieces, "Call WWW now", &mut out);
        let seen: Vec<_> = out
            .iter()
            .map(|w| (w.index, w.text.as_str(), w.range, w.span.start, w.span.end))
            .collect();
        assert_eq!(
            seen,
            [
                (0, "Call", Some((0, 4)), 50, 60),
                (1, "WWW", Some((5, 8)), 60, 90),
                (2, "now", Some((9, 12)), 95, 100),
            ]
        );
    }

    #[test]
    fn joins_without_a_break_pause_as_the_text_does() {
        assert_eq!(natural_pause_ms("Hello there."), 400);
        assert_eq!(natural_pause_ms("Hello there, "), 200);
        assert_eq!(natural_pause_ms("Hello there"), 60);
        assert_eq!(samples(750, 24_000), 18_000);
        assert_eq!(samples(1, 22_050), 22);
    }
}

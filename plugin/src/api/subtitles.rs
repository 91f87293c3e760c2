//! Subtitles from the exact word timings: SRT and WebVTT cues for a rendered phrase.
//!
//! Cue rules: a cue holds whole words (as written, with the punctuation after them), at most [`MAX_LINES`] lines of at most
//! [`MAX_LINE_CHARS`] characters (wrapped at spaces); it ends after a word that ends a
//! sentence (`.`, `!`, `?`, `…` after it in the text), before a pause longer than
//! [`PAUSE_BREAK`], and before it would last longer than [`MAX_CUE`]. A cue shows from its
//! first word's start to its last word's end, held to at least [`MIN_CUE`] where the next cue
//! leaves room; a phrase's cues never overlap. Times are the words' own (samples at the render's rate),
//! rounded to the millisecond. A project's cues ([`project_cues`]) place each phrase's at its
//! place in the project; phrases spoken at once overlap there as they do in the audio.
//!
//! Thread model: pure functions.

use crate::playback::bank::PlacedPhrase;
use crate::tts::timings::WordTiming;

/// Lines a cue has at most.
pub const MAX_LINES: usize = 2;

/// Characters a line has at most (a single longer word gets a line of its own).
pub const MAX_LINE_CHARS: usize = 42;

/// The shortest a cue shows, seconds (where the next cue leaves room).
pub const MIN_CUE: f64 = 0.7;

/// The longest a cue lasts, seconds.
pub const MAX_CUE: f64 = 7.0;

/// A pause between words longer than this ends a cue, seconds.
pub const PAUSE_BREAK: f64 = 0.5;

/// One cue: its lines and its span in seconds from the output's first sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// The lines shown.
    pub lines: Vec<String>,
    /// When it shows, seconds.
    pub start: f64,
    /// When it goes, seconds.
    pub end: f64,
}

/// The cues for `words` (spans in samples at `sample_rate`, from the phrase's first sample,
/// which is `offset` samples into the output), whose places are in `text`.
pub fn cues(words: &[WordTiming], text: &str, sample_rate: u32, offset: u64) -> Vec<Cue> {
    let mut cues = spoken(words, text, sample_rate, offset);
    hold(&mut cues);
    cues
}

/// The cues of a project's phrases, each at its place ([`PlacedPhrase::at`]), in order of
/// their start. Phrases that sound at once (two notes) keep their cues: they overlap as the
/// voices do; a short cue is held only as far as the next cue's start.
pub fn project_cues(phrases: &[PlacedPhrase]) -> Vec<Cue> {
    let mut all: Vec<Cue> = phrases
        .iter()
        .flat_map(|p| spoken(&p.words, &p.text, p.sample_rate, p.at))
        .collect();
    all.sort_by(|a, b| a.start.total_cmp(&b.start));
    hold(&mut all);
    all
}

/// The cues for `words`, each spanning its words exactly.
fn spoken(words: &[WordTiming], text: &str, sample_rate: u32, offset: u64) -> Vec<Cue> {
    let rate = f64::from(sample_rate.max(1));
    let seconds = |samples: u64| (offset + samples) as f64 / rate;
    let mut cues: Vec<Cue> = Vec::new();
    let mut current: Vec<(&WordTiming, String)> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let shown = written(word, text);
        if let Some((first, _)) = current.first() {
            let would_last = seconds(word.span.end) - seconds(first.span.start);
            let fits = fits(
                current
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .chain([shown.as_str()]),
            );
            if would_last > MAX_CUE || !fits {
                cues.push(cue(&current, &seconds));
                current.clear();
            }
        }
        current.push((word, shown));
        let next = words.get(i + 1);
        let pause =
            next.is_some_and(|n| seconds(n.span.start) - seconds(word.span.end) > PAUSE_BREAK);
        if ends_sentence(word, text) || pause {
            cues.push(cue(&current, &seconds));
            current.clear();
        }
    }
    if !current.is_empty() {
        cues.push(cue(&current, &seconds));
    }
    cues
}

/// Holds each cue (in order of start) shorter than [`MIN_CUE`] to that length, as far as the
/// next cue's start leaves room; a cue is never shortened below its words.
fn hold(cues: &mut [Cue]) {
    for i in 0..cues.len() {
        let next_start = cues.get(i + 1).map_or(f64::INFINITY, |c| c.start);
        let cue = &mut cues[i];
        if cue.end - cue.start < MIN_CUE {
            cue.end = cue.end.max((cue.start + MIN_CUE).min(next_start));
        }
    }
}

fn cue(words: &[(&WordTiming, String)], seconds: &impl Fn(u64) -> f64) -> Cue {
    let mut lines: Vec<String> = Vec::new();
    for (_, shown) in words {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + shown.chars().count() <= MAX_LINE_CHARS => {
                line.push(' ');
                line.push_str(shown);
            }
            _ => lines.push(shown.clone()),
        }
    }
    Cue {
        lines,
        start: words.first().map_or(0.0, |(w, _)| seconds(w.span.start)),
        end: words.last().map_or(0.0, |(w, _)| seconds(w.span.end)),
    }
}

/// A word as written in `text`, with the marks right after it (`there.`, `you,`); its
/// timing's text where its place is not known.
fn written(word: &WordTiming, text: &str) -> String {
    let Some((start, end)) = word.range else {
        return word.text.clone();
    };
    let Some(rest) = text.get(end..) else {
        return word.text.clone();
    };
    let marks = rest
        .find(|c: char| c.is_whitespace() || c.is_alphanumeric())
        .unwrap_or(rest.len());
    text.get(start..end + marks)
        .map_or_else(|| word.text.clone(), str::to_owned)
}

/// Whether `words` wrap into at most [`MAX_LINES`] lines.
fn fits<'a>(words: impl Iterator<Item = &'a str>) -> bool {
    let mut lines = 0;
    let mut width = 0;
    for word in words {
        let len = word.chars().count();
        if lines == 0 || width + 1 + len > MAX_LINE_CHARS {
            lines += 1;
            width = len;
        } else {
            width += 1 + len;
        }
    }
    lines <= MAX_LINES
}

/// Whether the text after `word` (up to the next letter or digit) ends a sentence.
fn ends_sentence(word: &WordTiming, text: &str) -> bool {
    let Some((_, end)) = word.range else {
        return false;
    };
    text.get(end..)
        .unwrap_or_default()
        .chars()
        .take_while(|c| !c.is_alphanumeric())
        .any(|c| matches!(c, '.' | '!' | '?' | '…'))
}

/// `seconds` as `HH:MM:SS` and milliseconds after `separator`.
fn clock(seconds: f64, separator: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The cues as an SRT file.
pub fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (n, cue) in cues.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            n + 1,
            clock(cue.start, ','),
            clock(cue.end, ','),
            cue.lines.join("\n")
        ));
    }
    out
}

/// The cues as a WebVTT file.
pub fn vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            clock(cue.start, '.'),
            clock(cue.end, '.'),
            cue.lines.join("\n")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words of `text` at `rate` 1000 (samples are ms), each `(start, end)`.
    fn words(text: &str, spans: &[(u64, u64)]) -> Vec<WordTiming> {
        crate::tts::timings::fixture_words(text, spans)
    }

    #[test]
    fn sentences_and_pauses_end_cues_and_short_ones_are_held() {
        let text = "Hello there. How are you, friend";
        let w = words(
            text,
            &[
                (0, 300),
                (300, 600),
                (900, 1100),
                (1100, 1200),
                (1200, 1400),
                (2100, 2500),
            ],
        );
        let c = cues(&w, text, 1000, 0);
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0].lines, ["Hello there."]);
        assert_eq!((c[0].start, c[0].end), (0.0, 0.7));
        assert_eq!(c[1].lines, ["How are you,"]);
        assert_eq!((c[1].start, c[1].end), (0.9, 1.6));
        assert_eq!(c[2].lines, ["friend"]);
        assert_eq!(c[2].start, 2.1);
        assert!(c.windows(2).all(|p| p[0].end <= p[1].start));
    }

    #[test]
    fn long_runs_wrap_into_two_lines_and_seven_seconds() {
        let text = "word ".repeat(40);
        let spans: Vec<(u64, u64)> = (0..40).map(|i| (i * 250, i * 250 + 240)).collect();
        let c = cues(&words(&text, &spans), &text, 1000, 0);
        for cue in &c {
            assert!(cue.lines.len() <= MAX_LINES, "{cue:?}");
            assert!(
                cue.lines
                    .iter()
                    .all(|l| l.chars().count() <= MAX_LINE_CHARS)
            );
            assert!(cue.end - cue.start <= MAX_CUE + 1e-9, "{cue:?}");
        }
        let shown: usize = c.iter().map(|c| c.lines.join(" ").split(' ').count()).sum();
        assert_eq!(shown, 40);
    }

    #[test]
    fn a_projects_phrases_are_placed_in_order_and_short_cues_held_to_the_next() {
        let placed = |at: u64, text: &str, spans: &[(u64, u64)]| PlacedPhrase {
            at,
            sample_rate: 1000,
            slot: 1,
            text: text.into(),
            words: words(text, spans),
        };
        let phrases = [
            placed(10_000, "Later words.", &[(0, 400), (400, 900)]),
            placed(2_000, "Three.", &[(0, 300)]),
            placed(2_500, "Overlapping voice.", &[(0, 500), (500, 1200)]),
        ];
        let c = project_cues(&phrases);
        let spans: Vec<(f64, f64)> = c.iter().map(|c| (c.start, c.end)).collect();
        assert_eq!(spans, [(2.0, 2.5), (2.5, 3.7), (10.0, 10.9)], "{c:?}");
        assert_eq!(c[0].lines, ["Three."]);
        // Two phrases at once keep both cues whole.
        let together = project_cues(&[
            placed(0, "One two three.", &[(0, 500), (500, 1000), (1000, 1500)]),
            placed(200, "Four.", &[(0, 900)]),
        ]);
        let spans: Vec<(f64, f64)> = together.iter().map(|c| (c.start, c.end)).collect();
        assert_eq!(spans, [(0.0, 1.5), (0.2, 1.1)]);
    }

    #[test]
    fn srt_and_vtt_write_their_clocks() {
        let c = [Cue {
            lines: vec!["Hi".into()],
            start: 3661.5,
            end: 3662.25,
        }];
        assert_eq!(srt(&c), "1\n01:01:01,500 --> 01:01:02,250\nHi\n\n");
        assert_eq!(vtt(&c), "WEBVTT\n\n01:01:01.500 --> 01:01:02.250\nHi\n\n");
    }
}

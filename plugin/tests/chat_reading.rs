//! Chat read aloud: every line of the corpus (`fixtures/chat_corpus.tsv`, at least 60 chat
//! lines and how a person reads each) goes through the chat filter with its default settings,
//! and the phonemes Orator speaks for the result must equal those of the written reading (so
//! "10/10" and "ten out of ten" agree, and no recogniser is needed). Lines of symbols only
//! must stay short to say.

use orator::api::filter::{FilterSettings, Filtered, filter};
use orator::tts::resources::Resources;
use orator::tts::text::phonemize::{Espeak, EspeakGuard, phonemize};

/// Lines the corpus holds at least.
const AT_LEAST: usize = 60;

/// The most phonemes a line of symbols only (kaomoji, emoticons) may take: a few words.
const SYMBOL_LINE_PHONEMES: usize = 40;

/// What a line reads as, through the filter.
fn read(line: &str) -> String {
    match filter(line, &FilterSettings::default()) {
        Filtered::Speak(text) | Filtered::Cut { text, .. } => text,
        Filtered::Dropped | Filtered::Empty => String::new(),
    }
}

/// The phonemes spoken for `text`, without pauses, punctuation marks and word breaks ("one
/// hundred" and "100" are one word or two, said alike).
fn spoken(espeak: &mut EspeakGuard, text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    let sentences = phonemize(espeak, "en-us", text).expect("phonemize");
    let all: String = sentences
        .iter()
        .flat_map(|s| s.iter())
        .map(|&c| if ",.;:!?…—".contains(c) { ' ' } else { c })
        .collect();
    all.split_whitespace().collect()
}

#[test]
fn the_chat_corpus_reads_as_a_person_reads_it() {
    let data = Resources::locate()
        .expect("run `cargo xtask assets` first")
        .espeak_data();
    let mut espeak = Espeak::lock(&data).expect("espeak-ng data");
    let corpus = include_str!("fixtures/chat_corpus.tsv");
    let mut count = 0;
    let mut wrong = Vec::new();
    for entry in corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (line, reading) = entry.split_once('\t').expect("line<TAB>reading");
        let got = read(line);
        let (heard, wanted) = (spoken(&mut espeak, &got), spoken(&mut espeak, reading));
        if heard != wanted {
            wrong.push(format!(
                "{line:?}\n  read as {got:?}\n  wanted  {reading:?}\n  {heard}\n  {wanted}"
            ));
        }
        let symbols_only = !line.chars().any(char::is_alphanumeric)
            || line
                .split_whitespace()
                .all(|w| w.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 1);
        if symbols_only {
            let phonemes = heard.chars().count();
            assert!(
                phonemes <= SYMBOL_LINE_PHONEMES,
                "{line:?} takes {phonemes} phonemes: {got:?}"
            );
        }
        count += 1;
    }
    assert!(count >= AT_LEAST, "the corpus has {count} lines");
    assert!(
        wrong.is_empty(),
        "{} of {count} lines read wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

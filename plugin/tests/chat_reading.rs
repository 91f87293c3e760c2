//! Chat read aloud: every line of the corpus (`fixtures/chat_corpus.tsv`, at least 60 chat
//! lines and how a person reads each) goes through the chat filter with its default settings,
//! and the phonemes Orator speaks for the result must equal those of the written reading (so
//! "10/10" and "ten out of ten" agree, and no recogniser is needed). Lines of symbols only
//! must stay short to say: in phonemes, and in seconds of the real default voice.

use orator::api::filter::{FilterSettings, Filtered, filter};
use orator::tts::engine::Engine;
use orator::tts::resources::Resources;
use orator::tts::text::phonemize::{Espeak, EspeakGuard, phonemize};
use orator::tts::voice::Voice;
use std::ops::ControlFlow;

/// Lines the corpus holds at least.
const AT_LEAST: usize = 60;

/// The most phonemes a line of symbols only (kaomoji, emoticons) may take: a few words.
const SYMBOL_LINE_PHONEMES: usize = 40;

/// The longest a line of symbols only may take to say, seconds.
const SYMBOL_LINE_SECONDS: f64 = 2.5;

/// Whether a corpus line is made of symbols (emoticons, kaomoji, punctuation) only.
fn symbols_only(line: &str) -> bool {
    !line.chars().any(char::is_alphanumeric)
        || line
            .split_whitespace()
            .all(|w| w.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 1)
}

/// The corpus's lines and readings.
fn corpus() -> Vec<(&'static str, &'static str)> {
    include_str!("fixtures/chat_corpus.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|entry| entry.split_once('\t').expect("line<TAB>reading"))
        .collect()
}

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
    let mut count = 0;
    let mut wrong = Vec::new();
    for (line, reading) in corpus() {
        let got = read(line);
        let (heard, wanted) = (spoken(&mut espeak, &got), spoken(&mut espeak, reading));
        if heard != wanted {
            wrong.push(format!(
                "{line:?}\n  read as {got:?}\n  wanted  {reading:?}\n  {heard}\n  {wanted}"
            ));
        }
        if symbols_only(line) {
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

#[test]
fn lines_of_symbols_only_are_short_to_say() {
    let resources = Resources::locate().expect("run `cargo xtask assets` first");
    let voice = Voice::load(&resources.default_voice(), &resources.onnxruntime())
        .expect("the default voice loads");
    let engine = Engine::new(voice, resources.espeak_data());
    let settings = engine.voice.config.defaults;
    let rate = f64::from(engine.voice.config.sample_rate);
    let mut lines = 0;
    for (line, _) in corpus().into_iter().filter(|(line, _)| symbols_only(line)) {
        let mut samples = 0usize;
        engine
            .speak(&read(line), &settings, &mut |chunk| {
                samples += chunk.samples.len();
                ControlFlow::Continue(())
            })
            .expect("speak");
        let seconds = samples as f64 / rate;
        assert!(
            seconds <= SYMBOL_LINE_SECONDS,
            "{line:?} takes {seconds:.2} s to say"
        );
        lines += 1;
    }
    assert!(lines >= 15, "only {lines} symbol-only lines in the corpus");
}

//! The text front end: a user dictionary, inline `[[ ]]` phonemes and espeak-ng's reading
//! of whatever text remains. Needs espeak-ng's data: `ORATOR_ESPEAK_DATA` or the build's
//! `target/assets/espeak-ng-data`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::tts::text::lexicon::Lexicon;
use orator::tts::text::phonemize::{Espeak, phonemize_clauses};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn espeak_data() -> PathBuf {
    std::env::var_os("ORATOR_ESPEAK_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/assets/espeak-ng-data"),
        PathBuf::from,
    )
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    // `dictionary lines \0 text`: each `word=reading` line an entry.
    let (dictionary, text) = input.split_once('\0').unwrap_or(("", &input));
    let entries: BTreeMap<String, String> = dictionary
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(word, reading)| (word.to_owned(), reading.to_owned()))
        .collect();
    let lexicon = Lexicon::new(&entries)
        .unwrap_or_else(|_| Lexicon::new(&BTreeMap::new()).expect("an empty dictionary is valid"));
    let text = lexicon.apply(text);
    let mut espeak = Espeak::lock(&espeak_data()).expect("espeak-ng's data is missing");
    if let Ok(sentences) = phonemize_clauses(&mut espeak, "en-us", &text) {
        for sentence in sentences {
            assert!(sentence.iter().any(|clause| !clause.is_empty()));
        }
    }
});

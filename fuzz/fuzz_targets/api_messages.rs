//! What chat bots send: Speaker.bot WebSocket messages, UDP datagrams, OpenAI speech bodies,
//! and the chat filter over the message text with a word list from the same input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::api::filter::{self, FilterSettings, Filtered, WordList};
use orator::api::{openai, speakerbot, udp};
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let _ = udp::parse(data, "");
    let _ = udp::parse(data, "secret");
    let voices = [("amy".to_owned(), PathBuf::from("/nonexistent/amy.onnx"))];
    let _ = openai::parse(data, &voices);
    let text = String::from_utf8_lossy(data);
    let _ = speakerbot::parse(&text);
    // `word list \0 chat message`.
    let (words, message) = text.split_once('\0').unwrap_or(("", &text));
    let mut settings = FilterSettings::default();
    if let Ok(list) = WordList::parse(words) {
        settings.words = list;
        settings.use_words = true;
    }
    for scripts in [None, filter::scripts_for_language("en-us")] {
        settings.scripts = scripts;
        if let Filtered::Speak(spoken) = filter::filter(message, &settings) {
            assert!(
                !spoken.trim().is_empty(),
                "the filter passed nothing to speak"
            );
            assert!(spoken.chars().count() <= settings.max_chars + 1);
        }
    }
});

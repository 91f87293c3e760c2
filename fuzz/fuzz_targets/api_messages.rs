//! What chat bots send: Speaker.bot WebSocket messages, UDP datagrams, OpenAI speech bodies
//! (with voice aliases), the alias and chatter rule over the text, and the chat filter over the
//! message text with a word list from the same input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::api::aliases::{Choice, VoiceAlias, VoiceAliases};
use orator::api::filter::{self, FilterSettings, Filtered, WordList};
use orator::api::{openai, speakerbot, udp};
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let _ = udp::parse(data, "");
    let _ = udp::parse(data, "secret");
    let voices = [("amy".to_owned(), PathBuf::from("/nonexistent/amy.onnx"))];
    let aliases = VoiceAliases {
        aliases: ["Robot", "Deep"]
            .map(|name| VoiceAlias {
                name: name.to_owned(),
                ..VoiceAlias::default()
            })
            .to_vec(),
        per_chatter: true,
        chatters: [("anna".to_owned(), "Robot".to_owned())].into(),
    };
    let _ = openai::parse(data, &voices, &aliases);
    let text = String::from_utf8_lossy(data);
    let _ = speakerbot::parse(&text);
    // A chatter always gets an alias that exists (per-chatter voices are on).
    let (voice, chatter) = text.split_once('\n').unwrap_or(("", &text));
    if let Choice::Alias(alias) = aliases.choose(Some(voice), Some(chatter)) {
        assert!(aliases.find(&alias.name).is_some());
    }
    if !chatter.trim().trim_start_matches('@').is_empty() {
        assert!(matches!(
            aliases.choose(None, Some(chatter)),
            Choice::Alias(_)
        ));
    }
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

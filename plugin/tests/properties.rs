//! Property tests for everything that parses untrusted input: model bytes, voice configs, text
//! with inline phonemes, dictionaries, and long pastes. None may panic, and none may lose text.

use orator::tts::model::noise::make_repeatable;
use orator::tts::text::lexicon::Lexicon;
use orator::tts::voice::config::VoiceConfig;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes (a corrupt or hostile .onnx) never panic the graph rewrite.
    #[test]
    fn graph_rewrite_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = make_repeatable(&bytes);
    }

    /// Arbitrary bytes as a voice config are refused with an error, never a panic.
    #[test]
    fn voice_config_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = VoiceConfig::parse(&bytes, Path::new("fuzz.onnx.json"));
    }

    /// JSON that looks like a config but with random values never panics either.
    #[test]
    fn voice_config_with_random_values(rate in any::<u32>(), id in any::<i64>(), key in "\\PC{0,3}") {
        let json = format!(
            r#"{{"audio":{{"sample_rate":{rate}}},"phoneme_id_map":{{"_":[0],"^":[1],"$":[2],{key:?}:[{id}]}}}}"#
        );
        if let Ok(config) = VoiceConfig::parse(json.as_bytes(), Path::new("v.json")) {
            prop_assert!((8000..=192_000).contains(&config.sample_rate));
            let mut unknown = 0;
            let ids = config.phoneme_ids(&key.chars().collect::<Vec<_>>(), &mut unknown);
            prop_assert!(ids.iter().all(|&i| i >= 0));
        }
    }

    /// A dictionary with no matching word returns the text unchanged, whatever the text.
    #[test]
    fn lexicon_keeps_text_without_dictionary_words(text in "\\PC{0,200}") {
        let entries: BTreeMap<String, String> =
            [("zzqxj".to_string(), "replaced".to_string())].into();
        let lexicon = Lexicon::new(&entries).unwrap();
        let result = lexicon.apply(&text).into_owned();
        if !text.to_lowercase().contains("zzqxj") {
            prop_assert_eq!(result, text);
        }
    }

    /// Every occurrence of a dictionary word surrounded by spaces is replaced.
    #[test]
    fn lexicon_replaces_every_whole_word(words in proptest::collection::vec("[a-z]{1,6}", 0..20)) {
        let entries: BTreeMap<String, String> = [("cat".to_string(), "dog".to_string())].into();
        let lexicon = Lexicon::new(&entries).unwrap();
        let text = words.join(" ");
        let expected: Vec<&str> =
            words.iter().map(|w| if w == "cat" { "dog" } else { w.as_str() }).collect();
        let replaced = lexicon.apply(&text).into_owned();
        prop_assert_eq!(replaced, expected.join(" "));
    }
}

//! A voice's `.onnx.json` as a hostile file would give it, then the phoneme → id conversion
//! of the phonemes that follow the config in the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::tts::voice::config::VoiceConfig;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // `config \0 phonemes`: the config alone when there is no NUL.
    let (config, phonemes) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(config) = VoiceConfig::parse(config, Path::new("fuzz.onnx.json")) else {
        return;
    };
    let phonemes: Vec<char> = String::from_utf8_lossy(phonemes).chars().collect();
    let mut unknown = 0;
    let ids = config.phoneme_ids(&phonemes, &mut unknown);
    assert!(unknown <= phonemes.len());
    // A config that loads only gives ids its model has.
    for id in ids {
        assert!((0..=65535).contains(&id), "id {id} out of range");
    }
});

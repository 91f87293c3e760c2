//! The voice cache (`tts::compiled`) with the real default voice and real ONNX Runtime: the
//! first load saves the split model in ONNX Runtime's format and, like every later load, runs
//! on those files in place and sounds exactly like the model itself, and a damaged or unusable cache only costs the slower
//! load.

use orator::tts::resources::Resources;
use orator::tts::voice::Voice;
use std::path::{Path, PathBuf};

fn resources() -> Resources {
    Resources::locate().expect("run `cargo xtask assets` first")
}

/// An empty folder of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("orator-voice-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp folder");
    dir
}

/// The one entry folder in `cache`.
fn entry(cache: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .expect("the cache folder exists")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(entries.len(), 1, "one voice, one entry: {entries:?}");
    entries[0].clone()
}

/// A short sentence's audio, with the voice's default settings.
fn speak(voice: &Voice) -> Vec<f32> {
    // "Thanks for the follow." as the default voice's phoneme ids, from the engine.
    let r = resources();
    let mut espeak =
        orator::tts::text::phonemize::Espeak::lock(&r.espeak_data()).expect("espeak-ng data");
    let sentences = orator::tts::text::phonemize::phonemize(
        &mut espeak,
        &voice.config.espeak_voice,
        "Thanks for the follow, and welcome to the stream.",
    )
    .expect("phonemes");
    drop(espeak);
    let mut unknown = 0;
    let ids = voice.config.phoneme_ids(&sentences[0], &mut unknown);
    voice
        .infer(&ids, &voice.config.defaults)
        .expect("synthesis")
}

#[test]
fn the_second_load_runs_in_place_and_sounds_the_same() {
    let r = resources();
    let cache = scratch("second");
    let first = Voice::load_private(&r.default_voice(), &r.onnxruntime(), Some(&cache))
        .expect("first load");
    assert!(first.is_streaming());
    assert!(
        first.is_mapped(),
        "the first load saves the split model, then runs on the saved files"
    );
    let dir = entry(&cache);
    for file in ["front.ort", "decoder.ort", "meta.json"] {
        assert!(dir.join(file).is_file(), "{file} saved");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let second = Voice::load_private(&r.default_voice(), &r.onnxruntime(), Some(&cache))
        .expect("second load");
    assert!(second.is_mapped(), "the second load uses the cache");
    assert!(second.is_streaming() && second.is_repeatable());
    let fresh =
        Voice::load_private(&r.default_voice(), &r.onnxruntime(), None).expect("uncached load");
    assert!(!fresh.is_mapped() && fresh.is_streaming());
    let (a, b, c) = (speak(&first), speak(&second), speak(&fresh));
    assert!(
        a.len() > 22_050,
        "a second of speech or more: {} samples",
        a.len()
    );
    assert_eq!(a, b, "both loads from the cache render the same samples");
    assert_eq!(a, c, "the cached model renders what the model itself does");
    drop(first);
    drop(second);
    drop(fresh);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_damaged_entry_is_rebuilt_and_an_unusable_cache_is_skipped() {
    let r = resources();
    let cache = scratch("damaged");
    let reference = Voice::load_private(&r.default_voice(), &r.onnxruntime(), None)
        .expect("load without a cache");
    assert!(!reference.is_mapped());
    let expected = speak(&reference);
    drop(reference);

    drop(Voice::load_private(&r.default_voice(), &r.onnxruntime(), Some(&cache)).expect("load"));
    let dir = entry(&cache);
    // Garbage where the front was, and a truncated decoder.
    std::fs::write(dir.join("front.ort"), b"not a model at all").unwrap();
    let decoder = std::fs::read(dir.join("decoder.ort")).unwrap();
    std::fs::write(dir.join("decoder.ort"), &decoder[..decoder.len() / 2]).unwrap();
    let rebuilt = Voice::load_private(&r.default_voice(), &r.onnxruntime(), Some(&cache))
        .expect("a damaged cache does not stop the voice");
    assert!(
        rebuilt.is_mapped(),
        "built from the model, saved again, and run on the new files"
    );
    assert_eq!(speak(&rebuilt), expected);
    drop(rebuilt);
    let again =
        Voice::load_private(&r.default_voice(), &r.onnxruntime(), Some(&cache)).expect("load");
    assert!(again.is_mapped(), "the entry was written again");
    assert_eq!(speak(&again), expected);
    drop(again);

    // A cache "folder" that is a file: nothing can be saved, the voice still loads.
    let file = cache.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let voice = Voice::load_private(&r.default_voice(), &r.onnxruntime(), Some(&file))
        .expect("an unusable cache does not stop the voice");
    assert!(!voice.is_mapped());
    assert_eq!(speak(&voice), expected);
    let _ = std::fs::remove_dir_all(&cache);
}

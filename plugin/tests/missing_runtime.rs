//! A missing ONNX Runtime library is a clear error naming the file, and loading a voice then
//! fails the same way instead of crashing. Its own test binary, so that no other test has
//! loaded ONNX Runtime into the process first.

use orator::tts::resources::Resources;
use orator::tts::voice::{Voice, runtime::runtime};
use std::path::Path;

#[test]
fn a_missing_library_is_reported_by_name_and_voices_fail_cleanly() {
    let missing = Path::new("/nonexistent/libonnxruntime.so.1.32.0");
    let err = runtime(missing).unwrap_err().to_string();
    assert!(
        err.contains("/nonexistent/libonnxruntime.so.1.32.0"),
        "{err}"
    );
    assert!(
        err.contains("no such file") && err.contains("ORATOR_RESOURCES"),
        "{err}"
    );

    let model = Resources::locate()
        .expect("run `cargo xtask assets` first")
        .default_voice();
    let err = Voice::load(&model, missing).unwrap_err().to_string();
    assert!(err.contains("ONNX Runtime could not be loaded"), "{err}");
}

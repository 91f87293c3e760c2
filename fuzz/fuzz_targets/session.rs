//! A saved session as a host (or a damaged or newer project) gives it back: whatever loads
//! must save and load again to the same session, and nothing the project held is lost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::state::SharedSession;

fuzz_target!(|blob: &[u8]| {
    let Ok(saved) = serde_json::from_slice::<serde_json::Value>(blob) else {
        return;
    };
    let first = SharedSession::default();
    first.load_saved(saved.clone());
    let written = first.saved();
    // A fresh instance given a blob it refuses whole saves that blob back unchanged (a blob
    // loaded with a warning, whose session may equal the default, is saved as loaded).
    let refused = first
        .warning()
        .is_some_and(|w| w.starts_with("the project's Orator session could not be loaded"));
    if refused {
        assert_eq!(
            written, saved,
            "a refused session was not saved back as it was"
        );
    }
    // What was written loads to the same session and writes the same again.
    let second = SharedSession::default();
    second.load_saved(written.clone());
    assert_eq!(
        second.snapshot(),
        first.snapshot(),
        "save → load changed the session"
    );
    assert_eq!(
        second.saved(),
        written,
        "a second save differs from the first"
    );
});

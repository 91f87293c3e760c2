//! A way for tests to make the speech thread panic, in debug builds only: a phrase whose text
//! contains the value of `ORATOR_TEST_PANIC_MARKER` panics the thread that speaks it. Release
//! builds compile it to nothing.
//!
//! Thread model: whichever thread speaks (the speech thread).

/// Panics if `text` holds the marker (debug builds with the variable set).
#[cfg(debug_assertions)]
pub(super) fn panic_if_marked(text: &str) {
    static MARKER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let marker = MARKER.get_or_init(|| {
        std::env::var("ORATOR_TEST_PANIC_MARKER")
            .ok()
            .filter(|m| !m.is_empty())
    });
    if let Some(marker) = marker
        && text.contains(marker.as_str())
    {
        panic!("test panic: the phrase holds {marker}");
    }
}

/// Nothing in release builds.
#[cfg(not(debug_assertions))]
pub(super) fn panic_if_marked(_: &str) {}

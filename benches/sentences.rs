//! The lines the speech benches speak (`speech.rs`, `press_to_audio.rs`, `speak_to_audio.rs`),
//! also used by `benches/piper_compare.py` (keep them in step).

/// Name and text of each line measured.
pub const SENTENCES: [(&str, &str); 4] = [
    ("4_words", "Thanks for the follow."),
    (
        "16_words",
        "Welcome back to the stream, everyone; today we are building a speech plugin in Rust.",
    ),
    (
        "40_words",
        "When you finish the first part of the tutorial, save your work, close the editor, \
         open the terminal, type the command exactly as shown, press enter, and wait for the \
         build to complete before you move on to the second part of the lesson today.",
    ),
    (
        // As chat lines come: no punctuation at all, so no clause end to cut at.
        "44_words_unpunctuated",
        "when you finish the first part of the tutorial save your work and close the editor \
         then open the terminal and type the command exactly as it is shown and wait for the \
         build to complete before you move on to the second part",
    ),
];

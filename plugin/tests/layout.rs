//! The layout's rules, checked on the source tree itself:
//! - nothing under `src/tts/` reaches outside `tts` (no `crate::` path but `crate::tts` and the
//!   platform seam, no `super::super`, no plugin framework), so speech can be used and tested
//!   without the plugin;
//! - the platform seam (`src/platform/`) is a leaf: it names no other module of the crate, so
//!   every part may use it without an import circle;
//! - nothing under `src/tts/model/` touches ONNX Runtime: model surgery is bytes in, bytes out;
//! - the code `process()` runs (`lib.rs`, `triggers.rs`, `dsp/`) reaches speech only through
//!   `playback`.
//!
//! Comment lines are skipped: doc links may point anywhere.

use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source folder") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every code line (not a comment) of the files under `dir` that `bad` flags, as
/// `file:line: text`.
fn offending(dir: &Path, bad: &dyn Fn(&str) -> bool) -> Vec<String> {
    let files = sources(dir);
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if bad(code) {
                out.push(format!("{}:{}: {code}", file.display(), n + 1));
            }
        }
    }
    out
}

/// Whether `line` names a `crate::` path other than `crate::<allowed>` for one of `allowed`.
fn leaves_crate_module(line: &str, allowed: &[&str]) -> bool {
    line.match_indices("crate::").any(|(at, _)| {
        let path = &line[at + "crate::".len()..];
        !allowed.iter().any(|module| path.starts_with(module))
    })
}

#[test]
fn nothing_under_tts_reaches_outside_tts() {
    let bad = offending(&src().join("tts"), &|line| {
        leaves_crate_module(line, &["tts", "platform"])
            || line.contains("super::super")
            || line.contains("nice_plug")
    });
    assert!(
        bad.is_empty(),
        "tts/ must not import the plugin:\n{}",
        bad.join("\n")
    );
    let root = std::fs::read_to_string(src().join("tts").join("mod.rs")).expect("tts/mod.rs");
    assert!(
        !root
            .lines()
            .any(|l| !l.trim_start().starts_with("//") && l.contains("super::")),
        "tts/mod.rs must not reach its parent"
    );
}

#[test]
fn the_platform_seam_is_a_leaf() {
    let bad = offending(&src().join("platform"), &|line| {
        leaves_crate_module(line, &["platform"]) || line.contains("super::super")
    });
    assert!(
        bad.is_empty(),
        "platform/ must not import the rest of the crate:\n{}",
        bad.join("\n")
    );
}

#[test]
fn model_surgery_never_touches_onnx_runtime() {
    let bad = offending(&src().join("tts").join("model"), &|line| {
        line.contains("ort::") || line.contains("use ort") || line.contains("crate::tts::voice")
    });
    assert!(
        bad.is_empty(),
        "tts/model/ is bytes in, bytes out:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_audio_thread_reaches_speech_only_through_playback() {
    let audio_side = |line: &str| line.contains("tts::");
    let mut bad = offending(&src().join("dsp"), &audio_side);
    for file in ["lib.rs", "triggers.rs"] {
        let text = std::fs::read_to_string(src().join(file)).expect("readable source");
        bad.extend(
            text.lines()
                .filter(|l| !l.trim_start().starts_with("//") && audio_side(l))
                .map(|l| format!("{file}: {l}")),
        );
    }
    assert!(
        bad.is_empty(),
        "process() reaches tts/ directly:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_rule_checks_can_fail() {
    assert!(leaves_crate_module("use crate::state::Session;", &["tts"]));
    assert!(leaves_crate_module(
        "use crate::tts::x; use crate::dsp::y;",
        &["tts", "platform"]
    ));
    assert!(!leaves_crate_module(
        "use crate::tts::voice::Voice;",
        &["tts"]
    ));
    assert!(!leaves_crate_module(
        "crate::platform::cache_dir()",
        &["tts", "platform"]
    ));
}

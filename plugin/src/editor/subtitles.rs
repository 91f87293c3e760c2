//! "Export subtitles…": the project's subtitles as SRT and WebVTT, from the phrases the timeline
//! placed (notes, Trigger, Speak) while the host played or exported the project, each at its
//! place in project time with its words' exact timings (cue rules: [`crate::api::subtitles`]).
//!
//! Runs on the GUI thread (it writes the files; the audio thread only records the placements).

use super::App;
use super::browser::{Browser, Purpose};
use crate::api::subtitles::{project_cues, srt, vtt};
use crate::playback::bank::Sheet;
use crate::playback::service::SpeechService;
use std::path::{Path, PathBuf};

/// Why an export wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No phrase with words has been placed.
    #[error(
        "No subtitles yet: play or export the project so that its notes or Trigger/Speak \
         automation speak Orator's phrases, then export them"
    )]
    Empty,
    /// A file could not be written.
    #[error("Could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The SRT file.
    pub srt: PathBuf,
    /// The WebVTT file.
    pub vtt: PathBuf,
    /// Cues written.
    pub cues: usize,
    /// Phrases they come from.
    pub phrases: usize,
}

/// Writes `sheet`'s subtitles to `base` with `.srt` and `.vtt` (an `.srt` or `.vtt` ending of
/// `base` itself is replaced).
pub fn export(sheet: &Sheet, base: &Path) -> Result<Exported, ExportError> {
    if sheet.phrases.is_empty() {
        return Err(ExportError::Empty);
    }
    let cues = project_cues(&sheet.phrases);
    let stem = match base.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("srt") || e.eq_ignore_ascii_case("vtt") => {
            base.with_extension("")
        }
        _ => base.to_path_buf(),
    };
    let with = |ext: &str| {
        let mut name = stem.clone().into_os_string();
        name.push(".");
        name.push(ext);
        PathBuf::from(name)
    };
    let (srt_path, vtt_path) = (with("srt"), with("vtt"));
    for (path, contents) in [(&srt_path, srt(&cues)), (&vtt_path, vtt(&cues))] {
        std::fs::write(path, contents).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(Exported {
        srt: srt_path,
        vtt: vtt_path,
        cues: cues.len(),
        phrases: sheet.phrases.len(),
    })
}

impl App {
    /// The phrase list's subtitle buttons: "Export subtitles…" and "Clear", with how many
    /// phrases are placed.
    pub(super) fn subtitle_buttons(&mut self, ui: &mut egui::Ui, speech: Option<&SpeechService>) {
        let placed = speech.map_or(0, |s| s.bank().placed());
        if ui
            .button("Export subtitles…")
            .on_hover_text(
                "SRT and WebVTT of the phrases the timeline spoke while the project played or \
                 was exported, at their places in the project",
            )
            .clicked()
        {
            self.browser = Some(Browser::new(Purpose::Subtitles, self.subtitles_dir.clone()));
        }
        ui.weak(format!("{placed} placed"));
        if placed > 0
            && ui
                .small_button("Clear")
                .on_hover_text("Forget the placements; the next playback or export records anew")
                .clicked()
            && let Some(speech) = speech
        {
            speech.bank().clear_placements();
        }
    }

    /// Writes the subtitles to `base` (chosen in the picker).
    pub(super) fn export_subtitles(&mut self, speech: Option<&SpeechService>, base: &Path) {
        self.subtitles_dir = base.parent().map(Path::to_path_buf);
        let sheet = speech.map(|s| s.bank().placements()).unwrap_or_default();
        self.notice = Some(match export(&sheet, base) {
            Ok(done) => {
                let mut notice = format!(
                    "Wrote {} cues of {} phrases to {} and {}",
                    done.cues,
                    done.phrases,
                    done.srt.display(),
                    done.vtt.display()
                );
                if sheet.without_words > 0 {
                    notice.push_str(&format!(
                        "; {} placed phrases have no word timings yet (left out)",
                        sheet.without_words
                    ));
                }
                if sheet.lost > 0 {
                    notice.push_str(&format!("; {} placements were lost", sheet.lost));
                }
                notice
            }
            Err(err) => err.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::bank::PlacedPhrase;
    use crate::tts::timings::{Span, WordTiming};

    #[test]
    fn writes_srt_and_vtt_beside_each_other_or_says_why_not() {
        let dir = std::env::temp_dir().join(format!("orator-subs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            export(&Sheet::default(), &dir.join("x")),
            Err(ExportError::Empty)
        ));
        let word = WordTiming {
            index: 0,
            text: "Hi".into(),
            range: Some((0, 2)),
            span: Span {
                start: 100,
                end: 900,
            },
            phonemes: Vec::new(),
        };
        let sheet = Sheet {
            phrases: vec![PlacedPhrase {
                at: 2000,
                sample_rate: 1000,
                slot: 1,
                text: "Hi.".into(),
                words: vec![word],
            }],
            ..Sheet::default()
        };
        let done = export(&sheet, &dir.join("show.srt")).unwrap();
        assert_eq!((done.srt.clone(), done.cues), (dir.join("show.srt"), 1));
        assert_eq!(
            std::fs::read_to_string(&done.srt).unwrap(),
            "1\n00:00:02,100 --> 00:00:02,900\nHi.\n\n"
        );
        assert!(
            std::fs::read_to_string(dir.join("show.vtt"))
                .unwrap()
                .starts_with("WEBVTT")
        );
        let err = export(&sheet, &dir.join("missing").join("x")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

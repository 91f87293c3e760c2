//! The Text tab: the toolbar (Speak, Stop, Pause, Skip, Paste, Load .txt…), the text box and
//! the phrase list, where a click speaks a line. Runs on the GUI thread.

use super::App;
use super::browser::{Browser, Purpose};
use crate::playback::bank::SlotState;
use crate::playback::service::SpeechService;
use crate::state::MAX_TEXT_BYTES;
use std::path::PathBuf;

impl App {
    pub(super) fn set_text(&mut self, text: String) {
        self.text = text;
        let session = &self.shared.params.session;
        session.set_text(self.text.clone());
        self.seen = session.generation();
    }

    /// The toolbar, the text box and the phrase list. Returns whether the text box has the
    /// keyboard focus.
    pub(super) fn text_area(&mut self, ui: &mut egui::Ui, speech: Option<&SpeechService>) -> bool {
        let paused = speech.is_some_and(|s| s.control().is_paused());
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Speak")
                .on_hover_text("Speak the whole text (Ctrl+Enter)")
                .clicked()
            {
                let text = self.text.clone();
                self.speak(speech, &text);
            }
            if ui
                .button("Stop")
                .on_hover_text("Stop and empty the queue")
                .clicked()
                && let Some(s) = speech
            {
                s.control().stop();
            }
            let pause_label = if paused { "Resume" } else { "Pause" };
            if ui.button(pause_label).clicked()
                && let Some(s) = speech
            {
                s.control().set_paused(!paused);
            }
            if ui
                .button("Skip")
                .on_hover_text("Go to the next phrase")
                .clicked()
                && let Some(s) = speech
            {
                s.control().skip();
            }
            ui.separator();
            if ui
                .button("Paste")
                .on_hover_text("Append the clipboard's text (for hosts that take the keyboard)")
                .clicked()
            {
                self.paste();
            }
            if ui.button("Load .txt…").clicked() {
                self.browser = Some(Browser::new(Purpose::Text, self.text_dir.clone()));
            }
        });
        if let Some(notice) = self.notice.clone() {
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, notice);
                let undoable = self
                    .replaced
                    .as_ref()
                    .is_some_and(|r| r.applies_to(&self.text));
                if undoable && ui.small_button("Undo").clicked() {
                    if let Some(undo) = self.replaced.take() {
                        self.set_text(undo.before);
                    }
                    self.notice = None;
                }
                if ui.small_button("Dismiss").clicked() {
                    self.notice = None;
                    self.replaced = None;
                }
            });
        }
        // Ctrl+Enter speaks; taken before the text box would turn it into a new line.
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter)) {
            let text = self.text.clone();
            self.speak(speech, &text);
        }
        let height = (ui.available_height() * 0.55).max(120.0);
        let mut edited = false;
        let output = egui::ScrollArea::vertical()
            .id_salt("orator-text-scroll")
            .max_height(height)
            .show(ui, |ui| {
                let edit = egui::TextEdit::multiline(&mut self.text)
                    .id(egui::Id::unique("orator-text"))
                    .hint_text("Type or paste what Orator should say. One line is one phrase.")
                    .desired_width(f32::INFINITY)
                    .desired_rows(10)
                    .show(ui);
                edited = edit.response.changed();
                edit.response
            })
            .inner;
        if self.focus_text {
            output.request_focus();
            self.focus_text = false;
        }
        if edited {
            if self.text.len() > MAX_TEXT_BYTES {
                let mut end = MAX_TEXT_BYTES;
                while !self.text.is_char_boundary(end) {
                    end -= 1;
                }
                self.text.truncate(end);
                self.notice = Some("The text is limited to 8 MiB; the rest was cut.".into());
            }
            let text = self.text.clone();
            self.set_text(text);
        }
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.label(
                "Phrases — click one to speak it (notes and Trigger play them on the timeline)",
            );
            self.subtitle_buttons(ui, speech);
        });
        let mut chosen = None;
        // Each phrase's render-ahead state (one short lock per frame, off the audio thread).
        let views = speech.map(|s| s.bank().views()).unwrap_or_default();
        // The timeline phrase heard now and its word, lit in its line.
        let heard = speech.and_then(|s| s.bank().heard_word());
        let visuals = ui.visuals();
        let colours = super::queue::HeardColours {
            text: visuals.text_color(),
            word: visuals.selection.stroke.color,
            background: visuals.selection.bg_fill,
        };
        let font = egui::TextStyle::Button.resolve(ui.style());
        let whole = self.text.as_ptr() as usize;
        // Only the visible rows are laid out, so a script of thousands of lines stays smooth.
        let rows = super::queue::phrase_lines(&self.text).count();
        let row_height =
            ui.text_style_height(&egui::TextStyle::Button) + ui.spacing().item_spacing.y;
        egui::ScrollArea::vertical()
            .id_salt("orator-phrases")
            .auto_shrink([false, false])
            .show_rows(ui, row_height, rows, |ui, visible| {
                let lines = super::queue::phrase_lines(&self.text).skip(visible.start);
                for (index, line) in lines.take(visible.len()) {
                    let state = views
                        .iter()
                        .find(|v| v.slot == index)
                        .map_or_else(String::new, |v| slot_state(&v.state));
                    let label = format!("{index:>3}  {line}");
                    let offset = line.as_ptr() as usize - whole;
                    let lit = heard.as_ref().and_then(|(clip, word)| {
                        lit_in_line(clip.slot, word.range?, index, offset, line.len())
                    });
                    ui.horizontal(|ui| {
                        let clicked = match lit {
                            Some(word) => {
                                let prefix = label.len() - line.len();
                                let word = word.start + prefix..word.end + prefix;
                                let job = super::queue::heard_text(
                                    &label,
                                    Some(word),
                                    &colours,
                                    font.clone(),
                                );
                                ui.selectable_label(true, job).clicked()
                            }
                            None => ui.selectable_label(false, label).clicked(),
                        };
                        if clicked {
                            chosen = Some(line.to_string());
                        }
                        ui.weak(state);
                    });
                }
            });
        if let Some(line) = chosen {
            self.speak(speech, &line);
        }
        output.has_focus()
    }

    pub(super) fn paste(&mut self) {
        use copypasta::ClipboardProvider;
        let contents = copypasta::ClipboardContext::new().and_then(|mut c| c.get_contents());
        match contents {
            Ok(pasted) if !pasted.is_empty() => {
                let mut text = self.text.clone();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&pasted);
                if text.len() > MAX_TEXT_BYTES {
                    self.notice = Some("The clipboard's text does not fit in 8 MiB.".into());
                    return;
                }
                self.set_text(text);
                self.notice = None;
            }
            Ok(_) => self.notice = Some("The clipboard holds no text.".into()),
            Err(err) => self.notice = Some(format!("Could not read the clipboard: {err}")),
        }
    }

    pub(super) fn load_text(&mut self, path: &std::path::Path) {
        match read_text(path) {
            Ok(text) => {
                self.text_dir = path.parent().map(PathBuf::from);
                let before = std::mem::take(&mut self.text);
                self.replaced = (!before.is_empty()).then(|| LoadUndo {
                    before,
                    loaded: text.clone(),
                });
                self.set_text(text);
                self.notice = Some(format!("Loaded {}", path.display()));
            }
            Err(err) => self.notice = Some(err.to_string()),
        }
    }
}

/// The bytes of phrase line `index` (at byte `offset` of the text, `len` long) to light for
/// a word at `word` (bytes) of the timeline phrase in `slot`: a line's own phrase indexes the
/// line, the whole text (slot 0) indexes the text.
fn lit_in_line(
    slot: usize,
    word: (usize, usize),
    index: usize,
    offset: usize,
    len: usize,
) -> Option<std::ops::Range<usize>> {
    let (start, end) = word;
    if slot == index {
        return (end <= len).then_some(start..end);
    }
    (slot == 0 && start >= offset && end <= offset + len).then(|| start - offset..end - offset)
}

/// Why the editor would not load a text file.
#[derive(Debug, thiserror::Error)]
pub enum TextFileError {
    /// The file could not be read.
    #[error("Could not read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Larger than the session can hold.
    #[error("{} is {len} bytes; the editor holds at most 8 MiB", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        len: usize,
    },
    /// Not UTF-8: loading it would garble the text.
    #[error("{} is not UTF-8 text; save it as UTF-8 and load it again", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a text file for the editor, refusing what would lose or garble text.
pub fn read_text(path: &std::path::Path) -> Result<String, TextFileError> {
    let read_error = |source| TextFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    // The size is checked before reading: a multi-gigabyte file picked by mistake is refused
    // without being read into memory.
    let len = file.metadata().map_err(read_error)?.len();
    if len > MAX_TEXT_BYTES as u64 {
        return Err(TextFileError::TooLarge {
            path: path.to_path_buf(),
            len: usize::try_from(len).unwrap_or(usize::MAX),
        });
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_TEXT_BYTES as u64 + 1),
        &mut bytes,
    )
    .map_err(read_error)?;
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(TextFileError::TooLarge {
            path: path.to_path_buf(),
            len: bytes.len(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| TextFileError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    // A byte-order mark is not text.
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

/// What "Load .txt…" replaced, for its Undo.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LoadUndo {
    /// The text before the load.
    pub(super) before: String,
    /// The text the load put in.
    pub(super) loaded: String,
}

impl LoadUndo {
    /// Whether Undo may restore the text before the load: only while the text is still what
    /// the load put in. Once anything was typed after the load, Undo would throw it away, so
    /// it is no longer offered.
    pub(super) fn applies_to(&self, current: &str) -> bool {
        current == self.loaded
    }
}

/// A phrase's render-ahead state as the phrase list shows it.
fn slot_state(state: &SlotState) -> String {
    match state {
        SlotState::Queued => "queued".into(),
        SlotState::Rendering => "rendering…".into(),
        SlotState::Ready { seconds } => format!("ready, {seconds:.1} s"),
        SlotState::Failed(why) => format!("failed: {why}"),
        SlotState::NotHeld => "not held (memory bound): streamed when played".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heard_word_is_lit_in_its_line() {
        // "First line.\n  Second one.": line 2 starts at byte 14 and is 11 bytes long.
        assert_eq!(
            lit_in_line(2, (7, 10), 2, 14, 11),
            Some(7..10),
            "a line's own phrase"
        );
        assert_eq!(lit_in_line(2, (7, 10), 1, 0, 11), None, "another line");
        assert_eq!(
            lit_in_line(0, (21, 24), 2, 14, 11),
            Some(7..10),
            "the whole text's word in the line that holds it"
        );
        assert_eq!(lit_in_line(0, (6, 10), 2, 14, 11), None, "in line 1, not 2");
        assert_eq!(
            lit_in_line(3, (7, 30), 3, 0, 11),
            None,
            "a range past the line"
        );
    }

    #[test]
    fn text_files_must_be_utf8_and_lose_their_byte_order_mark() {
        let dir = std::env::temp_dir().join(format!("orator-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(&good, "\u{feff}Line one\nLíne two\n").unwrap();
        assert_eq!(read_text(&good).unwrap(), "Line one\nLíne two\n");
        let latin1 = dir.join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9").unwrap();
        let err = read_text(&latin1).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        let err = read_text(&dir.join("missing.txt")).unwrap_err();
        assert!(err.to_string().contains("Could not read"), "{err}");
        // A file over the limit is refused from its size, without being read.
        let huge = dir.join("huge.txt");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_TEXT_BYTES as u64 * 64)
            .unwrap();
        assert!(matches!(
            read_text(&huge),
            Err(TextFileError::TooLarge { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn undo_of_a_load_never_discards_text_typed_after_it() {
        let undo = LoadUndo {
            before: "my old script".into(),
            loaded: "the loaded file".into(),
        };
        assert!(undo.applies_to("the loaded file"));
        assert!(!undo.applies_to("the loaded file, and a line typed since"));
        assert!(!undo.applies_to(""));
    }
}

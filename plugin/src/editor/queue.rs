//! The editor's view of the phrase queue: what is waiting, what is heard now, and what was
//! heard before (the history a click replays). Built from the phrases the editor asks for and
//! the audio thread's phrase events; plain data, unit-tested without a window.

use super::App;
use super::widgets::one_line;
use crate::playback::service::SpeechService;
use crate::playback::stream::{PhraseEvent, PhraseEventKind, PhraseId};
use std::collections::VecDeque;
use std::sync::Arc;

/// The colours of the phrase heard now.
pub(super) struct HeardColours {
    pub(super) text: egui::Color32,
    pub(super) word: egui::Color32,
    pub(super) background: egui::Color32,
}

/// The most characters shown of the phrase heard now, around the word heard.
const HEARD_CHARS: usize = 240;

/// The phrase heard now as a label's text: up to [`HEARD_CHARS`] characters around the word
/// heard now (`word`: its bytes in `text`), which is lit.
pub(super) fn heard_text(
    text: &str,
    word: Option<std::ops::Range<usize>>,
    colours: &HeardColours,
    font: egui::FontId,
) -> egui::text::LayoutJob {
    let plain = egui::TextFormat::simple(font.clone(), colours.text);
    let lit = egui::TextFormat {
        background: colours.background,
        ..egui::TextFormat::simple(font, colours.word)
    };
    let mut job = egui::text::LayoutJob::default();
    for (part, is_word) in heard_parts(text, word, HEARD_CHARS) {
        job.append(
            &part,
            0.0,
            if is_word { lit.clone() } else { plain.clone() },
        );
    }
    job
}

/// `text` cut into (piece, whether it is the word heard now), at most `max` characters around
/// that word, with line breaks as spaces and `…` where text was left out.
fn heard_parts(
    text: &str,
    word: Option<std::ops::Range<usize>>,
    max: usize,
) -> Vec<(String, bool)> {
    let word = word.filter(|w| {
        w.start <= w.end
            && text.is_char_boundary(w.start)
            && text.is_char_boundary(w.end)
            && w.end <= text.len()
    });
    let flat = |s: &str| s.replace(['\n', '\r', '\t'], " ");
    let Some(word) = word else {
        let shown: String = text.chars().take(max).collect();
        let more = if shown.len() < text.len() { "…" } else { "" };
        return vec![(format!("{}{more}", flat(&shown)), false)];
    };
    // Up to a third of the room before the word, the rest after it.
    let before: Vec<char> = text[..word.start].chars().collect();
    let keep_before = before.len().min(max / 3);
    let mut head: String = before[before.len() - keep_before..].iter().collect();
    if keep_before < before.len() {
        head.insert(0, '…');
    }
    let after: String = text[word.end..]
        .chars()
        .take(max.saturating_sub(keep_before))
        .collect();
    let tail = if word.end + after.len() < text.len() {
        format!("{}…", flat(&after))
    } else {
        flat(&after)
    };
    vec![
        (flat(&head), false),
        (flat(&text[word.clone()]), true),
        (tail, false),
    ]
}

/// How many finished phrases the history keeps.
pub const HISTORY_LEN: usize = 200;

/// Where a phrase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Asked for, not heard yet.
    Queued,
    /// Being heard.
    Playing,
    /// Heard to the end.
    Finished,
    /// Stopped, skipped or cleared.
    Cancelled,
}

/// One phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its id.
    pub id: PhraseId,
    /// What it says.
    pub text: Arc<str>,
    /// Where it is.
    pub stage: Stage,
}

/// Queue and history.
#[derive(Debug, Default)]
pub struct QueueView {
    /// Queued and playing phrases, oldest first.
    live: Vec<Entry>,
    /// Finished and cancelled phrases, newest first.
    history: VecDeque<Entry>,
}

impl QueueView {
    /// Notes a phrase the editor just asked for.
    pub fn queued(&mut self, id: PhraseId, text: Arc<str>) {
        self.live.push(Entry {
            id,
            text,
            stage: Stage::Queued,
        });
    }

    /// Applies an event from the audio thread. `text_of` names phrases the editor did not ask
    /// for (the Speak parameter's).
    pub fn apply(&mut self, event: PhraseEvent, text_of: &dyn Fn(PhraseId) -> Option<Arc<str>>) {
        let position = self.live.iter().position(|e| e.id == event.id);
        match event.kind {
            PhraseEventKind::Started => match position {
                Some(i) => self.live[i].stage = Stage::Playing,
                None => self.live.push(Entry {
                    id: event.id,
                    text: text_of(event.id).unwrap_or_else(|| Arc::from("")),
                    stage: Stage::Playing,
                }),
            },
            PhraseEventKind::Finished | PhraseEventKind::Cancelled => {
                let stage = if event.kind == PhraseEventKind::Finished {
                    Stage::Finished
                } else {
                    Stage::Cancelled
                };
                let entry = match position {
                    Some(i) => self.live.remove(i),
                    None => Entry {
                        id: event.id,
                        text: text_of(event.id).unwrap_or_else(|| Arc::from("")),
                        stage,
                    },
                };
                self.retire(Entry { stage, ..entry });
            }
        }
    }

    /// Moves queued phrases that were cancelled before they started (no event tells of those)
    /// into the history.
    pub fn sweep(&mut self, is_cancelled: &dyn Fn(PhraseId) -> bool) {
        let mut i = 0;
        while i < self.live.len() {
            if self.live[i].stage == Stage::Queued && is_cancelled(self.live[i].id) {
                let entry = self.live.remove(i);
                self.retire(Entry {
                    stage: Stage::Cancelled,
                    ..entry
                });
            } else {
                i += 1;
            }
        }
    }

    fn retire(&mut self, entry: Entry) {
        if entry.text.trim().is_empty() {
            return;
        }
        if self.history.len() == HISTORY_LEN {
            self.history.pop_back();
        }
        self.history.push_front(entry);
    }

    /// Queued and playing phrases, oldest first.
    pub fn live(&self) -> &[Entry] {
        &self.live
    }

    /// Finished and cancelled phrases, newest first.
    pub fn history(&self) -> impl Iterator<Item = &Entry> {
        self.history.iter()
    }
}

/// The phrase list: one non-empty line of the text is one phrase, numbered from 1 in the order
/// of the text (the number a phrase trigger will use).
pub fn phrase_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    crate::playback::bank::phrase_lines(text)
        .enumerate()
        .map(|(i, line)| (i + 1, line))
}

impl App {
    pub(super) fn queue_tab(&mut self, ui: &mut egui::Ui, speech: Option<&SpeechService>) {
        ui.horizontal(|ui| {
            ui.heading("Queue");
            if ui
                .small_button("Clear")
                .on_hover_text("Drop the waiting phrases; the one heard now goes on")
                .clicked()
                && let Some(s) = speech
            {
                s.control().clear();
            }
        });
        if self.queue.live().is_empty() {
            ui.weak("Nothing queued.");
        }
        for entry in self.queue.live() {
            let text = egui::RichText::new(one_line(&entry.text));
            if entry.stage == Stage::Playing {
                // The word heard now is lit, in step with the audio (held while paused).
                let word = speech
                    .and_then(|s| s.heard_word(entry.id))
                    .and_then(|w| w.range)
                    .map(|(start, end)| start..end);
                let visuals = ui.visuals();
                let colours = HeardColours {
                    text: visuals.strong_text_color(),
                    word: visuals.selection.stroke.color,
                    background: visuals.selection.bg_fill,
                };
                let font = egui::TextStyle::Body.resolve(ui.style());
                ui.label(heard_text(&entry.text, word, &colours, font))
                    .on_hover_text("Speaking now");
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(30));
            } else {
                ui.label(text.weak()).on_hover_text("Waiting");
            }
        }
        ui.separator();
        ui.heading("History");
        ui.weak("Click to speak again (repeats come from the cache at once).");
        let mut replay = None;
        for entry in self.queue.history() {
            let mut text = egui::RichText::new(one_line(&entry.text));
            let hover = if entry.stage == Stage::Cancelled {
                text = text.strikethrough();
                "Stopped or skipped; click to speak it again"
            } else {
                "Click to speak it again"
            };
            if ui
                .selectable_label(false, text)
                .on_hover_text(hover)
                .clicked()
            {
                replay = Some(entry.text.to_string());
            }
        }
        if let Some(text) = replay {
            self.speak(speech, &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: PhraseId, kind: PhraseEventKind) -> PhraseEvent {
        PhraseEvent { id, kind, at: 0 }
    }

    fn ids(
        entries: impl IntoIterator<Item = impl std::borrow::Borrow<Entry>>,
    ) -> Vec<(u32, Stage)> {
        entries
            .into_iter()
            .map(|e| (e.borrow().id, e.borrow().stage))
            .collect()
    }

    #[test]
    fn phrases_move_from_queue_to_history_in_the_order_heard() {
        let mut queue = QueueView::default();
        queue.queued(1, "one".into());
        queue.queued(2, "two".into());
        let unknown = |_| None;
        queue.apply(event(1, PhraseEventKind::Started), &unknown);
        assert_eq!(ids(queue.live()), [(1, Stage::Playing), (2, Stage::Queued)]);
        queue.apply(event(1, PhraseEventKind::Finished), &unknown);
        queue.apply(event(2, PhraseEventKind::Started), &unknown);
        queue.apply(event(2, PhraseEventKind::Cancelled), &unknown);
        assert!(queue.live().is_empty());
        assert_eq!(
            ids(queue.history()),
            [(2, Stage::Cancelled), (1, Stage::Finished)]
        );
        assert_eq!(&*queue.history().next().unwrap().text, "two");
    }

    #[test]
    fn phrases_the_editor_did_not_ask_for_are_named_by_the_service() {
        let mut queue = QueueView::default();
        let named = |id| (id == 7).then(|| Arc::from("from the Speak parameter"));
        queue.apply(event(7, PhraseEventKind::Started), &named);
        assert_eq!(&*queue.live()[0].text, "from the Speak parameter");
        queue.apply(event(7, PhraseEventKind::Finished), &named);
        // An event for a phrase nobody can name leaves no empty row behind.
        queue.apply(event(8, PhraseEventKind::Finished), &named);
        assert_eq!(ids(queue.history()), [(7, Stage::Finished)]);
    }

    #[test]
    fn phrases_cancelled_before_they_start_are_swept_into_the_history() {
        let mut queue = QueueView::default();
        for id in 1..=3 {
            queue.queued(id, format!("phrase {id}").into());
        }
        queue.sweep(&|id| id != 2);
        assert_eq!(ids(queue.live()), [(2, Stage::Queued)]);
        assert_eq!(
            ids(queue.history()),
            [(3, Stage::Cancelled), (1, Stage::Cancelled)]
        );
    }

    #[test]
    fn the_word_heard_now_is_lit_within_the_room_around_it() {
        let text = "Hello world, this is\na test.";
        let at = text.find("this").unwrap();
        assert_eq!(
            heard_parts(text, Some(at..at + 4), 100),
            [
                ("Hello world, ".to_owned(), false),
                ("this".to_owned(), true),
                (" is a test.".to_owned(), false),
            ]
        );
        // A long phrase shows the room around the word, with the cuts marked.
        let long = format!("{} target {}", "a ".repeat(200), "b ".repeat(200));
        let at = long.find("target").unwrap();
        let parts = heard_parts(&long, Some(at..at + 6), 30);
        assert!(parts[0].0.starts_with('…') && parts[0].0.chars().count() == 11);
        assert_eq!(parts[1], ("target".to_owned(), true));
        assert!(parts[2].0.ends_with('…'));
        // No word (a voice without timings, or between words at the start): plain text.
        assert_eq!(heard_parts("Hi.", None, 100), [("Hi.".to_owned(), false)]);
        // A range that does not fit the text is ignored, not a panic.
        assert_eq!(
            heard_parts("Hi.", Some(2..9), 100),
            [("Hi.".to_owned(), false)]
        );
    }

    #[test]
    fn history_is_bounded_keeping_the_newest() {
        let mut queue = QueueView::default();
        for id in 1..=(HISTORY_LEN as u32 + 5) {
            queue.queued(id, "x".into());
            queue.apply(event(id, PhraseEventKind::Finished), &|_| None);
        }
        assert_eq!(queue.history().count(), HISTORY_LEN);
        assert_eq!(queue.history().next().unwrap().id, HISTORY_LEN as u32 + 5);
    }

    #[test]
    fn phrase_lines_number_non_empty_lines_from_one() {
        let lines: Vec<_> = phrase_lines("  Hello.\n\n\tSecond line  \r\n \nThird").collect();
        assert_eq!(lines, [(1, "Hello."), (2, "Second line"), (3, "Third")]);
        assert_eq!(phrase_lines("\n \n").count(), 0);
    }
}

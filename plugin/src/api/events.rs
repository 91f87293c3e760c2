//! Phrase events for every WebSocket client: the events thread follows the owner's phrase
//! events and the words heard, and broadcasts `TextToSpeech` events (queued, playing, each
//! word, finished, stopped, failed) to every connected client's bounded channel.
//!
//! Thread model: [`event_loop`] runs on the server's events thread; [`broadcast`] is called
//! from it and from the connection threads that queue phrases. A client's channel is bounded:
//! a client that reads nothing loses the newest events, never blocks the others.

use super::server::{Hub, TICK};
use super::speakerbot::Stage;
use super::timeline_words::{Heard, TimelineWords};
use crate::playback::service::SpeechService;
use crate::playback::stream::{PhraseEventKind, PhraseId};
use crate::tts::timings::WordTiming;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::time::{Duration, Instant};

/// One phrase's event, for every client.
#[derive(Debug, Clone)]
pub(super) struct Broadcast {
    pub(super) stage: Stage,
    pub(super) id: PhraseId,
    pub(super) message: Arc<str>,
    pub(super) duration_ms: Option<f64>,
    pub(super) error: Option<Arc<str>>,
    /// A `Word` event's word, and the rate its span is at.
    pub(super) word: Option<(Arc<WordTiming>, u32)>,
}

/// An API phrase the server follows.
pub(super) struct Followed {
    pub(super) message: Arc<str>,
    pub(super) started_at: Option<u64>,
    /// When its failure was first seen (a phrase that fails with no instance active never
    /// sounds, so no event would end it).
    pub(super) failed_seen: Option<Instant>,
}

pub(super) fn broadcast(hub: &Hub, event: Broadcast) {
    let mut clients = hub.clients.lock().unwrap_or_else(|e| e.into_inner());
    clients.retain(|client| {
        !matches!(
            client.try_send(event.clone()),
            Err(TrySendError::Disconnected(_))
        )
    });
}

/// The words of the phrase heard now that were announced.
#[derive(Default)]
struct Announced {
    phrase: PhraseId,
    words: usize,
}

impl Announced {
    /// Adds a `Word` event to `out` for each word of phrase `id` that starts at or before
    /// `position` (samples heard of it) and was not announced yet.
    fn announce(
        &mut self,
        speech: &SpeechService,
        id: PhraseId,
        position: u64,
        message: &Arc<str>,
        out: &mut Vec<Broadcast>,
    ) {
        if self.phrase != id {
            *self = Self {
                phrase: id,
                words: 0,
            };
        }
        let Some(timings) = speech.word_timings(id) else {
            return;
        };
        for word in timings.words.iter().skip(self.words) {
            if word.span.start > position {
                break;
            }
            self.words += 1;
            out.push(Broadcast {
                stage: Stage::Word,
                id,
                message: message.clone(),
                duration_ms: None,
                error: None,
                word: Some((Arc::new(word.clone()), timings.sample_rate)),
            });
        }
    }
}

/// Follows the owner's phrase events and tells every client.
pub(super) fn event_loop(hub: &Arc<Hub>) {
    let mut cursor = None;
    let mut words = Announced::default();
    let mut timeline = TimelineWords::default();
    let mut owner_key = 0usize;
    while !hub.stop.load(Ordering::Acquire) {
        std::thread::sleep(TICK / 2);
        let Some(owner) = super::owner() else {
            continue;
        };
        let Some(speech) = owner.speech() else {
            continue;
        };
        let key = Arc::as_ptr(owner.session()) as usize;
        if key != owner_key || cursor.is_none() {
            owner_key = key;
            cursor = Some(speech.event_cursor());
        }
        let Some(cursor) = cursor.as_mut() else {
            continue;
        };
        let rate = f64::from(speech.output_rate().unwrap_or(48_000.0).max(1.0));
        let mut out = Vec::new();
        {
            let mut followed = hub.followed.lock().unwrap_or_else(|e| e.into_inner());
            // Words as they are heard: every word of the phrase heard now that has started.
            if let Some((id, position)) = speech.control().heard() {
                let message = followed
                    .get(&id)
                    .map(|f| f.message.clone())
                    .or_else(|| speech.phrase_text(id))
                    .unwrap_or_else(|| Arc::from(""));
                words.announce(speech, id, position, &message, &mut out);
            }
            speech.events_since(cursor, &mut |event| {
                let message = followed
                    .get(&event.id)
                    .map(|f| f.message.clone())
                    .or_else(|| speech.phrase_text(event.id))
                    .unwrap_or_else(|| Arc::from(""));
                let failure = speech.failure(event.id);
                if failure.is_some()
                    && !followed.contains_key(&event.id)
                    && !matches!(event.kind, PhraseEventKind::Cancelled)
                {
                    // Already reported, or an editor phrase: its failure shows in the editor.
                    return;
                }
                let (stage, duration_ms) = match event.kind {
                    PhraseEventKind::Started => {
                        if let Some(f) = followed.get_mut(&event.id) {
                            f.started_at = Some(event.at);
                        }
                        if failure.is_some() {
                            return;
                        }
                        (Stage::Playing, None)
                    }
                    PhraseEventKind::Finished if failure.is_some() => (Stage::Error, None),
                    PhraseEventKind::Finished => {
                        let start = followed.get(&event.id).and_then(|f| f.started_at);
                        (
                            Stage::Finished,
                            start.map(|s| event.at.saturating_sub(s) as f64 / rate * 1e3),
                        )
                    }
                    PhraseEventKind::Cancelled => (Stage::Deleted, None),
                };
                if stage.is_final() && followed.remove(&event.id).is_some() {
                    hub.queued.fetch_sub(1, Ordering::AcqRel);
                }
                if matches!(stage, Stage::Finished) {
                    // The words not yet announced (heard between two looks) come first.
                    words.announce(speech, event.id, u64::MAX, &message, &mut out);
                }
                out.push(Broadcast {
                    stage,
                    id: event.id,
                    message,
                    duration_ms,
                    error: failure,
                    word: None,
                });
            });
            // Timeline phrases (notes, Trigger, Speak) as they are heard.
            let mut heard = Vec::new();
            let control = speech.control().clone();
            timeline.follow(
                speech.bank(),
                rate as u32,
                &mut || control.new_id(),
                &mut heard,
            );
            out.extend(heard.into_iter().map(|h| match h {
                Heard::Word {
                    id,
                    message,
                    word,
                    rate,
                } => Broadcast {
                    stage: Stage::Word,
                    id,
                    message,
                    duration_ms: None,
                    error: None,
                    word: Some((word, rate)),
                },
                Heard::Ended { id, message } => Broadcast {
                    stage: Stage::Finished,
                    id,
                    message,
                    duration_ms: None,
                    error: None,
                    word: None,
                },
            }));
            // Phrases that failed and never sounded (no activation to play them).
            let mut gone = Vec::new();
            for (id, f) in followed.iter_mut() {
                if f.started_at.is_none() && speech.failure(*id).is_some() {
                    let seen = *f.failed_seen.get_or_insert_with(Instant::now);
                    if seen.elapsed() > Duration::from_secs(1) {
                        gone.push(*id);
                    }
                }
            }
            for id in gone {
                if let Some(f) = followed.remove(&id) {
                    hub.queued.fetch_sub(1, Ordering::AcqRel);
                    out.push(Broadcast {
                        stage: Stage::Error,
                        id,
                        message: f.message,
                        duration_ms: None,
                        error: speech.failure(id),
                        word: None,
                    });
                }
            }
        }
        for event in out {
            broadcast(hub, event);
        }
    }
}

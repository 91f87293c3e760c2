//! The words of timeline phrases (the phrase bank's: notes, Trigger, Speak) as they are heard,
//! for the API's `Word` events and the caption page. A bank phrase has no request id, so each
//! time one starts to be heard it gets a fresh phrase id; when it stops being heard it ends.
//!
//! Thread model: the server's event thread polls it; it reads the bank's wait-free "heard"
//! atomics and, briefly, the bank's word table (never touched by the audio thread).

use crate::playback::bank::BankShared;
use crate::playback::stream::PhraseId;
use crate::tts::timings::WordTiming;
use std::sync::Arc;

/// What a look at the bank found to tell clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// A word of timeline phrase `id` started being heard.
    Word {
        /// The phrase's id for this hearing.
        id: PhraseId,
        /// The phrase's text.
        message: Arc<str>,
        /// The word; its span at `rate`.
        word: Arc<WordTiming>,
        /// The host's rate.
        rate: u32,
    },
    /// Timeline phrase `id` is no longer heard (played out, stopped, or another took over).
    Ended {
        /// The phrase's id for this hearing.
        id: PhraseId,
        /// The phrase's text.
        message: Arc<str>,
    },
}

/// The timeline phrase followed now and how many of its words were told.
#[derive(Debug, Default)]
pub struct TimelineWords {
    key: u64,
    at: u64,
    id: PhraseId,
    message: Option<Arc<str>>,
    told: usize,
}

impl TimelineWords {
    /// Looks at what the bank plays now; `new_id` hands out an id for a phrase that starts.
    pub fn follow(
        &mut self,
        bank: &BankShared,
        rate: u32,
        new_id: &mut dyn FnMut() -> PhraseId,
        out: &mut Vec<Heard>,
    ) {
        let heard = bank.heard();
        let same = heard
            .as_ref()
            .is_some_and(|(clip, at)| clip.key == self.key && *at >= self.at);
        if !same {
            if let Some(message) = self.message.take() {
                out.push(Heard::Ended {
                    id: self.id,
                    message,
                });
            }
            *self = Self::default();
        }
        let Some((clip, at)) = heard else {
            return;
        };
        if !same {
            self.key = clip.key;
            self.id = new_id();
            self.message = Some(clip.text.clone());
        }
        self.at = at;
        for word in clip.words.iter().skip(self.told) {
            if word.span.start > at {
                break;
            }
            self.told += 1;
            out.push(Heard::Word {
                id: self.id,
                message: clip.text.clone(),
                word: Arc::new(word.clone()),
                rate,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::bank::{self, Triggered};
    use crate::state::SharedSession;
    use crate::tts::timings::Span;

    fn word(index: usize, text: &str, start: u64, end: u64) -> WordTiming {
        WordTiming {
            index,
            text: text.into(),
            range: None,
            span: Span { start, end },
            phonemes: Vec::new(),
        }
    }

    #[test]
    fn a_timeline_phrase_tells_its_words_as_heard_and_ends() {
        let session = Arc::new(SharedSession::default());
        session.set_text("hello there".into());
        let shared = Arc::new(BankShared::default());
        let (mut player, mut feeder) = bank::channel(shared.clone(), session.clone(), 1000.0, 8);
        feeder.sync(&session);
        feeder.settle_now();
        while let Some(job) = feeder.next_job() {
            feeder.set_words(&job, vec![word(0, "hello", 0, 6), word(1, "there", 10, 16)]);
            feeder.deliver(&job, vec![0.5; 20]);
        }
        let mut follower = TimelineWords::default();
        let mut ids = 100;
        let mut new_id = || {
            ids += 1;
            ids
        };
        let mut out = Vec::new();
        follower.follow(&shared, 1000, &mut new_id, &mut out);
        assert!(out.is_empty(), "nothing heard yet");
        assert_eq!(player.trigger(1, 0, 1.0, None, false), Triggered::Playing);
        player.render(8);
        follower.follow(&shared, 1000, &mut new_id, &mut out);
        let told: Vec<(PhraseId, String)> = out
            .drain(..)
            .map(|h| match h {
                Heard::Word { id, word, .. } => (id, word.text.clone()),
                Heard::Ended { id, .. } => (id, "<end>".into()),
            })
            .collect();
        assert_eq!(told, vec![(101, "hello".into())], "the first word only");
        player.render(8);
        follower.follow(&shared, 1000, &mut new_id, &mut out);
        player.render(8);
        player.render(8);
        follower.follow(&shared, 1000, &mut new_id, &mut out);
        let told: Vec<String> = out
            .drain(..)
            .map(|h| match h {
                Heard::Word { word, .. } => word.text.clone(),
                Heard::Ended { .. } => "<end>".into(),
            })
            .collect();
        assert_eq!(
            told,
            vec!["there", "<end>"],
            "the second word, then its end"
        );
    }
}

//! Where the timeline put its phrases in the project, for the project's subtitles: every phrase
//! a note or a switch started while the host's transport played, at its sample in project time,
//! cut where a note-off, a choke, Stop or the same phrase again ended it.
//!
//! The record follows the project as it is now, not as it once was: each continuous run of the
//! transport (a playback or an export, from a start or a jump to a stop or the next jump)
//! replaces what earlier runs recorded in the stretch it covered. Move a note and play (or
//! export) that passage again, and the phrase is where the note is now.
//!
//! Thread model: [`PlacementRecorder`] belongs to an activation's [`super::BankPlayer`] on the
//! audio thread and only pushes fixed-size events into a wait-free `rtrb` ring (a full ring
//! counts the event as lost). [`Placements`] lives as long as the plugin instance, behind a
//! mutex the audio thread never takes; the speech thread drains the ring between its phrases,
//! and a reader (the editor's export) drains it before it reads. The record is saved with the
//! project ([`Placements::saved`], [`Placements::load_saved`]; the main thread).

use super::ClipWords;
use crate::tts::timings::WordTiming;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Events in flight from one activation's audio thread: room for every trigger of many seconds
/// of a dense project while the speech thread renders a phrase.
const RING: usize = 4096;

/// Placements kept at most; later ones are counted as lost.
pub const KEPT: usize = 16_384;

/// How often an ongoing run reports the stretch it has covered, seconds of audio.
const COVER_EVERY: f64 = 0.25;

/// Which phrases a cut ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The phrases this note started (its note-off or choke).
    Note(u8),
    /// Every phrase a note started.
    AnyNote,
    /// Every phrase (Stop, Skip).
    All,
}

/// Audio thread → log.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    /// A continuous run of the transport begins, at this project sample.
    Run(i64),
    /// A phrase started at project sample `at`.
    Placed {
        slot: u16,
        key: u64,
        at: i64,
        note: Option<u8>,
    },
    /// Phrases ended at project sample `at`.
    Cut { which: Cut, at: i64 },
    /// The current run has played project samples `from..to`.
    Covered { from: i64, to: i64 },
}

/// The audio thread's half: one per activation. Wait-free, allocation-free.
pub struct PlacementRecorder {
    events: rtrb::Producer<Event>,
    lost: Arc<AtomicU64>,
    /// The open run: where it began and where the block being processed ends.
    run: Option<(i64, i64)>,
    /// The project sample of the current block's first sample (while a run is open).
    here: i64,
    /// Samples since the run last reported its stretch.
    since_cover: i64,
    cover_every: i64,
}

impl PlacementRecorder {
    fn push(&mut self, event: Event) {
        if self.events.push(event).is_err() && !matches!(event, Event::Covered { .. }) {
            // A lost stretch report is made good by the next; a lost phrase is counted.
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Where this block is: `position` is the project sample of its first sample while the
    /// transport plays (`None`: stopped, or a host without positions); `moved` says the
    /// transport started, stopped or jumped here. Call once per block, before its triggers.
    pub fn locate(&mut self, position: Option<i64>, moved: bool, frames: usize) {
        if (moved || position.is_none())
            && let Some((from, end)) = self.run.take()
        {
            self.push(Event::Covered { from, to: end });
        }
        let Some(here) = position else { return };
        let frames = frames as i64;
        let from = match self.run {
            Some((from, _)) => from,
            None => {
                self.push(Event::Run(here));
                self.since_cover = 0;
                here
            }
        };
        self.here = here;
        self.run = Some((from, here + frames));
        self.since_cover += frames;
        if self.since_cover >= self.cover_every {
            self.since_cover = 0;
            self.push(Event::Covered {
                from,
                to: here + frames,
            });
        }
    }

    /// Phrase `slot` (content `key`) started `offset` samples into this block.
    pub fn placed(&mut self, slot: usize, key: u64, offset: usize, note: Option<u8>) {
        if self.run.is_some() {
            self.push(Event::Placed {
                slot: slot.min(u16::MAX as usize) as u16,
                key,
                at: self.here + offset as i64,
                note,
            });
        }
    }

    /// `which` phrases end `offset` samples into this block.
    pub fn cut(&mut self, which: Cut, offset: usize) {
        if self.run.is_some() {
            self.push(Event::Cut {
                which,
                at: self.here + offset as i64,
            });
        }
    }
}

/// One phrase on the project's timeline, ready for subtitles.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedPhrase {
    /// Where it starts, samples at `sample_rate` from the project's start.
    pub at: u64,
    /// The rate of `at` and of the words' spans (the host's when it was played).
    pub sample_rate: u32,
    /// The phrase's slot (0: the whole text; n: phrase line n).
    pub slot: usize,
    /// Its text (the words' ranges index it).
    pub text: Arc<str>,
    /// The words heard: spans from `at`, those after a cut left out and the one it fell in
    /// ended there.
    pub words: Vec<WordTiming>,
}

/// What the record holds, for an export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sheet {
    /// The phrases with words, in project order.
    pub phrases: Vec<PlacedPhrase>,
    /// Phrases placed whose words are not known (their voice gives no timings, their clip
    /// was too long to hold, or their line changed before it was rendered).
    pub without_words: usize,
    /// Events lost to a full ring or past [`KEPT`].
    pub lost: u64,
}

/// The schema of the placements a project saves.
pub const SAVED_SCHEMA: u32 = 1;

/// One placement as a project saves it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Saved {
    slot: usize,
    key: u64,
    at: i64,
    rate: u32,
    #[serde(default)]
    note: Option<u8>,
    #[serde(default)]
    cut: Option<i64>,
}

/// The placements as a project saves them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SavedLog {
    schema: u32,
    placements: Vec<Saved>,
}

/// Why a project's placements were not loaded (the record is left as it was).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    /// Not the shape this version saves.
    #[error("the project's subtitle placements could not be read ({0}); they were left out")]
    Unreadable(String),
    /// Saved by a newer Orator.
    #[error(
        "the project's subtitle placements were saved by a newer Orator (schema {0}, this \
         one reads {SAVED_SCHEMA}); they were left out"
    )]
    Newer(u32),
}

#[derive(Debug)]
struct Entry {
    slot: usize,
    key: u64,
    at: i64,
    rate: u32,
    note: Option<u8>,
    /// The run that placed it.
    run: u64,
    /// Where it was cut, project samples.
    cut: Option<i64>,
}

impl Entry {
    fn seconds(&self) -> f64 {
        self.at as f64 / f64::from(self.rate.max(1))
    }
}

#[derive(Debug, Default)]
struct Log {
    /// The current activation's ring and its sample rate.
    reader: Option<(rtrb::Consumer<Event>, u32)>,
    /// The run being recorded (counts runs and activations).
    run: u64,
    entries: Vec<Entry>,
}

/// The record, shared by the speech thread and the editor. See the module's documentation.
#[derive(Debug, Default)]
pub struct Placements {
    log: Mutex<Log>,
    /// Events lost (the recorders count here).
    lost: Arc<AtomicU64>,
}

impl Placements {
    /// A recorder for a new activation at `sample_rate`; the previous activation's events are
    /// taken in first. Allocates: call from `activate`.
    pub(super) fn recorder(&self, sample_rate: f32) -> PlacementRecorder {
        let (producer, consumer) = rtrb::RingBuffer::new(RING);
        let rate = sample_rate.round().max(1.0) as u32;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.drain(&self.lost);
        log.reader = Some((consumer, rate));
        log.run += 1;
        PlacementRecorder {
            events: producer,
            lost: self.lost.clone(),
            run: None,
            here: 0,
            since_cover: 0,
            cover_every: (f64::from(rate) * COVER_EVERY) as i64,
        }
    }

    /// Takes in what the audio thread recorded (speech thread, editor).
    pub fn drain(&self) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(&self.lost);
    }

    /// Phrases placed so far.
    pub fn len(&self) -> usize {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.drain(&self.lost);
        log.entries.len()
    }

    /// Whether nothing is placed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every placement (the next playback or export records afresh).
    pub fn clear(&self) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.drain(&self.lost);
        log.entries.clear();
        log.run += 1;
        self.lost.store(0, Ordering::Relaxed);
    }

    /// The record as a project saves it (JSON).
    pub fn saved(&self) -> serde_json::Value {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.drain(&self.lost);
        let placements = log
            .entries
            .iter()
            .map(|e| Saved {
                slot: e.slot,
                key: e.key,
                at: e.at,
                rate: e.rate,
                note: e.note,
                cut: e.cut,
            })
            .collect();
        serde_json::to_value(SavedLog {
            schema: SAVED_SCHEMA,
            placements,
        })
        .unwrap_or(serde_json::Value::Null)
    }

    /// Replaces the record with a project's (`saved`, from [`Self::saved`]). Placements that
    /// cannot be real (a slot past the bank, a rate outside 8–768 kHz, a place before the
    /// project's start) are left out, and at most [`KEPT`] are taken. Returns how many were
    /// taken; on an error the record is left as it was.
    pub fn load_saved(&self, saved: serde_json::Value) -> Result<usize, LoadError> {
        if let Some(schema) = saved.get("schema").and_then(serde_json::Value::as_u64)
            && schema > u64::from(SAVED_SCHEMA)
        {
            return Err(LoadError::Newer(u32::try_from(schema).unwrap_or(u32::MAX)));
        }
        let saved: SavedLog =
            serde_json::from_value(saved).map_err(|e| LoadError::Unreadable(e.to_string()))?;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.drain(&self.lost);
        // Older than any run to come: a playback of their stretch replaces them.
        log.run += 1;
        log.entries = saved
            .placements
            .into_iter()
            .filter(|p| {
                p.slot <= super::MAX_PHRASES
                    && (8_000..=768_000).contains(&p.rate)
                    && p.at >= 0
                    && p.cut.is_none_or(|c| c >= p.at)
            })
            .take(KEPT)
            .map(|p| Entry {
                slot: p.slot,
                key: p.key,
                at: p.at,
                rate: p.rate,
                note: p.note,
                run: 0,
                cut: p.cut,
            })
            .collect();
        Ok(log.entries.len())
    }

    /// The phrases placed, in project order, with their words as heard. `words` gives a
    /// phrase's words by its slot and the content key it was placed with (the words are
    /// looked up now, not kept: the record holds no text).
    pub fn sheet(&self, words: &dyn Fn(usize, u64) -> Option<ClipWords>) -> Sheet {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.drain(&self.lost);
        let mut sheet = Sheet {
            lost: self.lost.load(Ordering::Relaxed),
            ..Sheet::default()
        };
        let mut order: Vec<&Entry> = log.entries.iter().collect();
        order.sort_by(|a, b| {
            a.seconds()
                .total_cmp(&b.seconds())
                .then(a.slot.cmp(&b.slot))
        });
        for entry in order {
            let Some(clip) = words(entry.slot, entry.key) else {
                sheet.without_words += 1;
                continue;
            };
            if clip.words.is_empty() {
                sheet.without_words += 1;
                continue;
            }
            let cut = entry.cut.map(|c| (c - entry.at).max(0) as u64);
            let heard = clip
                .words
                .iter()
                .filter(|w| cut.is_none_or(|c| w.span.start < c))
                .map(|w| {
                    let mut w = w.clone();
                    if let Some(c) = cut {
                        w.span.end = w.span.end.min(c);
                    }
                    w
                })
                .collect();
            sheet.phrases.push(PlacedPhrase {
                at: entry.at.max(0) as u64,
                sample_rate: entry.rate,
                slot: entry.slot,
                text: clip.text.clone(),
                words: heard,
            });
        }
        sheet
    }
}

impl Log {
    fn drain(&mut self, lost: &AtomicU64) {
        let Some((reader, rate)) = self.reader.as_mut() else {
            return;
        };
        let rate = *rate;
        while let Ok(event) = reader.pop() {
            match event {
                Event::Run(_) => self.run += 1,
                Event::Placed {
                    slot,
                    key,
                    at,
                    note,
                } => {
                    let slot = usize::from(slot);
                    let run = self.run;
                    // The same phrase again ends the one sounding.
                    for entry in &mut self.entries {
                        if entry.run == run && entry.slot == slot && entry.cut.is_none() {
                            entry.cut = Some(at);
                        }
                    }
                    if self.entries.len() >= KEPT {
                        lost.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    self.entries.push(Entry {
                        slot,
                        key,
                        at,
                        rate,
                        note,
                        run,
                        cut: None,
                    });
                }
                Event::Cut { which, at } => {
                    for entry in &mut self.entries {
                        let ends = match which {
                            Cut::Note(n) => entry.note == Some(n),
                            Cut::AnyNote => entry.note.is_some(),
                            Cut::All => true,
                        };
                        if ends && entry.run == self.run && entry.at <= at && entry.cut.is_none() {
                            entry.cut = Some(at);
                        }
                    }
                }
                Event::Covered { from, to } => {
                    // What earlier runs placed in this stretch is replaced by this run's.
                    let r = f64::from(rate.max(1));
                    let (from, to) = (from as f64 / r, to as f64 / r);
                    let run = self.run;
                    self.entries.retain(|e| {
                        e.run == run || e.seconds() < from - 1e-9 || e.seconds() >= to - 1e-9
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words of `text` at 1000 Hz, each `(start, end)` in ms.
    fn clip(slot: usize, key: u64, text: &str, spans: &[(u64, u64)]) -> ClipWords {
        let words = crate::tts::timings::fixture_words(text, spans);
        ClipWords {
            key,
            slot,
            text: text.into(),
            words: words.into(),
        }
    }

    fn lines() -> impl Fn(usize, u64) -> Option<ClipWords> {
        |slot, key| match slot {
            1 => Some(clip(
                1,
                key,
                "one two three",
                &[(0, 300), (300, 600), (600, 900)],
            )),
            2 => Some(clip(2, key, "four five", &[(0, 400), (400, 800)])),
            _ => None,
        }
    }

    /// Plays `blocks` blocks of 100 samples from project sample `from`, running `each` at the
    /// start of each block (its index and the recorder).
    fn play(
        rec: &mut PlacementRecorder,
        from: i64,
        blocks: i64,
        mut each: impl FnMut(i64, &mut PlacementRecorder),
    ) {
        for b in 0..blocks {
            rec.locate(Some(from + b * 100), b == 0, 100);
            each(b, rec);
        }
        rec.locate(None, true, 100);
    }

    fn placed(sheet: &Sheet) -> Vec<(usize, u64, usize)> {
        sheet
            .phrases
            .iter()
            .map(|p| (p.slot, p.at, p.words.len()))
            .collect()
    }

    #[test]
    fn phrases_are_placed_at_their_project_sample_and_cut_where_they_end() {
        let log = Placements::default();
        let words = lines();
        let mut rec = log.recorder(1000.0);
        play(&mut rec, 5000, 30, |b, rec| match b {
            2 => rec.placed(1, 11, 40, Some(60)),
            10 => rec.placed(2, 22, 0, None),
            // Line 1 again while it sounds: the first ends there.
            12 => rec.placed(1, 11, 0, Some(60)),
            // Its note-off ends the second 450 samples in.
            16 => rec.cut(Cut::Note(60), 50),
            _ => {}
        });
        let sheet = log.sheet(&words);
        assert_eq!(
            placed(&sheet),
            [(1, 5240, 3), (2, 6000, 2), (1, 6200, 2)],
            "{sheet:?}"
        );
        let last = &sheet.phrases[2].words;
        assert_eq!((last[1].span.start, last[1].span.end), (300, 450));
        assert_eq!(sheet.without_words, 0);
        assert_eq!(sheet.lost, 0);
        assert!(rec.run.is_none(), "the stop closed the run");
    }

    #[test]
    fn a_later_run_replaces_what_earlier_runs_placed_in_its_stretch_only() {
        let log = Placements::default();
        let words = lines();
        let mut rec = log.recorder(1000.0);
        // The first pass: line 1 at 1000 and line 2 at 3000.
        play(&mut rec, 0, 40, |b, rec| match b {
            10 => rec.placed(1, 11, 0, None),
            30 => rec.placed(2, 22, 0, None),
            _ => {}
        });
        // The note moved: a pass over 0..2000 places line 1 at 1500 instead.
        play(&mut rec, 0, 20, |b, rec| {
            if b == 15 {
                rec.placed(1, 11, 0, None);
            }
        });
        let sheet = log.sheet(&words);
        assert_eq!(placed(&sheet), [(1, 1500, 3), (2, 3000, 2)], "{sheet:?}");
        // The same pass again changes nothing; a jump starts a new run.
        play(&mut rec, 0, 20, |b, rec| {
            if b == 15 {
                rec.placed(1, 11, 0, None);
            }
        });
        assert_eq!(placed(&log.sheet(&words)), [(1, 1500, 3), (2, 3000, 2)]);
        // Nothing placed while stopped.
        rec.locate(None, false, 100);
        rec.placed(1, 11, 0, None);
        assert_eq!(log.len(), 2);
        log.clear();
        assert!(log.is_empty());
    }

    #[test]
    fn stop_ends_every_phrase_and_unknown_words_are_counted() {
        let log = Placements::default();
        let words = lines();
        let mut rec = log.recorder(1000.0);
        play(&mut rec, 0, 20, |b, rec| match b {
            1 => {
                rec.placed(1, 11, 0, None);
                rec.placed(2, 22, 0, Some(61));
                rec.placed(7, 77, 0, None);
            }
            2 => rec.cut(Cut::AnyNote, 50),
            3 => rec.cut(Cut::All, 0),
            _ => {}
        });
        let sheet = log.sheet(&words);
        assert_eq!(sheet.without_words, 1, "line 7 has no words");
        let ends: Vec<Vec<u64>> = sheet
            .phrases
            .iter()
            .map(|p| p.words.iter().map(|w| w.span.end).collect())
            .collect();
        assert_eq!(ends, [vec![200], vec![150]]);
    }

    #[test]
    fn the_record_round_trips_through_a_project_and_bad_ones_are_refused() {
        let log = Placements::default();
        let words = lines();
        let mut rec = log.recorder(48_000.0);
        play(&mut rec, 0, 40, |b, rec| match b {
            3 => rec.placed(1, 11, 5, Some(60)),
            9 => rec.cut(Cut::Note(60), 7),
            20 => rec.placed(2, 22, 0, None),
            _ => {}
        });
        let saved = log.saved();
        let loaded = Placements::default();
        assert_eq!(loaded.load_saved(saved.clone()), Ok(2));
        assert_eq!(loaded.sheet(&words), log.sheet(&words));
        assert_eq!(loaded.saved(), saved);
        // A playback over the loaded stretch replaces it.
        let mut rec = loaded.recorder(48_000.0);
        play(&mut rec, 0, 40, |b, rec| {
            if b == 30 {
                rec.placed(2, 22, 0, None);
            }
        });
        assert_eq!(placed(&loaded.sheet(&words)), [(2, 3000, 2)]);

        let newer = serde_json::json!({"schema": SAVED_SCHEMA + 1, "placements": []});
        assert_eq!(
            loaded.load_saved(newer),
            Err(LoadError::Newer(SAVED_SCHEMA + 1))
        );
        let garbage = serde_json::json!({"schema": 1, "placements": "lots"});
        assert!(matches!(
            loaded.load_saved(garbage),
            Err(LoadError::Unreadable(_))
        ));
        assert_eq!(loaded.len(), 1, "a refused load keeps the record");
        let hostile = serde_json::json!({"schema": 1, "placements": [
            {"slot": 9999, "key": 1, "at": 0, "rate": 48000},
            {"slot": 1, "key": 1, "at": -5, "rate": 48000},
            {"slot": 1, "key": 1, "at": 5, "rate": 1},
            {"slot": 1, "key": 1, "at": 5, "rate": 48000, "cut": 2},
            {"slot": 1, "key": 1, "at": 5, "rate": 48000, "note": 60}
        ]});
        assert_eq!(loaded.load_saved(hostile), Ok(1));
    }

    #[test]
    fn a_full_ring_counts_what_it_lost() {
        let log = Placements::default();
        let words = lines();
        let mut rec = log.recorder(1000.0);
        rec.locate(Some(0), true, 100);
        for i in 0..RING + 10 {
            rec.placed(1, 11, i % 100, None);
        }
        let sheet = log.sheet(&words);
        assert!(sheet.lost >= 10, "{}", sheet.lost);
    }
}

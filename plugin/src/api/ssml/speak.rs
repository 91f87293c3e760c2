//! Renders an SSML document: each segment through [`render::render`] (the same realtime path
//! as any request), with its own voice, pace and level, then joined ([`super::join`]) with the
//! pauses exact. With a writer, the output is handed on as each segment is joined: a document's
//! first audio waits for its first segment's whole render.
//!
//! Thread model: the HTTP render thread (the renderer's speech service is its own).

use super::Ssml;
use super::join::{self, Joiner, Take};
use crate::api::render::{self, Ended, Limits, Rendered, Write};
use crate::dsp::path::PathSettings;
use crate::playback::timing_log::PhraseWords;
use crate::playback::voicing::Voicing;
use std::time::Instant;

/// How each segment is voiced by default: the request's voicing (an alias's, or the
/// instance's at the request's speed) and the request's speed for a `<voice>` alias.
pub struct Voices {
    /// The request's voicing.
    pub base: Voicing,
    /// The request's speed (a `<voice>`'s alias speaks at its pace times it).
    pub speed: f32,
}

impl Voices {
    /// The voicing of a segment styled `style`.
    fn of(&self, style: &super::Style) -> Voicing {
        let (voicing, pace) = match &style.voice {
            Some(v) => (v.clone(), v.rate * self.speed),
            None => (self.base.clone(), self.base.rate),
        };
        Voicing {
            rate: (pace * style.rate).clamp(0.25, 4.0),
            level_db: voicing.level_db + style.level_db,
            ..voicing
        }
    }
}

/// Speaks `ssml` at `rate` (mono), stopping at `limits` (the length cap counts the whole
/// output); with `write`, hands the output on as it is joined (the result then has no
/// channels). Word timings are spans from the output's first sample, on `ssml.shown`.
pub fn speak(
    service: &crate::playback::service::SpeechService,
    ssml: &Ssml,
    voices: &Voices,
    rate: u32,
    mut limits: Limits<'_>,
    mut write: Option<Write<'_>>,
) -> Rendered {
    let started = Instant::now();
    let settings = PathSettings::default();
    let mut joiner = Joiner::new(rate);
    let mut kept: Vec<f32> = Vec::new();
    let mut result = Rendered {
        phrase_start: Some(0),
        ..Rendered::default()
    };
    let mut words = Vec::new();
    let mut complete = true;
    let pauses: Vec<Option<usize>> = ssml
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| match (i, s.pause_before_ms) {
            (_, Some(ms)) => Some(join::samples(ms, rate)),
            (0, None) => None,
            (_, None) => Some(join::samples(
                join::natural_pause_ms(&ssml.segments[i - 1].text),
                rate,
            )),
        })
        .collect();
    let after = ssml.pause_after_ms.map(|ms| join::samples(ms, rate));
    for (i, segment) in ssml.segments.iter().enumerate() {
        let so_far = joiner.len() + pauses[i].unwrap_or(0);
        let max_samples = limits.max_samples.map(|max| max.saturating_sub(so_far));
        if max_samples == Some(0) {
            result.ended = Ended::TooLong;
            break;
        }
        let phrase = render::Phrase {
            text: &segment.text,
            voicing: Some(voices.of(&segment.style)),
        };
        let part_limits = Limits {
            max_samples,
            abandoned: limits
                .abandoned
                .as_mut()
                .map(|f| &mut **f as &mut dyn FnMut() -> bool),
        };
        let part = render::render(service, phrase, rate, 1, &settings, None, part_limits);
        result.voice_samples += part.voice_samples;
        result.underruns += part.underruns;
        if result.first_audio.is_none() {
            result.first_audio = part.first_audio;
            result.first_audio_at = part.first_audio_at;
        }
        if part.ended != Ended::Complete || part.failure.is_some() {
            result.ended = part.ended;
            result.failure = part.failure;
            break;
        }
        let samples = part.channels.first().map_or(&[][..], Vec::as_slice);
        let start = part.phrase_start.unwrap_or(0);
        let timed = part.words.as_ref().map_or(&[][..], |w| &w.words[..]);
        complete &= part
            .words
            .as_ref()
            .is_some_and(|w| w.complete && w.finished);
        let Some(take) = Take::new(samples, timed, start) else {
            continue; // nothing was heard of it
        };
        let last = i + 1 == ssml.segments.len();
        let offset = joiner.place(&take, pauses[i], !last || after.is_some());
        join::map_words(
            timed,
            (start, offset),
            &segment.pieces,
            &ssml.shown,
            &mut words,
        );
        if last {
            break;
        }
        let ready = joiner.ready(pauses[i + 1]);
        if !hand_on(&mut write, &mut kept, &ready) {
            result.ended = Ended::Abandoned;
            break;
        }
    }
    if result.ended == Ended::Complete {
        joiner.finish(after);
        let ready = joiner.ready(None);
        if !hand_on(&mut write, &mut kept, &ready) {
            result.ended = Ended::Abandoned;
        }
    }
    if write.is_none() {
        result.channels = vec![kept];
    }
    result.words = Some(PhraseWords {
        words,
        sample_rate: rate,
        complete,
        finished: result.ended == Ended::Complete,
    });
    result.total = started.elapsed();
    result
}

/// Hands `ready` to `write`, or keeps it without one. False when the writer is gone.
fn hand_on(write: &mut Option<Write<'_>>, kept: &mut Vec<f32>, ready: &[f32]) -> bool {
    match write {
        Some(write) => ready.is_empty() || write(ready),
        None => {
            kept.extend_from_slice(ready);
            true
        }
    }
}

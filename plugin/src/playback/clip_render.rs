//! Bank phrases rendered whole: one phrase of the timeline's bank spoken at the host's rate
//! into a clip, stopped as soon as it is longer than a clip may be or live speech asks for the
//! thread, and handed to the bank (clip, deferred, too long, failed).
//!
//! Thread model: the speech thread only.

use super::bank::{BankFeeder, Job};
use super::fault_injection;
use super::resample::{ResampleError, StreamResampler};
use super::voicing::configured;
use crate::state::SharedSession;
use crate::tts::engine::{Engine, SpeakError};
use crate::tts::timings::{PhraseTimings, WordTiming, written_words};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a bank phrase could not be rendered.
#[derive(Debug, thiserror::Error)]
pub(super) enum ClipError {
    /// The speech thread has no voice (the status says why).
    #[error("no voice: {0}")]
    NoVoice(String),
    /// The speech thread failed while rendering it: what it says of the failure.
    #[error("{0}")]
    Panicked(String),
    /// Resampling to the host's rate failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// The voice could not speak it.
    #[error(transparent)]
    Speak(#[from] SpeakError),
}

/// What became of one bank phrase's render.
pub(super) enum Rendered {
    /// The whole phrase at the host's rate, and its words (spans at the host's rate; empty
    /// when the voice gives no timings).
    Clip(Vec<f32>, Vec<WordTiming>),
    /// Live speech was asked for (and the phrase is not urgent), the phrase changed, or the
    /// service is stopping: it is rendered later.
    Interrupted,
    /// It passed the bank's bound for one clip: stopped there, never held, streamed instead.
    TooLong,
}

/// Renders one bank phrase whole at the host's rate, stopping as soon as it is longer than a
/// clip may be (a text whose reading cannot be held is never rendered whole into memory).
pub(super) fn render_clip(
    engine: &Engine,
    bank: &BankFeeder,
    session: &SharedSession,
    stop: &AtomicBool,
    live_asks: &dyn Fn() -> bool,
    job: &Job,
) -> Result<Rendered, ClipError> {
    let host_rate = bank.sample_rate.round().max(1.0) as u32;
    let snapshot = session.snapshot();
    let (engine, settings) = configured(engine, &snapshot, None);
    let mut resampler = StreamResampler::new(engine.voice.config.sample_rate, host_rate)?;
    let urgent = job.urgent || bank.has_urgent();
    let interrupted =
        || stop.load(Ordering::Acquire) || !bank.still_wanted(job) || (!urgent && live_asks());
    let limit = bank.max_clip_samples();
    let voice_rate = engine.voice.config.sample_rate;
    let mut timings = PhraseTimings::new();
    let mut voice_samples = 0u64;
    let mut samples = Vec::new();
    let mut failed = None;
    let too_long = std::cell::Cell::new(false);
    let mut keep = |out: &[f32]| {
        if samples.len() + out.len() > limit {
            too_long.set(true);
            return ControlFlow::Break(());
        }
        samples.extend_from_slice(out);
        ControlFlow::Continue(())
    };
    fault_injection::panic_if_marked(&job.text);
    engine.speak(&job.text, &settings, &mut |chunk| {
        if interrupted() {
            return ControlFlow::Break(());
        }
        if chunk.first_of_group {
            timings.push(voice_samples, chunk.timings.as_deref());
        }
        voice_samples += chunk.samples.len() as u64;
        resampler
            .push(&chunk.samples, &mut keep)
            .unwrap_or_else(|err| {
                failed = Some(err);
                ControlFlow::Break(())
            })
    })?;
    if let Some(err) = failed {
        return Err(err.into());
    }
    if too_long.get() {
        return Ok(Rendered::TooLong);
    }
    if interrupted() {
        return Ok(Rendered::Interrupted);
    }
    let _ = resampler.finish(&mut keep)?;
    if too_long.get() {
        return Ok(Rendered::TooLong);
    }
    // The written words, so the lit word is the one in the text (as for streamed phrases).
    let words = if timings.is_complete() {
        let written = written_words(&job.text);
        let phonemes = engine.written_phonemes(&written).ok();
        timings.words(
            voice_rate,
            host_rate,
            phonemes.as_ref().map(|p| (&written[..], &p[..])),
        )
    } else {
        Vec::new()
    };
    Ok(Rendered::Clip(samples, words))
}

/// Gives the bank what became of `job`'s render: its clip, back in the queue, too long to
/// hold, or failed. Returns whether memory was used that the allocator may keep.
pub(super) fn hand_over(
    bank: &mut BankFeeder,
    job: &Job,
    rendered: Result<Rendered, ClipError>,
) -> bool {
    match rendered {
        Ok(Rendered::Clip(samples, words)) => {
            bank.set_words(job, words);
            bank.deliver(job, samples);
            true
        }
        Ok(Rendered::Interrupted) => {
            bank.defer(job);
            false
        }
        Ok(Rendered::TooLong) => {
            tracing::warn!(
                "Orator: phrase {} is too long to hold in memory; it is streamed when triggered",
                job.slot
            );
            bank.too_long(job);
            true
        }
        Err(why) => {
            tracing::warn!("Orator could not render phrase {}: {why}", job.slot);
            bank.fail(job, &why.to_string());
            false
        }
    }
}

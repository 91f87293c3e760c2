//! The realtime link between the speech thread and `process()`: two wait-free SPSC rings
//! (`rtrb`), created together in `activate` for the host's sample rate.
//!
//! - requests, audio thread → speech thread: "speak now" when the Speak trigger rises;
//! - voice, speech thread → audio thread: mono samples at the host's rate.
//!
//! Plus atomics:
//! - `speaking`, speech thread → audio thread: synthesis is under way (so `process()` keeps the
//!   host calling it even before the first sample arrives);
//! - `stop_generation`, audio thread → speech thread: bumped by Stop; a phrase started under an
//!   older generation is abandoned;
//! - `producing_generation`, speech thread → audio thread: the generation of the phrase whose
//!   samples are in the ring. While it is older than `stop_generation`, the audio thread
//!   discards whatever arrives, so a stopped phrase never leaks into the output.
//!
//! # Realtime safety
//! [`AudioSide`] allocates only in [`channel`]; every method it has is wait-free.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the audio thread can ask of the speech thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Speak the session's text.
    Speak,
}

/// Length of the fade-out when speech is stopped: short enough to feel instant, long enough
/// not to click.
pub const STOP_FADE_MS: f32 = 5.0;

/// Generations shared by both halves (see the module docs).
#[derive(Debug, Default)]
pub struct Generations {
    /// Bumped by the audio thread on Stop.
    pub stop: AtomicU64,
    /// The generation of the phrase currently feeding the ring.
    pub producing: AtomicU64,
    /// Speak requests the speech thread has taken (after raising `speaking`), so an offline
    /// render knows a request it sent is not yet being worked on.
    pub taken: AtomicU64,
}

/// The longest an offline render waits for speech in one block. Synthesis runs at a tenth of
/// real time, so this only ends a wait when the speech thread is stuck.
pub const OFFLINE_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Seconds of voice the ring holds: enough that the speech thread can run a sentence ahead.
pub const VOICE_RING_SECONDS: f32 = 4.0;

/// The audio thread's half. `Send`, not `Sync`: owned by the plugin, used in `process()`.
pub struct AudioSide {
    /// Voice samples from the speech thread.
    voice: rtrb::Consumer<f32>,
    /// Requests to the speech thread.
    requests: rtrb::Producer<Request>,
    /// The current block's voice; sized in [`channel`] for the host's largest block.
    block: Vec<f32>,
    /// Set by the speech thread while it synthesises.
    speaking: Arc<AtomicBool>,
    /// Samples missing because the speech thread was late (underruns), for the meters.
    underruns: u64,
    /// Stop bookkeeping shared with the speech thread.
    generations: Arc<Generations>,
    /// Fade length in samples at this sample rate.
    fade_len: usize,
    /// Speak requests sent (audio-thread local; compared with `Generations::taken`).
    sent: u64,
}

/// The speech thread's half.
pub struct WorkerSide {
    /// Voice samples to the audio thread.
    pub voice: rtrb::Producer<f32>,
    /// Requests from the audio thread.
    pub requests: rtrb::Consumer<Request>,
    /// The host's sample rate.
    pub sample_rate: f32,
    /// Set while synthesising.
    pub speaking: Arc<AtomicBool>,
    /// Stop bookkeeping shared with the audio thread.
    pub generations: Arc<Generations>,
}

/// Creates both halves for a host running at `sample_rate` with blocks of up to `max_block`.
/// Allocates: call from `activate`.
pub fn channel(sample_rate: f32, max_block: usize) -> (AudioSide, WorkerSide) {
    let capacity = ((sample_rate.max(1.0) * VOICE_RING_SECONDS) as usize).max(max_block * 2);
    let (voice_producer, voice_consumer) = rtrb::RingBuffer::new(capacity);
    let (request_producer, request_consumer) = rtrb::RingBuffer::new(16);
    let speaking = Arc::new(AtomicBool::new(false));
    let generations = Arc::new(Generations::default());
    (
        AudioSide {
            voice: voice_consumer,
            requests: request_producer,
            block: vec![0.0; max_block.max(1)],
            speaking: speaking.clone(),
            underruns: 0,
            generations: generations.clone(),
            fade_len: ((sample_rate.max(1.0) * STOP_FADE_MS / 1000.0) as usize).max(1),
            sent: 0,
        },
        WorkerSide {
            voice: voice_producer,
            requests: request_consumer,
            sample_rate,
            speaking,
            generations,
        },
    )
}

impl AudioSide {
    /// Asks the speech thread to speak. Returns false if the request ring is full.
    pub fn request_speech(&mut self) -> bool {
        let sent = self.requests.push(Request::Speak).is_ok();
        self.sent += u64::from(sent);
        sent
    }

    /// Offline rendering only: waits (sleeping, bounded by [`OFFLINE_WAIT_LIMIT`]) until the
    /// ring holds `frames` samples or no speech is pending, so a bounce contains the speech
    /// right where it was triggered and two bounces are identical.
    ///
    /// # Realtime safety
    /// Not realtime-safe: it sleeps. Call it only when the host renders offline.
    pub fn wait_for_speech(&mut self, frames: usize) {
        let frames = frames.min(self.block.len());
        let started = std::time::Instant::now();
        while self.voice.slots() < frames && self.pending() && !self.stale() {
            if started.elapsed() > OFFLINE_WAIT_LIMIT {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
    }

    /// Whether speech was requested and is not finished.
    fn pending(&self) -> bool {
        self.generations.taken.load(Ordering::Acquire) < self.sent
            || self.speaking.load(Ordering::Acquire)
    }

    /// Stops all speech: the current phrase fades out within this block ([`STOP_FADE_MS`]),
    /// everything queued is dropped, and the speech thread abandons the phrase.
    pub fn stop(&mut self, frames: usize) -> &mut [f32] {
        self.generations.stop.fetch_add(1, Ordering::AcqRel);
        let len = frames.min(self.block.len());
        let fade = self.fade_len.min(len);
        let block = &mut self.block[..len];
        let (filled, _) = self.voice.pop_partial_slice(&mut block[..fade]);
        let got = filled.len();
        for (i, x) in block[..got].iter_mut().enumerate() {
            *x *= 1.0 - (i + 1) as f32 / fade as f32;
        }
        block[got..].fill(0.0);
        self.drain();
        &mut self.block[..len]
    }

    /// Drops everything in the voice ring (O(1): one index update).
    fn drain(&mut self) {
        let queued = self.voice.slots();
        if let Ok(chunk) = self.voice.read_chunk(queued) {
            chunk.commit_all();
        }
    }

    /// Whether the samples arriving belong to a phrase that was stopped.
    fn stale(&self) -> bool {
        self.generations.producing.load(Ordering::Acquire)
            < self.generations.stop.load(Ordering::Acquire)
    }

    /// The next `frames` voice samples: what the ring has, then silence. Blocks longer than
    /// the activated maximum get at most that many voice samples.
    pub fn read_voice(&mut self, frames: usize) -> &mut [f32] {
        let len = frames.min(self.block.len());
        if self.stale() {
            self.drain();
            self.block[..len].fill(0.0);
            return &mut self.block[..len];
        }
        let block = &mut self.block[..len];
        let (filled, rest) = self.voice.pop_partial_slice(block);
        let got = filled.len();
        rest.fill(0.0);
        if got < len && self.speaking.load(Ordering::Acquire) {
            self.underruns += (len - got) as u64;
        }
        &mut self.block[..len]
    }

    /// Whether speech is queued or being synthesised (the host must keep calling `process`).
    pub fn is_active(&self) -> bool {
        !self.voice.is_empty() || self.pending()
    }

    /// Voice samples that were due while synthesis was running but had not arrived.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_flows_in_order_and_missing_samples_are_silence() {
        let (mut audio, mut worker) = channel(1000.0, 8);
        assert!(audio.request_speech());
        assert_eq!(worker.requests.pop(), Ok(Request::Speak));
        assert!(
            audio.is_active(),
            "a request not yet taken keeps the plugin alive"
        );
        worker.generations.taken.fetch_add(1, Ordering::AcqRel);
        let (_, rest) = worker.voice.push_partial_slice(&[1.0, 2.0, 3.0]);
        assert!(rest.is_empty());
        assert!(audio.is_active());
        assert_eq!(audio.read_voice(5), &[1.0, 2.0, 3.0, 0.0, 0.0]);
        assert!(!audio.is_active());
        worker.speaking.store(true, Ordering::Release);
        assert!(
            audio.is_active(),
            "synthesis under way keeps the plugin alive"
        );
        assert_eq!(audio.read_voice(4), &[0.0; 4]);
        assert_eq!(audio.underruns(), 4);
        assert_eq!(
            audio.read_voice(100).len(),
            8,
            "clamped to the activated maximum"
        );
    }

    #[test]
    fn stop_fades_within_the_block_and_discards_the_stale_phrase() {
        let (mut audio, mut worker) = channel(1000.0, 16); // 5 ms fade = 5 samples
        assert!(worker.voice.push_partial_slice(&[1.0; 12]).1.is_empty());
        let out = audio.stop(8).to_vec();
        let expected = [0.8f32, 0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0];
        assert!(
            out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6),
            "{out:?}"
        );
        // The abandoned phrase still pushes a little before it notices: never heard.
        assert!(worker.voice.push_partial_slice(&[1.0; 4]).1.is_empty());
        assert_eq!(audio.read_voice(4), &[0.0; 4]);
        // A new phrase under the new generation plays.
        let current = worker.generations.stop.load(Ordering::Acquire);
        worker
            .generations
            .producing
            .store(current, Ordering::Release);
        assert!(worker.voice.push_partial_slice(&[0.5; 2]).1.is_empty());
        assert_eq!(audio.read_voice(3), &[0.5, 0.5, 0.0]);
    }
}

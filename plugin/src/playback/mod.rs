//! Playback: the link between the speech thread and the audio thread, and the only speech code
//! `process()` reaches.
//!
//! - [`stream`]: the rings between the two threads (voice audio, phrase marks, requests and
//!   events) and [`stream::AudioSide`], the audio thread's end;
//! - [`control`]: phrase ids and [`control::Control`]'s atomics (stop, skip, clear, cancel,
//!   pause), shared by every thread;
//! - [`service`]: [`service::SpeechService`], the main thread's handle: status, commands, the
//!   phrase log;
//! - [`worker`]: the speech thread the service starts: loads the voice, synthesises the queue,
//!   resamples and fills the rings; `clip_render`: its renders of the bank's phrases whole;
//!   `fault_injection`: a test-only way to make it panic;
//! - [`bank`]: the phrase bank, every phrase rendered ahead so the timeline (MIDI notes, the
//!   Trigger and Speak parameters) plays it from memory at its exact sample;
//! - [`render_clock`]: tells an offline render from live playback when the host does not say;
//! - [`start_gate`]: when a streamed phrase may start without running dry;
//! - [`resample`]: voice rate to host rate, for speech arriving in pieces;
//! - [`calibration`]: each voice's loudness matched to the default voice's;
//! - [`voicing`]: one phrase's own voice and delivery (a voice alias), and `voice_set`, the
//!   other voices the speech thread keeps loaded for them.
//!
//! # Thread model
//! - **Audio thread:** [`stream::AudioSide`], [`bank::BankPlayer`] and [`render_clock`]. Every
//!   method it calls there is wait-free: it reads and writes preallocated rings (`rtrb`) and
//!   atomics, never allocates, locks, logs or blocks (the test suite aborts on any allocation
//!   in `process()`), and hands every buffer it lets go of back to the speech thread to free.
//!   On an empty ring it outputs silence and counts an underrun. Offline renders alone may
//!   wait for speech (bounded, once per phrase).
//! - **Speech thread:** [`worker`], `clip_render`, `voice_set`, [`calibration`], [`start_gate`], [`resample`],
//!   [`stream::WorkerSide`] and [`bank::BankFeeder`]. It may allocate and lock; it never holds
//!   a lock while it waits for room in a ring.
//! - **Main thread (and the editor):** [`service::SpeechService`]: commands through an `mpsc`
//!   channel, status through atomics and a mutex only the editor reads.
//!
//! Rings are made in `activate` ([`service::SpeechService::attach`]), sized for its sample rate
//! and block size, and replaced on every activation.

pub mod bank;
pub mod calibration;
mod clip_render;
pub mod control;
mod fault_injection;
pub mod render_clock;
pub mod resample;
pub mod service;
pub mod start_gate;
pub mod stream;
pub mod timing_log;
mod voice_set;
pub mod voicing;
mod worker;

//! Tells an offline render (a bounce) from live playback when the host does not say which.
//!
//! Some hosts export without ever announcing an offline render (neither the CLAP render
//! extension nor VST3's process mode), and then call `process()` as fast as they can. A live
//! host cannot: it delivers audio at the sound card's pace. So the clock compares the audio the
//! host asked for with the wall-clock time it took.
//!
//! # The rule
//! Over a window of at least [`WINDOW_SECONDS`] of audio (and at least four of the host's
//! largest blocks, so a live host filling a few buffers back to back is never mistaken), the
//! host renders offline when the wall time is under [`FAST_RATIO`] of the audio's length. Time
//! the plugin itself spent waiting for speech is left out. The verdict holds until the next
//! window says otherwise; a pause between calls of more than a second starts a new window.
//!
//! # When the host's word is not taken
//! A host that announces an offline render is believed, unless the last window ran at real
//! time (wall time at least [`PACED_RATIO`] of the audio, waits left out): then it is live
//! whatever the host said. nice-plug's VST3 wrapper hands the plugin the process mode of the
//! *previous* `setupProcessing` call, so after an export a DAW's return to live playback can
//! arrive labelled "offline"; a live audio thread must never wait for speech.
//!
//! # Limits
//! A render that runs at more than half real time is taken for live playback (the phrase bank
//! is usually ready by then anyway), and the first window of a render is played as live: a
//! phrase due in its first second that is not in memory yet is streamed, not waited for.
//!
//! Audio thread only: one monotonic clock read per block, no allocation.

use std::time::{Duration, Instant};

/// The shortest stretch of audio a verdict is made on, seconds.
pub const WINDOW_SECONDS: f64 = 1.0;

/// A host faster than this share of real time is rendering offline.
pub const FAST_RATIO: f64 = 0.5;

/// A window whose wall time is at least this share of its audio ran at real time: live,
/// whatever the host announced.
pub const PACED_RATIO: f64 = 0.9;

/// Wall time between two calls after which a new window starts (the host stopped calling).
const GAP: Duration = Duration::from_secs(1);

/// The detector.
#[derive(Debug, Clone)]
pub struct RenderClock {
    /// The sample rate, Hz.
    sample_rate: f64,
    /// Audio in a window before a verdict, samples.
    window: u64,
    /// When the current window started, and the waits counted at its start.
    started: Option<(Instant, Duration)>,
    /// When the last block arrived.
    last: Option<Instant>,
    /// Samples in the current window.
    samples: u64,
    /// The last verdict.
    offline: bool,
    /// Whether the last window ran at real time.
    paced: bool,
}

impl RenderClock {
    /// A clock for a host at `sample_rate` with blocks of up to `max_block`.
    pub fn new(sample_rate: f32, max_block: usize) -> Self {
        let sample_rate = f64::from(sample_rate).max(1.0);
        let window = ((sample_rate * WINDOW_SECONDS) as u64).max(4 * max_block as u64);
        Self {
            sample_rate,
            window,
            started: None,
            last: None,
            samples: 0,
            offline: false,
            paced: false,
        }
    }

    /// Counts a block of `frames` arriving at `now`; `waited` is the total time the plugin has
    /// spent waiting for speech so far. Returns whether the host is rendering offline.
    pub fn tick(&mut self, now: Instant, frames: usize, waited: Duration) -> bool {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) > GAP)
        {
            self.started = None;
        }
        self.last = Some(now);
        let (start, waited_before) = *self.started.get_or_insert((now, waited));
        if self.samples >= self.window {
            let wall = now
                .saturating_duration_since(start)
                .saturating_sub(waited.saturating_sub(waited_before));
            let audio = self.samples as f64 / self.sample_rate;
            self.offline = wall.as_secs_f64() < audio * FAST_RATIO;
            self.paced = wall.as_secs_f64() >= audio * PACED_RATIO;
            self.started = Some((now, waited));
            self.samples = 0;
        }
        self.samples += frames as u64;
        self.offline
    }

    /// The last verdict.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// Whether to render as a bounce (waiting for speech), given whether the host announced
    /// an offline render: the clock's verdict, or the host's word unless the last window ran
    /// at real time.
    pub fn rendering(&self, announced_offline: bool) -> bool {
        self.offline || (announced_offline && !self.paced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `seconds` of 512-sample blocks at 48 kHz, each taking `pace` × its length.
    fn run(
        clock: &mut RenderClock,
        t: &mut Instant,
        seconds: f64,
        pace: f64,
        waited: Duration,
    ) -> bool {
        let block = 512;
        let blocks = (seconds * 48_000.0 / block as f64) as usize;
        let mut verdict = false;
        for _ in 0..blocks {
            verdict = clock.tick(*t, block, waited);
            *t += Duration::from_secs_f64(block as f64 / 48_000.0 * pace);
        }
        verdict
    }

    #[test]
    fn fast_calls_are_a_render_and_real_time_calls_are_live() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 512);
        assert!(
            !run(&mut clock, &mut t, 0.9, 0.1, Duration::ZERO),
            "no verdict before a window"
        );
        assert!(
            run(&mut clock, &mut t, 1.5, 0.1, Duration::ZERO),
            "ten times real time"
        );
        assert!(
            !run(&mut clock, &mut t, 2.5, 1.0, Duration::ZERO),
            "back to real time"
        );
        assert!(
            !run(&mut clock, &mut t, 3.0, 0.6, Duration::ZERO),
            "0.6x: taken for live"
        );
    }

    #[test]
    fn a_live_host_filling_buffers_back_to_back_stays_live() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 8192);
        // Four buffers at once, then real time.
        for _ in 0..4 {
            clock.tick(t, 8192, Duration::ZERO);
        }
        assert!(!run(&mut clock, &mut t, 3.0, 1.0, Duration::ZERO));
    }

    #[test]
    fn an_announced_render_is_believed_until_the_calls_come_at_real_time() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 512);
        assert!(clock.rendering(true), "believed before any window");
        assert!(!clock.rendering(false));
        // An announced render slower than the detector's threshold stays a render.
        run(&mut clock, &mut t, 2.5, 0.7, Duration::ZERO);
        assert!(clock.rendering(true), "0.7x real time, announced: a render");
        assert!(!clock.rendering(false), "0.7x real time, unannounced: live");
        // Calls at the sound card's pace: live, whatever the host says.
        run(&mut clock, &mut t, 2.5, 1.0, Duration::ZERO);
        assert!(!clock.rendering(true), "real time, announced: live");
        // Fast again: a render, announced or not.
        run(&mut clock, &mut t, 2.5, 0.1, Duration::ZERO);
        assert!(clock.rendering(true) && clock.rendering(false));
    }

    #[test]
    fn the_plugins_own_waits_do_not_make_a_render_look_live() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 512);
        let mut waited = Duration::ZERO;
        let mut verdict = false;
        for _ in 0..300 {
            verdict = clock.tick(t, 512, waited);
            // Each block costs 1 ms of work plus 20 ms spent waiting for speech.
            t += Duration::from_millis(21);
            waited += Duration::from_millis(20);
        }
        assert!(verdict);
    }
}

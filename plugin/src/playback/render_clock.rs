//! Tells an offline render (a bounce) from live playback when the host does not say which.
//!
//! Some hosts export without ever announcing an offline render (neither the CLAP render
//! extension nor VST3's process mode), and then call `process()` as fast as they can, or as
//! fast as a busy machine lets them. A live host cannot get ahead of the sound card by more than
//! the few buffers it queues. So the clock keeps the *lead*: the audio the host has asked for
//! minus the wall-clock time it took, never below zero.
//!
//! # The rule
//! The host renders offline once the lead passes [`LEAD_SECONDS`] (and four of the host's
//! largest blocks, so a live host filling a few buffers back to back is never mistaken). A
//! render at a tenth of real time is recognised after about 0.55 s of audio, one at 0.7 of real
//! time after about 1.7 s: what counts is how far ahead the host got, not how fast it was in
//! any one stretch, so a render slowed by a busy machine (the speech thread itself competes for
//! the same cores) is still recognised. Time the plugin itself spent waiting for speech is left
//! out, and so is a pause between calls of more than a second (the host stopped calling).
//!
//! The verdict holds until a window of at least [`WINDOW_SECONDS`] of audio (and four of the
//! largest blocks) runs at real time: wall time at least [`PACED_RATIO`] of the audio, waits
//! left out. Then the host is live and the lead starts again from zero.
//!
//! # When the host's word is not taken
//! A host that announces an offline render is believed, unless the last window ran at real
//! time: then it is live whatever the host said. nice-plug's VST3 wrapper hands the plugin the
//! process mode of the *previous* `setupProcessing` call, so after an export a DAW's return to
//! live playback can arrive labelled "offline"; a live audio thread must never wait for speech.
//!
//! # Limits
//! A render that never gets half a second ahead of real time is taken for live playback, and so
//! is the start of any render until it has: a phrase due in a render's first half second that
//! is not in memory yet is streamed, not waited for.
//!
//! Audio thread only: one monotonic clock read per block, no allocation.

use std::time::{Duration, Instant};

/// How far ahead of real time a host must get to be rendering offline, seconds.
pub const LEAD_SECONDS: f64 = 0.5;

/// The shortest stretch of audio a return to live playback is judged on, seconds.
pub const WINDOW_SECONDS: f64 = 1.0;

/// A window whose wall time is at least this share of its audio ran at real time: live,
/// whatever the host announced.
pub const PACED_RATIO: f64 = 0.9;

/// Wall time between two calls after which the host counts as having stopped calling.
const GAP: Duration = Duration::from_secs(1);

/// The detector.
#[derive(Debug, Clone)]
pub struct RenderClock {
    /// The sample rate, Hz.
    sample_rate: f64,
    /// The lead past which the host renders offline, seconds.
    lead_needed: f64,
    /// Audio in a window before it is judged, samples.
    window: u64,
    /// When the last block arrived, and the waits counted then.
    last: Option<(Instant, Duration)>,
    /// Audio asked for less wall time taken, seconds (never below zero).
    lead: f64,
    /// Samples and counted wall time in the current window.
    window_samples: u64,
    window_wall: f64,
    /// The verdict.
    offline: bool,
    /// Whether the last window ran at real time.
    paced: bool,
}

impl RenderClock {
    /// A clock for a host at `sample_rate` with blocks of up to `max_block`.
    pub fn new(sample_rate: f32, max_block: usize) -> Self {
        let sample_rate = f64::from(sample_rate).max(1.0);
        let blocks = 4.0 * max_block as f64;
        Self {
            sample_rate,
            lead_needed: LEAD_SECONDS.max(blocks / sample_rate),
            window: ((sample_rate * WINDOW_SECONDS) as u64).max(4 * max_block as u64),
            last: None,
            lead: 0.0,
            window_samples: 0,
            window_wall: 0.0,
            offline: false,
            paced: false,
        }
    }

    /// Counts a block of `frames` arriving at `now`; `waited` is the total time the plugin has
    /// spent waiting for speech so far. Returns whether the host is rendering offline.
    pub fn tick(&mut self, now: Instant, frames: usize, waited: Duration) -> bool {
        if let Some((last, waited_then)) = self.last {
            let between = now.saturating_duration_since(last);
            if between <= GAP {
                // The time since the last call, less what the plugin itself spent waiting in it.
                let wall = between
                    .saturating_sub(waited.saturating_sub(waited_then))
                    .as_secs_f64();
                self.lead = (self.lead - wall).max(0.0);
                self.window_wall += wall;
            }
        }
        self.last = Some((now, waited));
        if self.window_samples >= self.window {
            let audio = self.window_samples as f64 / self.sample_rate;
            self.paced = self.window_wall >= audio * PACED_RATIO;
            if self.paced {
                self.lead = 0.0;
                self.offline = false;
            }
            self.window_samples = 0;
            self.window_wall = 0.0;
        }
        self.lead += frames as f64 / self.sample_rate;
        self.window_samples += frames as u64;
        if self.lead > self.lead_needed {
            self.offline = true;
        }
        self.offline
    }

    /// The verdict.
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
            !run(&mut clock, &mut t, 0.5, 0.1, Duration::ZERO),
            "0.45 s ahead: not yet"
        );
        assert!(
            run(&mut clock, &mut t, 0.1, 0.1, Duration::ZERO),
            "ten times real time, 0.54 s ahead"
        );
        assert!(
            run(&mut clock, &mut t, 0.9, 1.0, Duration::ZERO),
            "the verdict holds until a whole window runs at real time"
        );
        assert!(
            !run(&mut clock, &mut t, 1.5, 1.0, Duration::ZERO),
            "back to real time"
        );
        assert!(
            !run(&mut clock, &mut t, 10.0, 1.0, Duration::ZERO),
            "real time stays live however long it lasts"
        );
    }

    #[test]
    fn a_render_slowed_by_a_busy_machine_is_still_recognised() {
        for (pace, by) in [(0.5, 1.1), (0.7, 1.8), (0.85, 3.5)] {
            let mut t = Instant::now();
            let mut clock = RenderClock::new(48_000.0, 512);
            assert!(
                run(&mut clock, &mut t, by, pace, Duration::ZERO),
                "{pace}x real time: a render after {by} s"
            );
        }
    }

    #[test]
    fn a_live_host_filling_buffers_back_to_back_stays_live() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 8192);
        // Four buffers at once (0.68 s), then real time.
        for _ in 0..4 {
            assert!(!clock.tick(t, 8192, Duration::ZERO));
        }
        assert!(!run(&mut clock, &mut t, 3.0, 1.0, Duration::ZERO));
        // And again later, with the host a little behind in between.
        assert!(!run(&mut clock, &mut t, 1.0, 1.02, Duration::ZERO));
        for _ in 0..4 {
            assert!(!clock.tick(t, 8192, Duration::ZERO));
        }
        assert!(!run(&mut clock, &mut t, 3.0, 1.0, Duration::ZERO));
    }

    #[test]
    fn a_host_that_stops_calling_is_not_judged_by_the_pause() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 512);
        assert!(run(&mut clock, &mut t, 1.0, 0.1, Duration::ZERO));
        // A five-second pause, then fast again: still a render, and the pause made it no
        // closer to live.
        t += Duration::from_secs(5);
        assert!(run(&mut clock, &mut t, 0.2, 0.1, Duration::ZERO));
    }

    #[test]
    fn an_announced_render_is_believed_until_the_calls_come_at_real_time() {
        let mut t = Instant::now();
        let mut clock = RenderClock::new(48_000.0, 512);
        assert!(clock.rendering(true), "believed before any window");
        assert!(!clock.rendering(false));
        // An announced render slower than real time stays a render.
        run(&mut clock, &mut t, 2.5, 1.2, Duration::ZERO);
        assert!(
            !clock.rendering(false),
            "slower than real time, unannounced: live"
        );
        assert!(
            !clock.rendering(true),
            "slower than real time reads as paced: live whatever the host says"
        );
        let mut clock = RenderClock::new(48_000.0, 512);
        run(&mut clock, &mut t, 0.3, 0.95, Duration::ZERO);
        assert!(clock.rendering(true), "no window yet: the host's word");
        // Calls at the sound card's pace: live, whatever the host says.
        run(&mut clock, &mut t, 2.5, 1.0, Duration::ZERO);
        assert!(!clock.rendering(true), "real time, announced: live");
        // Fast again: a render, announced or not.
        run(&mut clock, &mut t, 1.0, 0.1, Duration::ZERO);
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

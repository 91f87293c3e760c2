//! When a phrase may start playing: as soon as its first decoder window is ready, unless the
//! speech thread is running so slowly (a busy machine, a big voice) that a later window would
//! not be ready before the audio ahead of it has played. Then the start waits for more audio,
//! so the phrase plays without gaps, a little later, instead of starting at once and stuttering.
//!
//! This is the streaming player's start-up buffer, sized from measurement: each window comes
//! with the time it took to decode per second of audio decoded (the real-time factor). The
//! slowest rate seen in this phrase and the one before predicts how long the next windows will
//! take: on a virtual machine whose neighbours steal CPU, the rate swings 2× from one window to
//! the next, and the last one alone underestimates. The windows' sizes are fixed
//! ([`window_frames`]), so the gate checks every coming window until they reach their largest
//! size; from there on each adds more audio than it costs whenever the machine is faster than
//! real time with the margin. Slower than that, no start-up buffer short of the whole phrase
//! helps.

use crate::tts::voice::schedule::{MAX_WINDOW_FRAMES, window_frames};

/// Latent frames to samples in every Piper voice (the decoder's hop).
const SAMPLES_PER_FRAME: f64 = crate::tts::voice::schedule::SAMPLES_PER_FRAME as f64;

/// Headroom over the predicted decoding time. On the reference machine (2 cores, CPU stolen by
/// neighbours) the rate measured on one window ranged 0.13–0.45, and rose 1.9× within one phrase
/// (0.15 to 0.29, which underran at a margin of 1.5).
const MARGIN: f64 = 2.0;

/// Decoding real-time factor assumed before any window was measured (the default voice decodes
/// at about 0.13 with one thread on the reference machine). Every synthesised window brings a measurement, so
/// this only matters for audio that was not synthesised now.
pub const DEFAULT_RTF: f64 = 0.15;

/// Decides when a phrase's held audio may start playing.
#[derive(Debug, Clone)]
pub struct StartGate {
    /// Seconds of audio per latent frame at the voice's rate.
    frame_secs: f64,
    /// What decoding a window's context costs, in latent frames of its own.
    context: f64,
    /// Synthesis seconds per second of audio decoded, the slowest of the last phrase.
    prior: Option<f64>,
    /// The slowest rate measured on a window of this phrase.
    worst: Option<f64>,
    /// Audio held back so far, seconds.
    held: f64,
    open: bool,
}

impl StartGate {
    /// A closed gate for a voice at `voice_rate` Hz whose windows' context costs as much to
    /// decode as `context` latent frames of their own (`Voice::window_context_cost`),
    /// expecting windows to decode at `rtf` (the last phrase's slowest) or slower.
    pub fn new(voice_rate: u32, context: f64, rtf: Option<f64>) -> Self {
        Self {
            frame_secs: SAMPLES_PER_FRAME / f64::from(voice_rate.max(1)),
            context: if context.is_finite() {
                context.max(0.0)
            } else {
                0.0
            },
            prior: rtf.filter(|r| r.is_finite() && *r > 0.0),
            worst: None,
            held: 0.0,
            open: false,
        }
    }

    /// Notes a window of `audio_secs`, window `index` of its phrase's schedule, decoded at `rtf`
    /// seconds per second of audio (`None`: audio that was not synthesised now). Returns whether
    /// the phrase may play now; once open, the gate stays open.
    pub fn window(&mut self, audio_secs: f64, index: usize, rtf: Option<f64>) -> bool {
        if let Some(rtf) = rtf.filter(|r| r.is_finite() && *r > 0.0) {
            self.worst = Some(self.worst.map_or(rtf, |w| w.max(rtf)));
        }
        if !self.open {
            self.held += audio_secs.max(0.0);
            self.open = self.on_time(index + 1);
        }
        self.open
    }

    /// Whether, if the held audio started playing now, every window from `next` on would be
    /// decoded (with the margin) before the audio ahead of it has played.
    fn on_time(&self, next: usize) -> bool {
        let rtf = self.rate();
        let cost = |frames: f64| MARGIN * rtf * (frames + self.context) * self.frame_secs;
        let mut ahead = self.held;
        let mut busy = 0.0;
        for index in next.. {
            let frames = window_frames(index);
            busy += cost(frames as f64);
            if busy > ahead {
                return false;
            }
            ahead += frames as f64 * self.frame_secs;
            if frames == MAX_WINDOW_FRAMES {
                break;
            }
        }
        // Every later window is the largest: each keeps the lead if it costs less than it plays.
        cost(MAX_WINDOW_FRAMES as f64) <= MAX_WINDOW_FRAMES as f64 * self.frame_secs
    }

    /// The rate windows are expected to decode at: the slowest of the last phrase and this
    /// one's windows so far.
    fn rate(&self) -> f64 {
        match (self.prior, self.worst) {
            (None, None) => DEFAULT_RTF,
            (prior, worst) => prior.unwrap_or(0.0).max(worst.unwrap_or(0.0)),
        }
    }

    /// Whether the phrase may play.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Audio held back so far, seconds.
    pub fn held(&self) -> f64 {
        self.held
    }

    /// The slowest decoding real-time factor measured on this phrase's windows, if any: the
    /// next phrase's first guess.
    pub fn measured_rtf(&self) -> Option<f64> {
        self.worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window's context cost when the decoder decodes it whole: 10 frames on each side.
    const WHOLE: f64 = 20.0;

    /// The default voice's with its context cropped (`tts::crop`, 1.94 frames on each side).
    const CROPPED: f64 = 3.88;

    /// Seconds of `frames` latent frames at 22.05 kHz.
    fn secs(frames: usize) -> f64 {
        frames as f64 * SAMPLES_PER_FRAME / 22050.0
    }

    /// Plays `windows` (frames kept, decoding real-time factor) against the clock from the
    /// moment the gate opens; returns whether any window arrived after the audio ahead of it
    /// had played. Decoding is `slowdown` × slower than measured, and a window's context
    /// costs `context` frames.
    fn underruns(windows: &[(usize, f64)], slowdown: f64, context: f64) -> bool {
        let mut gate = StartGate::new(22050, context, None);
        let (mut now, mut out, mut started) = (0.0, 0.0, None::<f64>);
        for (index, &(frames, rtf)) in windows.iter().enumerate() {
            let decoded = if index == 0 {
                frames as f64 + context / 2.0
            } else {
                frames as f64 + context
            };
            now += slowdown * rtf * decoded * SAMPLES_PER_FRAME / 22050.0;
            if let Some(start) = started
                && now > start + out
            {
                return true;
            }
            out += secs(frames);
            if gate.window(secs(frames), index, Some(rtf)) && started.is_none() {
                started = Some(now);
            }
        }
        false
    }

    #[test]
    fn a_fast_machine_starts_on_the_first_window() {
        let mut gate = StartGate::new(22050, WHOLE, None);
        assert!(gate.window(secs(16), 0, Some(0.13)));
        assert!(gate.is_open());
    }

    #[test]
    fn a_slow_machine_waits_until_no_window_can_be_late() {
        // At 0.25, with the margin of 2, a window costs half its decoded frames' worth of time.
        // The 32-frame window costs 26 (52 decoded), more than the 16 held. After it 48 are
        // held, and the 96-frame window costs 58: still waiting. After that one 144 are held,
        // against 74 for the 128-frame window, and from there each window costs less than it
        // plays (74 against 128).
        let mut gate = StartGate::new(22050, WHOLE, None);
        assert!(!gate.window(secs(16), 0, Some(0.25)));
        assert!(!gate.window(secs(32), 1, Some(0.25)));
        assert!(gate.window(secs(96), 2, Some(0.25)));
        assert!(gate.window(secs(128), 3, Some(10.0)), "open stays open");
    }

    #[test]
    fn a_little_slower_machine_starts_on_the_second_window() {
        // At 0.2, after 48 frames the 96- and 128-frame windows cost 46.4 and 59.2: 105.6 in
        // all against 144 played by the time the second is due.
        let mut gate = StartGate::new(22050, WHOLE, None);
        assert!(!gate.window(secs(16), 0, Some(0.2)));
        assert!(gate.window(secs(32), 1, Some(0.2)));
    }

    #[test]
    fn cheap_context_starts_a_slower_machine_on_the_first_window() {
        // At 0.17 the whole context makes the 32-frame window cost 17.7 frames' worth, more
        // than the 16 held. Cropped, the 32- and 96-frame windows cost 12.2 and 34.0: 46.2
        // against the 48 played by the time the second is due, and the 128-frame window fits
        // after 144.
        let mut whole = StartGate::new(22050, WHOLE, None);
        assert!(!whole.window(secs(16), 0, Some(0.17)));
        let mut cropped = StartGate::new(22050, CROPPED, None);
        assert!(cropped.window(secs(16), 0, Some(0.17)));
        // Past what cheap context saves, it still waits.
        let mut cropped = StartGate::new(22050, CROPPED, None);
        assert!(!cropped.window(secs(16), 0, Some(0.19)));
    }

    #[test]
    fn slower_than_real_time_with_the_margin_holds_the_whole_phrase() {
        let mut gate = StartGate::new(22050, WHOLE, None);
        for index in 0..20 {
            assert!(!gate.window(secs(window_frames(index)), index, Some(0.7)));
        }
    }

    #[test]
    fn the_gate_prevents_underruns_it_is_told_about() {
        // Every window measured at the same rate, one long sentence, decoding up to the margin
        // slower than measured: from fast machines to ones slower than real time.
        let sentence: Vec<usize> = (0..8).map(window_frames).collect();
        for rtf in [0.05, 0.13, 0.19, 0.25, 0.4, 0.6, 0.9, 1.5] {
            let windows: Vec<_> = sentence.iter().map(|&f| (f, rtf)).collect();
            for slowdown in [0.5, 1.0, MARGIN] {
                for context in [WHOLE, CROPPED, 0.0] {
                    assert!(
                        !underruns(&windows, slowdown, context),
                        "rtf {rtf} × {slowdown}, context {context}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_slowest_rate_of_the_phrase_and_the_one_before_predicts() {
        // A quiet machine after a quiet phrase starts at once.
        let mut gate = StartGate::new(22050, WHOLE, Some(0.1));
        assert!(gate.window(secs(16), 0, Some(0.1)));
        // After a busy phrase, a quiet first window does not open the gate by itself.
        let mut gate = StartGate::new(22050, WHOLE, Some(0.4));
        assert!(!gate.window(secs(16), 0, Some(0.1)));
        // A slow window counts for the rest of the phrase, and for the next one.
        let mut gate = StartGate::new(22050, WHOLE, Some(0.1));
        assert!(!gate.window(secs(16), 0, Some(0.3)));
        assert!(!gate.window(secs(32), 1, Some(0.1)));
        assert_eq!(gate.measured_rtf(), Some(0.3));
    }

    #[test]
    fn windows_after_the_start_are_still_measured_for_the_next_phrase() {
        let mut gate = StartGate::new(22050, WHOLE, Some(0.1));
        assert_eq!(gate.measured_rtf(), None, "a hint is not a measurement");
        assert!(gate.window(secs(16), 0, None), "a replay at the hint");
        assert!(gate.window(secs(32), 1, Some(0.5)));
        assert_eq!(gate.measured_rtf(), Some(0.5));
    }

    #[test]
    fn a_bad_hint_or_measurement_falls_back() {
        for hint in [None, Some(f64::NAN), Some(0.0), Some(-1.0)] {
            let mut gate = StartGate::new(22050, WHOLE, hint);
            assert_eq!(gate.rate(), DEFAULT_RTF);
            gate.window(secs(16), 0, hint);
            assert_eq!(gate.rate(), DEFAULT_RTF);
        }
    }
}

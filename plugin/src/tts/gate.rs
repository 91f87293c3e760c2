//! When a phrase may start playing: as soon as its first decoder window is ready, unless the
//! speech thread is running so slowly (a busy machine, a big voice) that the next window would
//! not be ready before the first has played. Then the start waits for more audio, so the phrase
//! plays without gaps, a little later, instead of starting at once and stuttering.
//!
//! This is the streaming player's start-up buffer, sized from measurement: the time each
//! window took to synthesise over the audio it held (the real-time factor) predicts how long
//! the next, larger one will take. Windows grow about 4× up to a cap, so one window of
//! look-ahead is enough whenever the machine is at least about three times faster than real
//! time; slower than real time, no start-up buffer short of the whole phrase helps.

use super::onnx::{MAX_WINDOW_FRAMES, WINDOW_CONTEXT_FRAMES};

/// Latent frames to samples in every Piper voice (the decoder's hop).
const SAMPLES_PER_FRAME: f64 = 256.0;

/// Headroom over the predicted time: predictions come from one window each.
const MARGIN: f64 = 1.25;

/// Decoding real-time factor assumed before any window was measured (this machine's joe voice
/// decodes at about 0.1 with one thread, so a first phrase starts on its first window unless
/// the machine is slower).
pub const DEFAULT_RTF: f64 = 0.15;

/// Decides when a phrase's held audio may start playing.
#[derive(Debug, Clone)]
pub struct StartGate {
    /// Seconds of audio per latent frame at the voice's rate.
    frame_secs: f64,
    /// Synthesis seconds per second of audio, as last measured (or assumed).
    rtf: f64,
    /// Whether `rtf` was measured on a window of this phrase.
    measured: bool,
    /// Audio held back so far, seconds.
    held: f64,
    /// The last window's audio, seconds.
    last: f64,
    open: bool,
}

impl StartGate {
    /// A closed gate for a voice at `voice_rate` Hz, expecting `rtf` until it measures one.
    pub fn new(voice_rate: u32, rtf: Option<f64>) -> Self {
        let rtf = rtf
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(DEFAULT_RTF);
        Self {
            frame_secs: SAMPLES_PER_FRAME / f64::from(voice_rate.max(1)),
            rtf,
            measured: false,
            held: 0.0,
            last: 0.0,
            open: false,
        }
    }

    /// Notes a window of `audio_secs` that took `took_secs` to synthesise (`took_secs` of the
    /// first window includes the text front end, so it is not used as a rate). Returns whether
    /// the phrase may play now; once open, the gate stays open.
    pub fn window(&mut self, audio_secs: f64, took_secs: Option<f64>) -> bool {
        if let Some(took) = took_secs
            && audio_secs > 0.0
            && took.is_finite()
        {
            self.rtf = took / audio_secs;
            self.measured = true;
        }
        if self.open {
            return true;
        }
        self.held += audio_secs;
        self.last = audio_secs;
        let max_window = MAX_WINDOW_FRAMES as f64 * self.frame_secs;
        let context = 2.0 * WINDOW_CONTEXT_FRAMES as f64 * self.frame_secs;
        let next = (4.0 * self.last).min(max_window) + context;
        self.open = self.held >= MARGIN * self.rtf * next;
        self.open
    }

    /// Whether the phrase may play.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Audio held back so far, seconds.
    pub fn held(&self) -> f64 {
        self.held
    }

    /// The decoding real-time factor measured on this phrase's last window, if any: the next
    /// phrase's first guess.
    pub fn measured_rtf(&self) -> Option<f64> {
        self.measured.then_some(self.rtf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds of `frames` latent frames at 22.05 kHz.
    fn secs(frames: usize) -> f64 {
        frames as f64 * 256.0 / 22050.0
    }

    #[test]
    fn a_fast_machine_starts_on_the_first_window() {
        let mut gate = StartGate::new(22050, Some(0.1));
        assert!(gate.window(secs(16), None));
        assert!(gate.is_open());
    }

    #[test]
    fn a_slow_machine_waits_until_the_next_window_cannot_be_late() {
        // At 0.3 × real time, the 64-frame window (84 with context) takes 25 frames' worth of
        // time (31.5 with the margin): more than the 16 frames held. That window measures
        // 0.39 (its context counts), so the 256-frame one (276 with context) needs 136 frames:
        // more than the 80 held. After it, 336 are held: enough.
        let mut gate = StartGate::new(22050, Some(0.3));
        assert!(!gate.window(secs(16), None));
        assert!(!gate.window(secs(64), Some(0.3 * secs(84))));
        assert!(gate.window(secs(256), Some(0.3 * secs(276))));
        assert!(gate.window(secs(256), Some(10.0)), "open stays open");
    }

    #[test]
    fn the_rate_measured_on_a_window_replaces_the_guess() {
        let mut gate = StartGate::new(22050, Some(0.9));
        assert!(!gate.window(secs(16), None));
        // That window went at 0.05 × real time: 16 + 64 frames cover the next 276 easily.
        assert!(gate.window(secs(64), Some(0.05 * secs(64))));
    }

    #[test]
    fn windows_after_the_start_are_still_measured_for_the_next_phrase() {
        let mut gate = StartGate::new(22050, Some(0.1));
        assert_eq!(gate.measured_rtf(), None, "a hint is not a measurement");
        assert!(gate.window(secs(16), None));
        assert!(gate.window(secs(64), Some(0.5 * secs(64))));
        assert_eq!(gate.measured_rtf(), Some(0.5));
    }

    #[test]
    fn a_bad_hint_falls_back_to_the_default() {
        for hint in [None, Some(f64::NAN), Some(0.0), Some(-1.0)] {
            let gate = StartGate::new(22050, hint);
            assert_eq!(gate.rtf, DEFAULT_RTF);
        }
    }
}

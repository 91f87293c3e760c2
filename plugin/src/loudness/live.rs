//! The voice's loudness as it plays, for the editor: short-term loudness (ITU-R BS.1770's
//! K-weighted mean square over the last 3 s, ungated, as EBU Tech 3341 defines it) and the
//! true peak over the same 3 s (4× oversampled under 96 kHz, as [`super::true_peak`]).
//! Published every 100 ms into atomics the editor reads.
//!
//! Thread model: the audio thread. All state is fixed-size and made in [`LiveMeter::new`];
//! [`LiveMeter::process`] never allocates, locks or blocks.

use super::meter::{Section, lufs};
use super::true_peak::{TAPS, factor, taps};
use atomic_float::AtomicF32;
use std::sync::atomic::Ordering;

/// 100 ms steps in the 3 s window.
const STEPS: usize = 30;
/// The most oversampling phases (4× under 96 kHz).
const MAX_PHASES: usize = 4;

/// What the meter publishes: short-term loudness (LUFS) and true peak (dBTP), −∞ in silence.
#[derive(Debug)]
pub struct LiveLoudness {
    /// Short-term loudness, LUFS.
    pub short_term: AtomicF32,
    /// The true peak over the last 3 s, dBTP.
    pub true_peak: AtomicF32,
}

impl Default for LiveLoudness {
    fn default() -> Self {
        Self {
            short_term: AtomicF32::new(f32::NEG_INFINITY),
            true_peak: AtomicF32::new(f32::NEG_INFINITY),
        }
    }
}

/// The meter of one mono signal. Audio-thread state.
#[derive(Debug, Clone)]
pub struct LiveMeter {
    shelf: Section,
    high_pass: Section,
    shelf_state: [f64; 4],
    high_pass_state: [f64; 4],
    /// The interpolator's phases past the sample (phase 0, the sample itself, is not needed).
    phases: [[f64; TAPS]; MAX_PHASES],
    phase_count: usize,
    /// The last `TAPS` samples, twice over (so the window from `next` is one contiguous run),
    /// oldest first at `next`.
    history: [f64; 2 * TAPS],
    next: usize,
    /// Samples in a 100 ms step.
    step_len: usize,
    /// The current step's K-weighted sum of squares, true peak and samples so far.
    sum: f64,
    peak: f64,
    count: usize,
    /// The last steps' sums and peaks.
    sums: [f64; STEPS],
    peaks: [f64; STEPS],
    /// Steps filled (at most `STEPS`) and where the next goes.
    filled: usize,
    at: usize,
}

impl LiveMeter {
    /// A meter for a signal at `rate` Hz.
    pub fn new(rate: f32) -> Self {
        let rate_f = f64::from(rate.max(1.0));
        let count = factor(rate_f as u32).min(MAX_PHASES);
        let mut phases = [[0.0; TAPS]; MAX_PHASES];
        for (p, phase) in phases.iter_mut().enumerate().take(count).skip(1) {
            *phase = taps(p as f64 / count as f64);
        }
        Self {
            shelf: Section::shelf(rate_f),
            high_pass: Section::high_pass(rate_f),
            shelf_state: [0.0; 4],
            high_pass_state: [0.0; 4],
            phases,
            phase_count: count,
            history: [0.0; 2 * TAPS],
            next: 0,
            step_len: ((rate_f / 10.0).round() as usize).max(1),
            sum: 0.0,
            peak: 0.0,
            count: 0,
            sums: [0.0; STEPS],
            peaks: [0.0; STEPS],
            filled: 0,
            at: 0,
        }
    }

    /// Forgets everything metered (the coefficients stay).
    ///
    /// # Realtime safety
    /// No allocation.
    pub fn reset(&mut self) {
        self.shelf_state = [0.0; 4];
        self.high_pass_state = [0.0; 4];
        self.history = [0.0; 2 * TAPS];
        self.next = 0;
        self.sum = 0.0;
        self.peak = 0.0;
        self.count = 0;
        self.sums = [0.0; STEPS];
        self.peaks = [0.0; STEPS];
        self.filled = 0;
        self.at = 0;
    }

    /// Meters `x`, publishing into `out` at the end of each 100 ms step.
    ///
    /// # Realtime safety
    /// No allocation, no lock; about 60 multiply-adds a sample.
    pub fn process(&mut self, x: &[f32], out: &LiveLoudness) {
        for &v in x {
            let v = if v.is_finite() { f64::from(v) } else { 0.0 };
            let k = self.shelf.step(&mut self.shelf_state, v);
            let k = self.high_pass.step(&mut self.high_pass_state, k);
            // Flushed to zero: a decaying filter tail must not go subnormal.
            let k = if k.abs() < 1e-30 { 0.0 } else { k };
            self.sum += k * k;
            self.history[self.next] = v;
            self.history[self.next + TAPS] = v;
            self.next = if self.next + 1 == TAPS {
                0
            } else {
                self.next + 1
            };
            self.peak = self.peak.max(self.between());
            self.count += 1;
            if self.count == self.step_len {
                self.end_step(out);
            }
        }
    }

    /// The largest absolute value at the history's middle sample and the points after it.
    fn between(&self) -> f64 {
        let window = &self.history[self.next..self.next + TAPS];
        // The window's sample n is at position TAPS/2 − 1 from the oldest.
        let mut peak = window[TAPS / 2 - 1].abs();
        for phase in &self.phases[1..self.phase_count] {
            let v: f64 = phase.iter().zip(window).map(|(t, x)| t * x).sum();
            peak = peak.max(v.abs());
        }
        peak
    }

    fn end_step(&mut self, out: &LiveLoudness) {
        self.sums[self.at] = self.sum;
        self.peaks[self.at] = self.peak;
        self.at = (self.at + 1) % STEPS;
        self.filled = (self.filled + 1).min(STEPS);
        self.sum = 0.0;
        self.peak = 0.0;
        self.count = 0;
        let power: f64 =
            self.sums[..self.filled].iter().sum::<f64>() / (self.filled * self.step_len) as f64;
        let short_term = if power > 0.0 {
            lufs(power) as f32
        } else {
            f32::NEG_INFINITY
        };
        let peak = self.peaks[..self.filled]
            .iter()
            .fold(0.0f64, |a, &b| a.max(b));
        out.short_term.store(short_term, Ordering::Relaxed);
        out.true_peak
            .store((20.0 * peak.log10()) as f32, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loudness::meter::integrated;
    use crate::loudness::true_peak::true_peak;

    fn sine(rate: f32, hz: f32, amplitude: f32, seconds: f32) -> Vec<f32> {
        (0..(rate * seconds) as usize)
            .map(|n| amplitude * (std::f32::consts::TAU * hz * n as f32 / rate).sin())
            .collect()
    }

    #[test]
    fn a_sine_reads_as_the_standard_says_at_any_rate() {
        for rate in [22_050.0, 48_000.0, 96_000.0] {
            let meter_out = LiveLoudness::default();
            let mut meter = LiveMeter::new(rate);
            // A 997 Hz sine at 0.1 (−20 dBFS) in one channel reads −23.01 LUFS.
            for block in sine(rate, 997.0, 0.1, 4.0).chunks(512) {
                meter.process(block, &meter_out);
            }
            let st = meter_out.short_term.load(Ordering::Relaxed);
            assert!((st + 23.01).abs() < 0.05, "{rate} Hz: {st}");
        }
    }

    #[test]
    fn the_last_three_seconds_read_as_the_offline_meter_reads_them() {
        // Tones of several levels and pitches, 5 s, no silence (so the offline meter's gates
        // drop nothing and its mean over the 3 s is the short-term loudness).
        let rate = 24_000.0;
        let mut x = Vec::new();
        for (i, hz) in [180.0, 2_500.0, 440.0, 7_000.0, 300.0].iter().enumerate() {
            x.extend(sine(rate, *hz, 0.2 + 0.15 * i as f32, 1.0));
        }
        let meter_out = LiveLoudness::default();
        let mut meter = LiveMeter::new(rate);
        for block in x.chunks(37) {
            meter.process(block, &meter_out);
        }
        let window = x[x.len() - 72_000..].to_vec();
        let offline = integrated(std::slice::from_ref(&window), 24_000).expect("loud enough");
        let st = f64::from(meter_out.short_term.load(Ordering::Relaxed));
        assert!(
            (st - offline).abs() < 0.2,
            "short-term {st} vs offline {offline}"
        );
        let tp = f64::from(meter_out.true_peak.load(Ordering::Relaxed));
        let offline_tp = 20.0 * true_peak(&[window], 24_000).log10();
        assert!(
            (tp - offline_tp).abs() < 0.05,
            "true peak {tp} vs {offline_tp}"
        );
        // The window moves on: after 3.1 s of the quietest tone alone, only it is read.
        for block in sine(rate, 180.0, 0.2, 3.1).chunks(512) {
            meter.process(block, &meter_out);
        }
        let st = f64::from(meter_out.short_term.load(Ordering::Relaxed));
        let alone = integrated(&[sine(rate, 180.0, 0.2, 3.0)], 24_000).expect("heard");
        assert!((st - alone).abs() < 0.1, "{st} vs {alone}");
        let tp = meter_out.true_peak.load(Ordering::Relaxed);
        assert!((tp - 20.0 * 0.2f32.log10()).abs() < 0.05, "{tp}");
    }

    #[test]
    fn silence_and_garbage_read_as_silence() {
        let out = LiveLoudness::default();
        let mut meter = LiveMeter::new(48_000.0);
        meter.process(&[f32::NAN; 4_800], &out);
        meter.process(&[0.0; 4_800], &out);
        assert_eq!(out.short_term.load(Ordering::Relaxed), f32::NEG_INFINITY);
        assert_eq!(out.true_peak.load(Ordering::Relaxed), f32::NEG_INFINITY);
    }
}

//! A zero-latency peak limiter for the voice: the gain drops instantly to keep every sample at
//! or below the ceiling and recovers over the release time. Without look-ahead (the plugin
//! reports zero latency) a peak bends slightly, but nothing ever exceeds the ceiling.

use super::gain::{approach, db_to_gain};

/// The limiter. Audio-thread state.
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling: f32,
    gain: f32,
    release: f32,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            ceiling: db_to_gain(-1.0),
            gain: 1.0,
            release: 0.001,
        }
    }
}

impl Limiter {
    /// Sets the sample rate (release 50 ms).
    pub fn prepare(&mut self, sample_rate: f32) {
        self.release = 1.0 - (-1.0 / (0.050 * sample_rate.max(1.0)).max(1.0)).exp();
    }

    /// Sets the ceiling in dBFS.
    pub fn set(&mut self, ceiling_db: f32) {
        self.ceiling = db_to_gain(ceiling_db.min(0.0)).max(1e-3);
    }

    /// Back to unity gain.
    pub fn reset(&mut self) {
        self.gain = 1.0;
    }

    /// Limits `samples` in place.
    ///
    /// # Realtime safety
    /// No allocation.
    pub fn process(&mut self, samples: &mut [f32]) {
        // At rest with nothing over the ceiling (the usual case): nothing to do.
        if self.gain == 1.0 && super::finite_peak(samples) <= self.ceiling {
            return;
        }
        for x in samples.iter_mut() {
            self.gain = approach(self.gain, 1.0, self.release);
            let peak = x.abs();
            if peak * self.gain > self.ceiling {
                self.gain = self.ceiling / peak;
            }
            *x *= self.gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_exceeds_the_ceiling_and_quiet_signals_pass() {
        let mut l = Limiter::default();
        l.prepare(48_000.0);
        l.set(-1.0);
        let mut loud: Vec<f32> = (0..4800).map(|i| 2.0 * (i as f32 * 0.05).sin()).collect();
        l.process(&mut loud);
        let ceiling = db_to_gain(-1.0);
        assert!(loud.iter().all(|x| x.abs() <= ceiling * 1.000_001));
        l.reset();
        let mut quiet = vec![0.3f32; 100];
        l.process(&mut quiet);
        assert!(quiet.iter().all(|&x| (x - 0.3).abs() < 1e-6));
    }
}

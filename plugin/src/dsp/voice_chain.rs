//! The voice's processing before it meets the host signal: EQ → de-esser → compressor →
//! limiter. Each stage is bypassed bit for bit at its neutral setting (flat EQ, de-esser 0 dB,
//! ratio 1 with no makeup); the limiter's default ceiling (-1 dBFS) is above anything the voice
//! normally reaches.

use super::compressor::{Compressor, CompressorSettings};
use super::deesser::DeEsser;
use super::eq::{EqSettings, VoiceEq};
use super::limiter::Limiter;

/// Every setting of the chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceChainSettings {
    pub eq: EqSettings,
    /// De-esser depth, dB (0 = off).
    pub deess_db: f32,
    pub compressor: CompressorSettings,
    /// Limiter ceiling, dBFS.
    pub ceiling_db: f32,
}

impl Default for VoiceChainSettings {
    fn default() -> Self {
        Self {
            eq: EqSettings::default(),
            deess_db: 0.0,
            compressor: CompressorSettings::default(),
            ceiling_db: -1.0,
        }
    }
}

/// The chain. Audio-thread state.
#[derive(Debug, Clone, Default)]
pub struct VoiceChain {
    eq: VoiceEq,
    deesser: DeEsser,
    compressor: Compressor,
    limiter: Limiter,
}

impl VoiceChain {
    /// Sets the sample rate of every stage.
    pub fn prepare(&mut self, sample_rate: f32) {
        self.eq.prepare(sample_rate);
        self.deesser.prepare(sample_rate);
        self.compressor.prepare(sample_rate);
        self.limiter.prepare(sample_rate);
    }

    /// Clears every stage's state.
    pub fn reset(&mut self) {
        self.eq.reset();
        self.deesser.reset();
        self.compressor.reset();
        self.limiter.reset();
    }

    /// Applies settings (cheap when unchanged; call every block).
    pub fn set(&mut self, s: &VoiceChainSettings) {
        self.eq.set(s.eq);
        self.deesser.set(s.deess_db);
        self.compressor.set(s.compressor);
        self.limiter.set(s.ceiling_db);
    }

    /// The compressor's current gain reduction, dB (for the meters).
    pub fn compressor_reduction_db(&self) -> f32 {
        self.compressor.reduction_db()
    }

    /// Processes the voice in place.
    ///
    /// # Realtime safety
    /// No allocation.
    pub fn process(&mut self, voice: &mut [f32]) {
        self.eq.process(voice);
        self.deesser.process(voice);
        self.compressor.process(voice);
        self.limiter.process(voice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_leave_a_normal_voice_untouched() {
        let mut chain = VoiceChain::default();
        chain.prepare(48_000.0);
        chain.set(&VoiceChainSettings::default());
        let mut voice: Vec<f32> = (0..4800).map(|i| 0.6 * (i as f32 * 0.031).sin()).collect();
        let before = voice.clone();
        chain.process(&mut voice);
        assert_eq!(voice, before);
    }
}

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
    /// The de-esser's detector output for the current block, when it runs inside the EQ's
    /// loop. Sized in `prepare`; empty (and unused) before.
    detected: Vec<f32>,
    eq: VoiceEq,
    deesser: DeEsser,
    compressor: Compressor,
    limiter: Limiter,
}

impl VoiceChain {
    /// Sets the sample rate of every stage and sizes the scratch for blocks of `max_block`
    /// (longer blocks are processed in pieces). Allocates.
    pub fn prepare(&mut self, sample_rate: f32, max_block: usize) {
        self.detected.clear();
        // Whole control blocks per piece, so pieces do not cut them short.
        let piece = max_block
            .clamp(64, 4096)
            .next_multiple_of(super::CONTROL_BLOCK);
        self.detected.resize(piece, 0.0);
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
        if self.eq.is_active() && self.deesser.is_active() && !self.detected.is_empty() {
            // The de-esser's detector runs inside the EQ's loop.
            let piece = self.detected.len();
            for chunk in voice.chunks_mut(piece) {
                let detected = &mut self.detected[..chunk.len()];
                self.eq
                    .process_and_detect(chunk, self.deesser.detector_mut(), detected);
                self.deesser.process_detected(chunk, detected);
            }
        } else {
            self.eq.process(voice);
            self.deesser.process(voice);
        }
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
        chain.prepare(48_000.0, 512);
        chain.set(&VoiceChainSettings::default());
        let mut voice: Vec<f32> = (0..4800).map(|i| 0.6 * (i as f32 * 0.031).sin()).collect();
        let before = voice.clone();
        chain.process(&mut voice);
        assert_eq!(voice, before);
    }

    #[test]
    fn the_fused_eq_and_de_esser_equal_running_them_one_after_the_other() {
        // Through `black_box`, so both sides compute their coefficients at run time: in a
        // release build the compiler may fold cos/powf of constants on one side only, which
        // can differ from the run-time library in the last bit.
        let settings = std::hint::black_box(VoiceChainSettings {
            eq: EqSettings {
                low_db: -3.0,
                mid_db: 4.0,
                high_db: 6.0,
                ..EqSettings::default()
            },
            deess_db: 8.0,
            ..VoiceChainSettings::default()
        });
        let rate = std::hint::black_box(48_000.0);
        let mut chain = VoiceChain::default();
        chain.prepare(rate, 100); // pieces of 112: blocks of 1000 are cut
        chain.set(&settings);
        let (mut eq, mut deesser) = (VoiceEq::default(), DeEsser::default());
        eq.prepare(rate);
        eq.set(settings.eq);
        deesser.prepare(rate);
        deesser.set(settings.deess_db);
        for block in 0..5 {
            let mut voice: Vec<f32> = (0..1000)
                .map(|i| {
                    let t = (block * 1000 + i) as f32 / 48_000.0;
                    0.3 * (t * 1800.0).sin() + 0.2 * (t * 50_000.0).sin()
                })
                .collect();
            let mut expected = voice.clone();
            chain.process(&mut voice);
            for piece in expected.chunks_mut(112) {
                eq.process(piece);
                deesser.process(piece);
            }
            assert_eq!(voice, expected, "block {block}");
        }
    }
}

//! What several benches share: the engaged voice chain and test signals.

use orator::dsp::compressor::CompressorSettings;
use orator::dsp::eq::EqSettings;
use orator::dsp::voice_chain::VoiceChainSettings;

/// Every voice stage engaged: EQ −3/+2/+4 dB, de-esser 6 dB, compressor 4:1 at −24 dBFS with
/// 6 dB makeup, limiter at −3 dBFS.
pub fn engaged_voice_chain() -> VoiceChainSettings {
    VoiceChainSettings {
        eq: EqSettings {
            low_db: -3.0,
            mid_db: 2.0,
            high_db: 4.0,
            ..EqSettings::default()
        },
        deess_db: 6.0,
        compressor: CompressorSettings {
            threshold_db: -24.0,
            ratio: 4.0,
            makeup_db: 6.0,
            ..Default::default()
        },
        ceiling_db: -3.0,
    }
}

/// A voice-like test signal: a low tone with a buzzy high partial.
pub fn voice_like(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| 0.4 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 1.3).sin())
        .collect()
}

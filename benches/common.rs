//! What several benches share: the engaged voice chain, test signals and the demo render.
//! Each bench compiles this file as its own module and uses part of it.
#![allow(dead_code)]

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

/// The demo render `cargo xtask build` leaves (`target/orator-demo.wav`, real speech): its
/// channels and rate, or None (with the reason printed) before a build.
pub fn demo_render() -> Option<(Vec<Vec<f32>>, u32)> {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/orator-demo.wav");
    let Ok(mut reader) = hound::WavReader::open(&demo) else {
        eprintln!("no {}: run `cargo xtask build` first", demo.display());
        return None;
    };
    let spec = reader.spec();
    let Ok(all) = reader.samples::<f32>().collect::<Result<Vec<f32>, _>>() else {
        eprintln!("{} is not a float WAV", demo.display());
        return None;
    };
    let count = usize::from(spec.channels);
    let channels = (0..count)
        .map(|c| all.iter().skip(c).step_by(count).copied().collect())
        .collect();
    Some((channels, spec.sample_rate))
}

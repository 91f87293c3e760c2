//! Piper voices other than the default one, built here in Piper's format: a small VITS-shaped
//! model (phoneme embedding, a duration predictor whose rounded-up durations build the
//! alignment, latent noise, a HiFi-GAN decoder) with random weights, and its `.onnx.json`.
//! Each voice must load, split at the decoder and crop it as its structure needs, stream
//! windows equal to the whole model's decode, and speak, with word timings that add up to
//! its audio exactly (or, for a model whose durations are not rounded up where the front can
//! hand them on, without timings, saying so).
//!
//! The voices vary what real Piper voices vary: the sample rate (16 kHz "low", 22.05 kHz
//! "medium"/"high"), the decoder's kernels (a "high" voice's larger resblock kernels and
//! dilations reach further, so windows need more context), one speaker or several (the
//! speaker's embedding conditions the decoder too), and the espeak-ng language.

use orator::tts::engine::{Chunk, Engine};
use orator::tts::model::noise::make_repeatable;
use orator::tts::model::split::split_decoder;
use orator::tts::resources::Resources;
use orator::tts::voice::Voice;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

#[path = "support/synthetic_voice.rs"]
mod synthetic_voice;

use synthetic_voice::{MEDIUM, Shape};

fn resources() -> Resources {
    Resources::locate().expect("run `cargo xtask assets` first")
}

/// Writes `shape`'s voice into `dir`, with the default voice's phoneme map.
fn write_voice(shape: &Shape, dir: &Path) -> PathBuf {
    synthetic_voice::write_voice(shape, dir, &resources().default_voice())
}

fn speak_all(engine: &Engine, text: &str, speaker: Option<i64>) -> Vec<Chunk> {
    let mut settings = engine.voice.config.defaults;
    settings.speaker = speaker;
    let mut chunks = Vec::new();
    engine
        .speak(text, &settings, &mut |c| {
            chunks.push(c);
            ControlFlow::Continue(())
        })
        .expect("speak");
    chunks
}

/// Sentences joined back from their windows.
fn sentences(chunks: &[Chunk]) -> Vec<Vec<f32>> {
    let mut out: Vec<(usize, Vec<f32>)> = Vec::new();
    for chunk in chunks {
        match out.last_mut() {
            Some((sentence, samples)) if *sentence == chunk.sentence => {
                samples.extend_from_slice(&chunk.samples)
            }
            _ => out.push((chunk.sentence, chunk.samples.clone())),
        }
    }
    out.into_iter().map(|(_, s)| s).collect()
}

fn snr_db(reference: &[f32], test: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&x| f64::from(x).powi(2)).sum();
    let error: f64 = reference
        .iter()
        .zip(test)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    10.0 * (signal / error.max(1e-300)).log10()
}

/// Loads `shape`'s voice streaming and whole, speaks `text` with both, and checks what the
/// voice must do. Returns the streamed speech.
fn check(shape: &Shape, text: &str, speaker: Option<i64>) -> Vec<f32> {
    let dir = std::env::temp_dir().join(format!(
        "orator-synthetic-{}-{}",
        shape.name,
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = write_voice(shape, &dir);
    let r = resources();
    let bytes = std::fs::read(&path).expect("model");
    let rewritten = make_repeatable(&bytes).expect("the latent noise is found and made an input");
    let split = split_decoder(&rewritten.model);
    let voice = Voice::load(&path, &r.onnxruntime()).expect("the voice loads");
    assert_eq!(voice.config.sample_rate, shape.sample_rate);
    let split = split.expect("the decoder is found by structure");
    assert_eq!(
        split.cropping.hop as i64,
        shape.strides.iter().product::<i64>(),
        "{}: the hop",
        shape.name
    );
    assert!(
        !split.cropping.points.is_empty(),
        "{}: the decoder's windows are cropped",
        shape.name
    );
    assert!(voice.is_streaming(), "{}: it streams", shape.name);
    eprintln!(
        "{}: {} crop points, {} latent frames of context a side",
        shape.name,
        split.cropping.points.len(),
        split.cropping.context
    );
    let streaming = Engine::new(voice, r.espeak_data());
    let whole = Engine::new(
        Voice::load_whole(&path, &r.onnxruntime()).expect("the whole model loads"),
        r.espeak_data(),
    );
    let streamed_chunks = speak_all(&streaming, text, speaker);
    assert!(
        streamed_chunks
            .iter()
            .all(|c| c.sample_rate == shape.sample_rate)
    );
    let streamed = sentences(&streamed_chunks);
    let reference = sentences(&speak_all(&whole, text, speaker));
    assert_eq!(streamed.len(), reference.len(), "{}: sentences", shape.name);
    let mut lowest = f64::INFINITY;
    for (s, w) in streamed.iter().zip(&reference) {
        assert_eq!(s.len(), w.len(), "{}: a sentence's length", shape.name);
        assert_eq!(
            s.len() as i64 % shape.strides.iter().product::<i64>(),
            0,
            "{}: whole frames",
            shape.name
        );
        lowest = lowest.min(snr_db(w, s));
    }
    assert!(
        lowest >= 100.0,
        "{}: streamed windows against the whole model, lowest sentence {lowest:.1} dB",
        shape.name
    );
    // Timings: each sentence's first window carries them, and they add up to its audio.
    let gives_timings = shape.whole_durations == "Ceil";
    assert_eq!(
        streaming.voice.gives_timings(),
        gives_timings,
        "{}",
        shape.name
    );
    let mut words = 0;
    for chunk in &streamed_chunks {
        assert_eq!(
            chunk.timings.is_some(),
            gives_timings && chunk.first_of_group
        );
        words += chunk.timings.as_ref().map_or(0, |t| t.words.len());
    }
    if gives_timings {
        for (k, sentence) in streamed.iter().enumerate() {
            let timed = streamed_chunks
                .iter()
                .find(|c| c.sentence == k)
                .and_then(|c| c.timings.as_ref())
                .expect("a sentence's timings");
            assert_eq!(
                timed.length,
                sentence.len() as u64,
                "{}: sentence {k}'s durations add up to its audio",
                shape.name
            );
        }
        assert!(words > 0, "{}: spoken words", shape.name);
    }
    let all: Vec<f32> = streamed.concat();
    let rms = (all.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
    assert!(rms > 1e-3, "{}: the voice is silent", shape.name);
    eprintln!(
        "{}: {:.2} s of speech in {} sentences, {} windows; streamed against whole {lowest:.1} dB",
        shape.name,
        all.len() as f64 / f64::from(shape.sample_rate),
        streamed.len(),
        streamed_chunks.len()
    );
    std::fs::remove_dir_all(&dir).ok();
    all
}

/// Long enough for several windows per sentence.
const TEXT: &str = "When you finish the first part of the tutorial, save your work and close the \
                    editor. Then open the terminal and type the command exactly as shown.";

#[test]
fn a_16_khz_low_voice_streams_exactly() {
    check(
        &Shape {
            name: "low-16k",
            sample_rate: 16_000,
            ..MEDIUM
        },
        TEXT,
        None,
    );
}

#[test]
fn a_22_khz_high_voice_with_large_kernels_streams_exactly() {
    check(
        &Shape {
            name: "high-22k",
            resblocks: &[(3, 1), (7, 3), (11, 5)],
            ..MEDIUM
        },
        TEXT,
        None,
    );
}

#[test]
fn a_non_english_voice_speaks_its_language() {
    check(
        &Shape {
            name: "german-22k",
            espeak_voice: "de",
            ..MEDIUM
        },
        "Wenn du den ersten Teil fertig hast, speichere deine Arbeit und schließe den Editor.",
        None,
    );
}

#[test]
fn a_multi_speaker_voice_streams_exactly_with_each_speaker() {
    let shape = Shape {
        name: "multi-22k",
        speakers: 4,
        ..MEDIUM
    };
    let first = check(&shape, TEXT, Some(0));
    let third = check(&shape, TEXT, Some(2));
    assert_eq!(
        first.len(),
        third.len(),
        "durations do not depend on the speaker"
    );
    assert!(
        snr_db(&first, &third) < 20.0,
        "another speaker sounds different"
    );
}

/// Every published Piper voice has a hop of 256 samples a latent frame; the split and the
/// windows follow whatever the decoder's strides give.
#[test]
fn a_voice_with_another_hop_streams_exactly() {
    check(
        &Shape {
            name: "hop-512",
            strides: [8, 8, 2, 4],
            ..MEDIUM
        },
        TEXT,
        None,
    );
}

/// A model whose durations are made whole by something other than Piper's `Ceil` hides them
/// from the front's outputs: the voice speaks as before, without timings, and says so.
#[test]
fn a_voice_without_durations_speaks_without_timings() {
    check(
        &Shape {
            name: "no-durations",
            whole_durations: "Round",
            ..MEDIUM
        },
        TEXT,
        None,
    );
}

//! What word timings cost: the time to look up the written words' phonemes and to match the
//! phrase's phonemes to them, against the time to synthesise the phrase, and the size of the
//! phrase's timings. Median of 15 runs each, after a warm-up.
//!
//! `cargo run --release -p orator-benches --example timing_cost ["<text>"]`

use orator::tts::engine::Engine;
use orator::tts::resources::Resources;
use orator::tts::timings::{PhonemeTiming, PhraseTimings, WordTiming, written_words};
use orator::tts::voice::Voice;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

const LINE: &str = "When you finish the first part of the tutorial, save your work and close the \
                    editor, then open the terminal, type the command exactly as shown, and wait \
                    for the build to finish before you test anything at all.";

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let text = std::env::args().nth(1).unwrap_or_else(|| LINE.to_owned());
    let r = Resources::locate()?;
    let voice = Voice::load(&r.default_voice(), &r.onnxruntime())?;
    let engine = Engine::new(voice, r.espeak_data());
    let rate = engine.voice.config.sample_rate;
    let mut settings = engine.voice.config.defaults;
    let (mut speak, mut lookup, mut matching) = (Vec::new(), Vec::new(), Vec::new());
    let mut words: Vec<WordTiming> = Vec::new();
    let mut seconds = 0.0;
    for run in 0..16 {
        // A new pace each run, so no cache could answer.
        settings.length_scale = 1.0 + run as f32 * 1e-3;
        let mut phrase = PhraseTimings::new();
        let mut at = 0u64;
        let started = Instant::now();
        engine.speak(&text, &settings, &mut |chunk| {
            if chunk.first_of_group {
                phrase.push(at, chunk.timings.as_deref());
            }
            at += chunk.samples.len() as u64;
            ControlFlow::Continue(())
        })?;
        let spoke = started.elapsed();
        let started = Instant::now();
        let written = written_words(&text);
        let phonemes = engine.written_phonemes(&written)?;
        let looked_up = started.elapsed();
        let started = Instant::now();
        words = phrase.words(rate, 48_000, Some((&written, &phonemes)));
        let matched = started.elapsed();
        if run > 0 {
            speak.push(spoke);
            lookup.push(looked_up);
            matching.push(matched);
        }
        seconds = at as f64 / f64::from(rate);
    }
    let phonemes: usize = words.iter().map(|w| w.phonemes.len()).sum();
    let bytes = words.len() * std::mem::size_of::<WordTiming>()
        + phonemes * std::mem::size_of::<PhonemeTiming>()
        + words.iter().map(|w| w.text.len()).sum::<usize>();
    println!(
        "{} words, {phonemes} phonemes, {seconds:.2} s of speech: synthesis {:.1} ms; written \
         words' phonemes {:.2} ms; matching and rescaling {:.3} ms; the timings hold {bytes} bytes",
        words.len(),
        median(speak),
        median(lookup),
        median(matching)
    );
    Ok(())
}

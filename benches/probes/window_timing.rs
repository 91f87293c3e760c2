//! Where a sentence's time to first audio goes: phonemes, then the front and each decoder window
//! of [`Voice::infer_streaming`], timed from outside (median of 7 runs after a warm-up).
//!
//! `cargo run --release -p orator-benches --example window_timing [--whole] "<text>"...`; with
//! `--whole`, the voice runs the whole model per sentence ([`Voice::load_whole`]), as Piper does.

use orator::tts::resources::Resources;
use orator::tts::text::phonemize::{Espeak, phonemize};
use orator::tts::voice::Voice;
use std::ops::ControlFlow;
use std::time::Instant;

/// One window of one run.
struct Mark {
    /// When the window was handed on, from the start of the inference.
    end_ms: f64,
    /// Latent frames kept.
    frames: usize,
    /// Its decode alone.
    decode_ms: f64,
}

fn main() -> anyhow::Result<()> {
    let r = Resources::locate()?;
    let mut texts: Vec<String> = std::env::args().skip(1).collect();
    let whole = texts.first().is_some_and(|a| a == "--whole");
    let voice = if whole {
        texts.remove(0);
        Voice::load_whole(&r.default_voice(), &r.onnxruntime())?
    } else {
        Voice::load(&r.default_voice(), &r.onnxruntime())?
    };
    let settings = voice.config.defaults;
    for text in texts {
        let started = Instant::now();
        let mut espeak = Espeak::lock(&r.espeak_data())?;
        let sentences = phonemize(&mut espeak, &voice.config.espeak_voice, &text)?;
        drop(espeak);
        let phonemes = started.elapsed();
        let mut unknown = 0;
        // The first sentence only: one inference is what is timed.
        let Some(first) = sentences.first() else {
            anyhow::bail!("{text:?} has nothing to speak");
        };
        let ids = voice.config.phoneme_ids(first, &mut unknown);
        let mut runs: Vec<Vec<Mark>> = Vec::new();
        for _ in 0..8 {
            let started = Instant::now();
            let mut marks = Vec::new();
            voice.infer_streaming(&ids, &settings, 0, &mut |window| {
                marks.push(Mark {
                    end_ms: started.elapsed().as_secs_f64() * 1e3,
                    frames: window.audio.len() / 256,
                    decode_ms: window.took.as_secs_f64() * 1e3,
                });
                ControlFlow::Continue(())
            })?;
            runs.push(marks);
        }
        runs.remove(0);
        let median = |of: &dyn Fn(&[Mark]) -> f64| {
            let mut t: Vec<f64> = runs.iter().map(|r| of(r)).collect();
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        };
        // Before the first window's decode: the front (and the noise drawn for it).
        let front = median(&|r| r[0].end_ms - r[0].decode_ms);
        print!(
            "{} ids, phonemes {:.1} ms, front {front:.1} ms; window end (frames kept):",
            ids.len(),
            phonemes.as_secs_f64() * 1e3
        );
        for (w, mark) in runs[0].iter().enumerate() {
            print!(" {:.1} ms ({})", median(&|r| r[w].end_ms), mark.frames);
        }
        println!();
    }
    Ok(())
}

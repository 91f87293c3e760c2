//! What a cut at a word boundary does to a sentence with no clause end (engine's
//! `FIRST_SENTENCE_PHONEMES`): the text's first sentence is cut after word N and the two parts
//! are spoken three ways, against the sentence whole:
//! - `eos`: each part an utterance of its own (what the engine does);
//! - `comma`: the first part ends with a comma;
//! - `open`: the first part without its end symbol, the second without its start symbol.
//!
//! For each: time to the first window (best of 3), audio length against the whole, the quiet at
//! the seam (10 ms blocks under -40 dBFS) and how loud the first part's last 5 ms are (a part
//! that stops mid-sound clicks). Writes `/tmp/seam_<way>.wav`.
//!
//! `cargo run --release -p orator-benches --example seam_probe "<text>" N`
use orator::tts::resources::Resources;
use orator::tts::text::phonemize::{Espeak, phonemize};
use orator::tts::voice::Voice;
use std::ops::ControlFlow;
use std::time::Instant;

fn render(voice: &Voice, ids: &[i64], window: usize) -> anyhow::Result<(Vec<f32>, f64)> {
    let mut best = f64::MAX;
    let mut out = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut first = None;
        let mut audio = Vec::new();
        voice.infer_streaming(ids, &voice.config.defaults, window, &mut |w| {
            first.get_or_insert(started.elapsed().as_secs_f64() * 1e3);
            audio.extend_from_slice(w.audio);
            ControlFlow::Continue(())
        })?;
        best = best.min(first.unwrap_or(0.0));
        out = audio;
    }
    Ok((out, best))
}

/// Longest run of 10 ms blocks under -40 dBFS in `audio[from..to]`, ms.
fn longest_quiet(audio: &[f32], from: usize, to: usize) -> f64 {
    let block = 220;
    let (mut run, mut best) = (0, 0);
    let mut i = from.min(audio.len());
    while i + block <= to.min(audio.len()) {
        let rms = (audio[i..i + block].iter().map(|x| x * x).sum::<f32>() / block as f32).sqrt();
        if rms < 0.01 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
        i += block;
    }
    best as f64 * 10.0
}

fn main() -> anyhow::Result<()> {
    let r = Resources::locate()?;
    let voice = Voice::load(&r.default_voice(), &r.onnxruntime())?;
    let mut args = std::env::args().skip(1);
    let text = args.next().unwrap_or_default();
    let cut_word: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let mut espeak = Espeak::lock(&r.espeak_data())?;
    let sentences = phonemize(&mut espeak, &voice.config.espeak_voice, &text)?;
    drop(espeak);
    let ph = &sentences[0];
    let spaces: Vec<usize> = ph
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == ' ')
        .map(|(i, _)| i)
        .collect();
    let at = spaces[cut_word - 1];
    let a: Vec<char> = ph[..at].to_vec();
    let b: Vec<char> = ph[at + 1..].to_vec();
    println!(
        "whole {} phonemes; cut at {at}: [{}] | [{}]",
        ph.len(),
        a.iter().collect::<String>(),
        b.iter().collect::<String>()
    );
    let mut u = 0;
    let whole_ids = voice.config.phoneme_ids(ph, &mut u);
    let (whole, first) = render(&voice, &whole_ids, 0)?;
    println!(
        "whole: first {first:.1} ms, {:.0} ms audio, longest quiet {:.0} ms",
        whole.len() as f64 / 22.05,
        longest_quiet(&whole, 2205, whole.len() - 2205)
    );
    let mut comma = a.clone();
    comma.extend([',', ' ']);
    let variants: Vec<(&str, Vec<i64>, Vec<i64>)> = vec![
        (
            "eos",
            voice.config.phoneme_ids(&a, &mut u),
            voice.config.phoneme_ids(&b, &mut u),
        ),
        (
            "comma",
            voice.config.phoneme_ids(&comma, &mut u),
            voice.config.phoneme_ids(&b, &mut u),
        ),
        (
            "open",
            {
                let mut i = voice.config.phoneme_ids(&a, &mut u);
                i.pop();
                i
            },
            {
                let mut i = voice.config.phoneme_ids(&b, &mut u);
                i.remove(0);
                i
            },
        ),
    ];
    for (name, ia, ib) in variants {
        let (pa, first) = render(&voice, &ia, 0)?;
        let (pb, _) = render(&voice, &ib, 2)?;
        let seam = pa.len();
        let mut all = pa.clone();
        all.extend_from_slice(&pb);
        println!(
            "{name}: {} + {} ids, first {first:.1} ms, {:.0} ms audio ({:+.0} vs whole), quiet at seam {:.0} ms (tail {:.0}, head {:.0}), longest elsewhere {:.0}",
            ia.len(),
            ib.len(),
            all.len() as f64 / 22.05,
            (all.len() as f64 - whole.len() as f64) / 22.05,
            longest_quiet(&all, seam.saturating_sub(8820), seam + 8820),
            longest_quiet(&pa, seam.saturating_sub(8820), seam),
            longest_quiet(&pb, 0, 8820),
            longest_quiet(&all, 2205, seam.saturating_sub(8820)).max(longest_quiet(
                &all,
                seam + 8820,
                all.len() - 2205
            )),
        );
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt();
        println!(
            "   end of piece 1: last 5 ms rms {:.4}, last sample {:.4}; start of piece 2: first 5 ms rms {:.4}, first sample {:.4}; whole rms {:.4}",
            rms(&pa[pa.len() - 110..]),
            pa[pa.len() - 1],
            rms(&pb[..110]),
            pb[0],
            rms(&whole)
        );
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22050,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(format!("/tmp/seam_{name}.wav"), spec)?;
        for s in &all {
            w.write_sample(*s)?;
        }
        w.finalize()?;
    }
    Ok(())
}

//! Whether a phrase's windows arrive in time to play without a gap: for each window, when the
//! engine handed it on and when it is due (playback starting with the first window, each
//! window due when the audio before it has played). Prints the worst lateness (negative: on
//! time) and the first windows. One warm-up phrase first.
//!
//! `cargo run --release -p orator-benches --example phrase_timing "<text>"...`

use orator::tts::engine::Engine;
use orator::tts::resources::Resources;
use orator::tts::voice::Voice;
use std::ops::ControlFlow;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let r = Resources::locate()?;
    let voice = Voice::load(&r.default_voice(), &r.onnxruntime())?;
    let engine = Engine::new(voice, r.espeak_data());
    let settings = engine.voice.config.defaults;
    engine.speak("Warm up.", &settings, &mut |_| ControlFlow::Continue(()))?;
    for text in std::env::args().skip(1) {
        let started = Instant::now();
        let mut first = None;
        let mut played = 0.0f64;
        let mut worst = f64::MIN;
        let mut lines = Vec::new();
        engine.speak(&text, &settings, &mut |chunk| {
            let now = started.elapsed().as_secs_f64();
            let due = *first.get_or_insert(now) + played;
            worst = worst.max(now - due);
            lines.push(format!(
                "group {} window {}: ready {:.0} ms, due {:.0} ms",
                chunk.sentence,
                chunk.window,
                now * 1e3,
                due * 1e3
            ));
            played += chunk.samples.len() as f64 / f64::from(chunk.sample_rate);
            ControlFlow::Continue(())
        })?;
        println!("{text:.50}...: worst lateness {:.0} ms", worst * 1e3);
        for line in lines.iter().take(8) {
            println!("  {line}");
        }
    }
    Ok(())
}

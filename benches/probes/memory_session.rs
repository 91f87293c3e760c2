//! Resident memory over a long speaking session (Linux: reads `/proc/self/status`): the voice
//! is loaded, then sentences of varying length are spoken, one after another, for the given
//! number of rounds. Prints the voice load time, the resident set after load and after each round, the peak, and
//! each round's synthesis time.
//!
//! `cargo run --release -p orator-benches --example memory_session [rounds]` (default 20)

use orator::tts::engine::Engine;
use orator::tts::resources::Resources;
use orator::tts::voice::Voice;
use std::ops::ControlFlow;

/// Sentences of 1 to 40 words, spoken in this order each round.
const SENTENCES: [&str; 6] = [
    "Hi!",
    "Thanks for the follow.",
    "Welcome back to the stream, everyone; today we are building a speech plugin in Rust.",
    "When you finish the first part of the tutorial, save your work, close the editor, open \
     the terminal, type the command exactly as shown, press enter, and wait for the build to \
     complete before you move on to the second part of the lesson today.",
    "Dr. Smith paid $12.50 on 3/14/2025 at 10:30 a.m.",
    "She said: \"It's fine; really, it is...\" Then she left. Why?",
];

/// `VmRSS` and `VmHWM` of this process, in MB.
fn resident() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| anyhow::anyhow!("/proc/self/status: {e} (this example needs Linux)"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/self/status"))?;
        let kb: f64 = line
            .trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| anyhow::anyhow!("rounds must be a number, not {n:?}"))?,
        None => 20,
    };
    let r = Resources::locate()?;
    let started = std::time::Instant::now();
    let voice = Voice::load(&r.default_voice(), &r.onnxruntime())?;
    let load = started.elapsed().as_secs_f64() * 1e3;
    let (rss, peak) = resident()?;
    println!("after load ({load:.0} ms): {rss:.1} MB resident, peak {peak:.1} MB");
    let engine = Engine::new(voice.clone(), r.espeak_data());
    let settings = voice.config.defaults;
    let mut seconds = 0.0;
    for round in 1..=rounds {
        let started = std::time::Instant::now();
        for text in SENTENCES {
            engine.speak(text, &settings, &mut |chunk| {
                seconds += chunk.samples.len() as f64 / f64::from(chunk.sample_rate);
                ControlFlow::Continue(())
            })?;
        }
        let took = started.elapsed().as_secs_f64();
        let (rss, peak) = resident()?;
        println!(
            "round {round:3}: {took:.2} s, {seconds:7.1} s of speech so far, {rss:.1} MB \
             resident, peak {peak:.1} MB"
        );
    }
    Ok(())
}

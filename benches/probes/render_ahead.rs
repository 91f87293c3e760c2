//! Render-ahead of a phrase list through the plugin's own speech service (Linux: reads
//! `/proc/self/status`): a 20-line text at 48 kHz, the time until every phrase and the whole
//! text are in the phrase bank, the bank's audio, the resident memory it added, and the time an
//! edit of one line takes to be ready again.
//!
//! `cargo run --release -p orator-benches --example render_ahead`

use orator::playback::bank::SlotState;
use orator::playback::service::{SpeechService, State};
use orator::state::SharedSession;
use orator::tts::resources::Resources;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LINES: [&str; 20] = [
    "Welcome back to the show.",
    "Here is what is coming up today.",
    "First, the news from the studio.",
    "Then a look at the new plugin.",
    "After that, your questions.",
    "Let us get started.",
    "The studio moved last week.",
    "Everything still works, mostly.",
    "The plugin speaks any line you type.",
    "It runs on your own machine.",
    "No cloud, no waiting.",
    "Now, your questions.",
    "How long does a phrase take to render?",
    "About a tenth of its length.",
    "Can it follow the timeline?",
    "Yes, to the sample.",
    "That is all for today.",
    "Thanks for listening.",
    "See you next week.",
    "Goodbye.",
];

/// `VmRSS` of this process, in MB.
fn resident() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| anyhow::anyhow!("/proc/self/status: {e} (this example needs Linux)"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    let kb: f64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

/// Waits until every slot is ready, and phrase `line.0` reads `line.1`; returns the seconds of
/// audio held.
fn all_ready(service: &SpeechService, slots: usize, line: (usize, &str)) -> anyhow::Result<f64> {
    let started = Instant::now();
    loop {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(300), "not ready");
        let views = service.bank().views();
        if !views
            .iter()
            .any(|v| v.slot == line.0 && line.1.starts_with(v.text.trim_end_matches('…')))
        {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let ready: Vec<f32> = views
            .iter()
            .filter_map(|v| match v.state {
                SlotState::Ready { seconds } => Some(seconds),
                _ => None,
            })
            .collect();
        if let Some(failed) = views
            .iter()
            .find(|v| matches!(v.state, SlotState::Failed(_)))
        {
            anyhow::bail!("phrase {} failed: {:?}", failed.slot, failed.state);
        }
        if ready.len() == slots {
            return Ok(ready.iter().map(|&s| f64::from(s)).sum());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() -> anyhow::Result<()> {
    let resources = Resources::locate()?;
    let session = Arc::new(SharedSession::default());
    let service = SpeechService::start(session.clone(), Some(resources))?;
    service.load_voice(None);
    while service.status.state() != State::Ready {
        anyhow::ensure!(
            service.status.state() != State::Failed,
            "{}",
            service.status.message()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = resident()?;
    session.set_text(LINES.join("\n"));
    let started = Instant::now();
    let _rings = service.attach(48_000.0, 512);
    let seconds = all_ready(&service, LINES.len() + 1, (10, LINES[9]))?;
    let took = started.elapsed().as_secs_f64();
    let after = resident()?;
    println!(
        "20 phrases and the whole text at 48 kHz: ready in {took:.2} s; {seconds:.1} s of audio \
         held ({:.1} MB of samples); resident {before:.1} -> {after:.1} MB (+{:.1} MB)",
        seconds * 48_000.0 * 4.0 / 1e6,
        after - before
    );
    let mut lines = LINES;
    lines[9] = "It runs on your own computer, offline.";
    session.set_text(lines.join("\n"));
    let edited = Instant::now();
    all_ready(&service, LINES.len() + 1, (10, lines[9]))?;
    println!(
        "one line edited: every phrase ready again in {:.2} s (the line and the whole text)",
        edited.elapsed().as_secs_f64()
    );
    Ok(())
}

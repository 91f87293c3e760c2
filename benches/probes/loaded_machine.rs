//! Streaming on a loaded machine: busy-loop processes take the cores while a long phrase is
//! spoken live (blocks at real-time pace through the release bundle in the CLAP harness), and
//! the live speech is compared with the unloaded bounce. Prints, unloaded and then loaded:
//! the synthesis rate (an offline render's wall time per second of speech, which is what the
//! speech thread can do with the CPU it gets), the live render's first-audio latency and its
//! SNR against the bounce (near 0 dB when a gap shifted the rest; > 100 dB when gapless).
//!
//! Needs the bundle: `cargo xtask build` first (or `ORATOR_CLAP=path/to/Orator.clap`).
//! `cargo run --release -p orator-benches --example loaded_machine [busy processes] [runs]`
//! (default 2 busy processes, 3 live runs)

use orator_tests::{live_vs_bounce, render_phrase};
use std::process::{Child, Command};
use std::time::Instant;

/// The 40-word sentence of the streaming test: about 13 s of speech in a dozen windows.
const TEXT: &str = "When you finish the first part of the tutorial, save your work, close the \
                    editor, open the terminal, type the command exactly as shown, press enter, \
                    and wait for the build to complete before you move on to the second part \
                    of the lesson today.";

/// Busy-loop processes, killed when dropped.
struct Load(Vec<Child>);

impl Load {
    fn start(processes: usize) -> anyhow::Result<Self> {
        let mut children = Vec::new();
        for _ in 0..processes {
            children.push(
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()?,
            );
        }
        Ok(Self(children))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn report(label: &str, bounce: &[f32], runs: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let offline = render_phrase(TEXT, true)?;
    let wall = started.elapsed().as_secs_f64();
    let speech = offline.iter().filter(|s| **s != 0.0).count() as f64 / 48_000.0;
    println!(
        "{label}: offline render {wall:.2} s for {speech:.2} s of speech (rate {:.3})",
        wall / speech
    );
    for run in 0..runs {
        let live = render_phrase(TEXT, false)?;
        let heard = live_vs_bounce(&live, bounce)?;
        println!(
            "{label}: live run {run}: first audio {:.3} s, {:.1} dB against the bounce{}",
            heard.latency,
            heard.snr_db,
            if heard.tail {
                ", speech after its end"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let busy: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let bounce = render_phrase(TEXT, true)?;
    report("unloaded", &bounce, runs)?;
    let _load = Load::start(busy)?;
    report(&format!("{busy} busy loops"), &bounce, runs)?;
    Ok(())
}

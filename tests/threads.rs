//! The host's threads as a DAW runs them: `process()` on an audio thread of its own at
//! real-time pace, while the main thread opens the editor (which draws on its own thread),
//! saves and loads the state, changes the text, reads parameters and answers the plugin's
//! callbacks. Speech must reach the output and every sample be clean.
//!
//! This is also the run ThreadSanitizer checks (`docs/design/concurrency.md`): built with
//! `-Zsanitizer=thread`, the plugin and this harness report any data race between the three.

use anyhow::{Context, Result, ensure};
use orator_tests::display::{Display, X};
use orator_tests::signal::{all_clean, rms};
use orator_tests::{LoadedPlugin, bundle_path, press, run_in_child, saved_text, with_text};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;

/// Set in the child process that runs the threads.
const CHILD_VAR: &str = "ORATOR_THREADS_CHILD";

#[test]
fn main_editor_and_audio_threads_run_at_once() -> Result<()> {
    // The threads run in a child process that ends while the X server still runs: the
    // windowing stack's threads may outlive the editor, and an X server killed under them
    // makes Xlib end the process from one of them.
    let display = Display::start(140)?;
    run_in_child(
        "threads",
        &[
            (CHILD_VAR, "1".as_ref()),
            ("DISPLAY", display.name.as_ref()),
        ],
        "three threads ran",
    )
}

/// The child's work; does nothing unless run by the test above.
#[test]
#[ignore = "run by main_editor_and_audio_threads_run_at_once in a child process"]
fn threads() -> Result<()> {
    if std::env::var_os(CHILD_VAR).is_none() {
        return Ok(());
    }
    let display = std::env::var("DISPLAY").context("the child needs DISPLAY")?;
    let x = X::connect(&display)?;

    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text("Three threads at once.")?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let parent = x.create_window(1100, 760)?;
    plugin.open_editor(parent)?;
    let speak = plugin.param("Speak")?.id;
    let gain = plugin.param("Output Gain")?.id;

    let stop = Arc::new(AtomicBool::new(false));
    let mut audio = plugin.take_audio()?;
    let audio_thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("host audio".into())
            .spawn(move || -> Result<_> {
                let silence = vec![0.0f32; BLOCK];
                let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
                let period = Duration::from_secs_f64(BLOCK as f64 / RATE);
                let mut next = Instant::now();
                let mut loudest = 0.0f64;
                let mut block = 0;
                while !stop.load(Ordering::Acquire) {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    next += period;
                    // Speak again every 3 s, so speech runs all along.
                    let changes = press(speak, block % 280, 0);
                    audio.process(
                        &[&silence, &silence],
                        None,
                        &mut [&mut left, &mut right],
                        &changes,
                    )?;
                    ensure!(
                        all_clean(&left) && all_clean(&right),
                        "unclean output in block {block}"
                    );
                    loudest = loudest.max(rms(&left));
                    block += 1;
                }
                Ok((audio, loudest))
            })
            .context("could not start the audio thread")?
    };

    // The main thread, meanwhile: what a host and a user do while audio runs.
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(8) {
        plugin.pump();
        let state = plugin.save_state()?;
        let text = format!("Round {round} of three threads at once.");
        plugin.load_state(&with_text(&state, &text)?)?;
        ensure!(
            saved_text(&plugin.save_state()?)? == text,
            "the text set while audio ran was not kept"
        );
        let _ = plugin.param_value(gain)?;
        let _ = plugin.value_to_text(gain, 0.5)?;
        round += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Release);
    let (audio, loudest) = audio_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the audio thread panicked"))??;
    plugin.give_back_audio(audio);
    plugin.close_editor()?;
    plugin.deactivate();
    ensure!(
        loudest > 0.01,
        "no speech reached the audio thread's output"
    );
    ensure!(round > 20, "the main thread ran only {round} rounds");
    println!("three threads ran: {round} main-thread rounds");
    Ok(())
}

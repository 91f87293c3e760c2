//! Hosts and validators unload plugins (`deinit`, then `dlclose`), some of them over and over
//! in one process. A fresh process loads the release bundle, creates an instance with its
//! local API on, opens and closes its editor (on Xvfb), speaks through `process()`, destroys
//! it and unloads the library, a hundred times, then exits: it must do all of that without a
//! crash, answer and speak every time; the library stays resident (linked `-z nodelete`, see
//! `docs/design/unloading.md`), mapped once however often it is loaded.
//!
//! Each cycle's calls run on a thread that ends before the unload, as a validator's scan
//! threads and a host's audio threads do: glibc defers a `dlclose` while a live thread holds
//! one of the library's thread-local destructors, so unloading from the calling thread itself
//! would keep any library mapped and test nothing.

use anyhow::{Context, Result, bail, ensure};
use clack_host::prelude::PluginEntry;
use orator_tests::display::{Display, X};
use orator_tests::signal::rms;
use orator_tests::{LoadedPlugin, bundle_path, press, run_in_child, with_session};
use std::time::{Duration, Instant};

const CYCLES: usize = 100;
const BLOCK: usize = 512;
/// The API's port, the same every cycle: each instance must let go of it when destroyed.
const PORT: u16 = 17_591;
/// Set in the child process: how many cycles it runs.
const CHILD_VAR: &str = "ORATOR_UNLOAD_CYCLES";

#[test]
fn a_hundred_load_speak_unload_cycles_in_a_fresh_process() -> Result<()> {
    let display = Display::start(120)?;
    // The cycles run in a child process, so a crash at unload or at exit (a destructor or a
    // thread left in unmapped code) fails this test instead of killing the test runner.
    run_in_child(
        "cycles",
        &[
            (CHILD_VAR, CYCLES.to_string().as_ref()),
            ("DISPLAY", display.name.as_ref()),
        ],
        &format!("{CYCLES} cycles unloaded"),
    )
}

/// The child's work; does nothing unless run by the test above.
#[test]
#[ignore = "run by a_hundred_load_speak_unload_cycles_in_a_fresh_process in a child process"]
fn cycles() -> Result<()> {
    let Some(cycles) = std::env::var(CHILD_VAR).ok().and_then(|v| v.parse().ok()) else {
        return Ok(());
    };
    let display = std::env::var("DISPLAY").context("the child needs DISPLAY")?;
    let x = X::connect(&display)?;
    let mut rss_after = Vec::new();
    let mut mappings_after = None;
    for cycle in 0..cycles {
        let parent = x.create_window(1100, 760)?;
        let entry = std::thread::Builder::new()
            .name(format!("cycle {cycle}"))
            .spawn(move || one_cycle(cycle, parent))
            .context("could not start a cycle's thread")?
            .join()
            .map_err(|_| anyhow::anyhow!("cycle {cycle} panicked"))??;
        // The host unloads the library: the last entry handle runs `deinit` and `dlclose`.
        drop(entry);
        let mappings = library_mappings()?;
        ensure!(
            mappings > 0,
            "cycle {cycle}: the library was unmapped; it holds process-wide state and must stay \
             resident"
        );
        let first = *mappings_after.get_or_insert(mappings);
        ensure!(
            mappings == first,
            "cycle {cycle}: the library is mapped {mappings} times, {first} after the first \
             cycle: it was loaded again beside itself"
        );
        rss_after.push(rss_kib()?);
    }
    // Reported, not asserted: the allocator's per-thread arenas make RSS wander by tens of
    // MiB between cycles (and Mesa's software OpenGL keeps memory per editor opened).
    let last = rss_after.last().copied().unwrap_or(0);
    println!(
        "RSS after the first unload {} MiB, after the last {} MiB ({:.2} MiB per cycle)",
        rss_after[0] / 1024,
        last / 1024,
        (last - rss_after[0]) as f64 / 1024.0 / (cycles.max(2) - 1) as f64
    );
    println!("{cycles} cycles unloaded");
    Ok(())
}

fn one_cycle(cycle: usize, parent: u32) -> Result<PluginEntry> {
    let mut plugin = LoadedPlugin::load_unloadable(&bundle_path())?;
    let session = serde_json::json!({
        "schema": 3,
        "text": "Hi.",
        "api": {"enabled": true, "port": PORT, "udp_port": 0, "token": ""},
    });
    let state = with_session(&plugin.save_state()?, &session.to_string())?;
    plugin.load_state(&state)?;
    // Offline: each block waits for the speech thread, so every cycle speaks in a few blocks
    // however long the voice takes to load.
    plugin.set_offline(true)?;
    plugin.activate(48000.0, 1, BLOCK as u32)?;
    plugin.open_editor(parent)?;

    let info = api_info()?;
    ensure!(
        info.contains("\"name\":\"Orator\""),
        "cycle {cycle}: the API answered {info}"
    );

    let speak = plugin.param("Speak")?.id;
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let mut loudest = 0.0f64;
    for block in 0..40 {
        plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &press(speak, block, 0),
        )?;
        plugin.pump();
        loudest = loudest.max(rms(&left));
    }
    ensure!(loudest > 0.01, "cycle {cycle}: nothing was spoken");
    plugin.close_editor()?;
    Ok(plugin.destroy())
}

/// `GetInfo` over the API's WebSocket, waiting for the server to start.
fn api_info() -> Result<String> {
    let started = Instant::now();
    let (mut ws, _) = loop {
        match tungstenite::connect(format!("ws://127.0.0.1:{PORT}/")) {
            Ok(connected) => break connected,
            Err(e) if started.elapsed() > Duration::from_secs(10) => {
                bail!("the API did not start: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    ws.send(tungstenite::Message::text(
        r#"{"id":"1","request":"GetInfo"}"#,
    ))?;
    loop {
        if let tungstenite::Message::Text(text) = ws.read()? {
            let _ = ws.close(None);
            return Ok(text.to_string());
        }
    }
}

/// How many regions of this process's memory map the bundle's library has.
fn library_mappings() -> Result<usize> {
    let name = bundle_path()
        .file_name()
        .context("the bundle path has no file name")?
        .to_string_lossy()
        .into_owned();
    Ok(std::fs::read_to_string("/proc/self/maps")?
        .lines()
        .filter(|line| line.ends_with(name.as_str()))
        .count())
}

fn rss_kib() -> Result<i64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .context("VmRSS unreadable")
}

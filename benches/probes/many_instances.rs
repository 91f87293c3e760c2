//! Many Orator instances in one process, as a host with many tracks runs them: each loaded
//! from the release bundle through the test harness's CLAP host, activated at 48 kHz with
//! 512-frame blocks, given a line of its own and told to speak it, a few blocks apart. One
//! thread calls every instance's `process()` once per block at real-time pace, as a host's
//! audio thread does. Prints the distribution of one `process()` call's time and of a whole
//! block's (every instance) against the block's budget, and the process's resident memory
//! after loading and at the end (Linux: `/proc/self/status`).
//!
//! Needs the bundle: `cargo xtask build` first (or `ORATOR_CLAP=path/to/Orator.clap`).
//! `cargo run --release -p orator-benches --example many_instances [instances] [seconds]
//! [empty]` (default 16 instances, 20 s; `empty`: the instances get no text and speak nothing,
//! for the memory an idle instance costs)

use orator_tests::{LoadedPlugin, bundle_path, press};
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;

/// Lines the instances speak, one each in turn.
const LINES: [&str; 4] = [
    "When you finish the first part of the tutorial, save your work and close the editor.",
    "Thanks for the follow, and welcome to the stream.",
    "The next song is coming up in a moment, so stay tuned.",
    "Remember to drink some water and take a break every hour.",
];

/// `VmRSS` and `VmHWM` of this process, in MB.
fn resident() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/self/status"))?;
        Ok(line
            .trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<f64>()?
            / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// The `p`-th quantile of sorted `times`, in microseconds.
fn quantile(times: &[Duration], p: f64) -> f64 {
    let at = ((times.len() as f64 - 1.0) * p).round() as usize;
    times.get(at).map_or(0.0, |t| t.as_secs_f64() * 1e6)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(16), |a| a.parse())?;
    let seconds: f64 = args.next().map_or(Ok(20.0), |a| a.parse())?;
    let empty = args.next().is_some_and(|a| a == "empty");
    let path = bundle_path();
    let (rss_before, _) = resident()?;
    let mut plugins = Vec::with_capacity(count);
    for n in 0..count {
        let mut plugin = LoadedPlugin::load(&path)?;
        plugin.set_text(if empty { "" } else { LINES[n % LINES.len()] })?;
        plugin.activate(RATE, 1, BLOCK as u32)?;
        let speak = plugin.param("Speak")?.id;
        plugins.push((plugin, speak));
    }
    let (rss_loaded, _) = resident()?;
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let budget = Duration::from_secs_f64(BLOCK as f64 / RATE);
    let blocks = (seconds * RATE / BLOCK as f64) as usize;
    let mut calls = Vec::with_capacity(blocks * count);
    let mut totals = Vec::with_capacity(blocks);
    let mut late_blocks = 0usize;
    let mut next = Instant::now();
    for block in 0..blocks {
        let started = Instant::now();
        for (n, (plugin, speak)) in plugins.iter_mut().enumerate() {
            // Each instance speaks once, the next one 10 blocks (107 ms) after the last.
            let changes = if empty {
                Vec::new()
            } else {
                press(*speak, block, 20 + 10 * n)
            };
            let call = Instant::now();
            plugin.process(
                &[&silence, &silence],
                None,
                &mut [&mut left, &mut right],
                &changes,
            )?;
            calls.push(call.elapsed());
        }
        let total = started.elapsed();
        if total > budget {
            late_blocks += 1;
        }
        totals.push(total);
        next += budget;
        match next.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => next = Instant::now(),
        }
    }
    let (rss_end, peak) = resident()?;
    calls.sort_unstable();
    totals.sort_unstable();
    println!(
        "{count} instances, {blocks} blocks of {BLOCK} at {RATE} Hz (budget {:.0} µs a block)",
        budget.as_secs_f64() * 1e6
    );
    for (what, times) in [("one process() call", &calls), ("a whole block", &totals)] {
        println!(
            "{what}: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
            quantile(times, 0.5),
            quantile(times, 0.99),
            quantile(times, 0.999),
            quantile(times, 1.0)
        );
    }
    println!("blocks over budget: {late_blocks}");
    println!(
        "resident: {rss_before:.1} MB before loading, {rss_loaded:.1} MB loaded, {rss_end:.1} MB \
         at the end, peak {peak:.1} MB"
    );
    Ok(())
}

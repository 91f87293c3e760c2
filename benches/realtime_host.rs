//! What the first-audio benches share (`press_to_audio.rs`, `speak_to_audio.rs`): the release
//! bundle in the test harness's CLAP host, called at real-time pace, and one criterion group
//! over the bench lines. Each bench includes it and uses part of it.
#![allow(dead_code)]

use clack_host::prelude::ProcessStatus;
use criterion::{BenchmarkId, Criterion, SamplingMode};
use orator_tests::{LoadedPlugin, ParamChange};
use std::time::{Duration, Instant};

/// The host's sample rate.
pub const RATE: f64 = 48_000.0;
/// The host's block size.
pub const BLOCK: usize = 512;

/// One block as the host ran it.
pub struct Block {
    /// When it was handed to the plugin.
    pub handed: Instant,
    /// The first non-zero output sample's offset in it, if any (the input is silent, so that
    /// is the voice).
    pub heard: Option<usize>,
    /// Whether the plugin said it may stop being called.
    pub idle: bool,
}

/// A plugin called when an audio interface would call it.
pub struct Host {
    /// The plugin.
    pub plugin: LoadedPlugin,
    next: Instant,
    silence: Vec<f32>,
    left: Vec<f32>,
    right: Vec<f32>,
}

impl Host {
    /// Wraps an activated plugin.
    pub fn new(plugin: LoadedPlugin) -> Self {
        Self {
            plugin,
            next: Instant::now(),
            silence: vec![0.0; BLOCK],
            left: vec![0.0; BLOCK],
            right: vec![0.0; BLOCK],
        }
    }

    /// One block with `changes`, when an audio interface would ask for it.
    pub fn block(&mut self, changes: &[ParamChange]) -> anyhow::Result<Block> {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        } else if now - self.next > Duration::from_millis(50) {
            self.next = now; // after set-up work between iterations, not a late block
        }
        self.next += Duration::from_secs_f64(BLOCK as f64 / RATE);
        let handed = Instant::now();
        let status = self.plugin.process(
            &[&self.silence, &self.silence],
            None,
            &mut [&mut self.left, &mut self.right],
            changes,
        )?;
        Ok(Block {
            handed,
            heard: self.left.iter().position(|&s| s != 0.0),
            idle: status == ProcessStatus::ContinueIfNotQuiet,
        })
    }
}

/// Benches `measure` on every line of `lines` in group `name` (10 samples, flat sampling: each
/// iteration is a phrase spoken at real-time pace).
pub fn bench_lines(
    c: &mut Criterion,
    name: &str,
    lines: &[(&str, &str)],
    mut measure: impl FnMut(&str) -> Duration,
) {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (line, text) in lines {
        group.bench_function(BenchmarkId::from_parameter(line), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| measure(text)).sum())
        });
    }
    group.finish();
}

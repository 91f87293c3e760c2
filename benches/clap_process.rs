//! `process()` end to end through a real CLAP host (the test harness, clack-host) on the built
//! release bundle: nice-plug's wrapper (buffers, parameter events) plus the signal path, at
//! 48 kHz in 512-frame stereo blocks with the sidechain connected, every voice stage engaged
//! and the sidechain routed. The voice is silent (no speech is requested: the speech thread
//! would share the machine's cores with the measurement), so the chain runs on silence.
//!
//! Needs the bundle: `cargo xtask build` first (or `ORATOR_CLAP=path/to/Orator.clap`).
//! `cargo bench -p orator-benches --bench clap_process`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orator_tests::signal::sine;
use orator_tests::{LoadedPlugin, ParamChange, bundle_path};
use std::hint::black_box;

const FRAMES: usize = 512;

fn clap_process(c: &mut Criterion) {
    let path = bundle_path();
    let mut plugin = match LoadedPlugin::load(&path) {
        Ok(plugin) => plugin,
        Err(err) => panic!(
            "cannot load {} ({err}); run `cargo xtask build` first",
            path.display()
        ),
    };
    let settings = [
        ("EQ Low", "-3"),
        ("EQ Mid", "2"),
        ("EQ High", "4"),
        ("De-esser", "6"),
        ("Comp Threshold", "-24"),
        ("Comp Ratio", "4"),
        ("Comp Makeup", "6"),
        ("Limiter Ceiling", "-3"),
        ("Sidechain Gain", "-6"),
        ("Voice Pan", "30L"),
    ];
    let mut changes = Vec::new();
    for (name, text) in settings {
        let set = |plugin: &mut LoadedPlugin| -> anyhow::Result<ParamChange> {
            let id = plugin.param(name)?.id;
            let value = plugin.value_from_text(id, text)?;
            Ok(ParamChange { id, value, time: 0 })
        };
        changes.push(set(&mut plugin).expect("parameter"));
    }
    plugin
        .activate(48000.0, 1, FRAMES as u32)
        .expect("activate");
    let host = sine(220.0, 0.5, 48000.0, FRAMES);
    let music = sine(330.0, 0.3, 48000.0, FRAMES);
    let (mut left, mut right) = (vec![0.0f32; FRAMES], vec![0.0f32; FRAMES]);
    plugin
        .process(
            &[&host, &host],
            Some(&[&music, &music]),
            &mut [&mut left, &mut right],
            &changes,
        )
        .expect("process");
    let mut group = c.benchmark_group("clap_process");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("stereo_512", |b| {
        b.iter(|| {
            plugin
                .process(
                    black_box(&[&host, &host]),
                    Some(&[&music, &music]),
                    &mut [&mut left, &mut right],
                    &[],
                )
                .expect("process");
        })
    });
    group.finish();
}

criterion_group!(benches, clap_process);
criterion_main!(benches);

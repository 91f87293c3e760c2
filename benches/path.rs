//! The plugin's whole signal path, end to end: exactly what `process()` runs on each block
//! (voice chain with every stage engaged, ducking keyed by the voice, the strip mixer with the
//! sidechain routed to the output, meters), on 512-frame blocks:
//! - `plugin_layout`: the plugin's own layout, stereo host + voice + stereo sidechain;
//! - `eight_strips`: the same path with five more mono strips, eight in all (the target's
//!   "8 channels × 512").
//!
//! `cargo bench -p orator-benches --bench path`

#[path = "common.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orator::dsp::duck::Ducker;
use orator::dsp::mix::{Mixer, Source};
use orator::dsp::path::{PathSettings, SignalPath, strip};
use orator::dsp::voice_chain::VoiceChain;
use orator::meters::Meters;
use std::hint::black_box;

const RATE: f32 = 48_000.0;
const FRAMES: usize = 512;

fn settings() -> PathSettings {
    let mut settings = PathSettings::default();
    settings.strips[strip::SIDECHAIN].gain = 0.5;
    settings.strips[strip::VOICE].pan = -0.3;
    settings.voice_chain = common::engaged_voice_chain();
    settings
}

fn signal(frames: usize, step: f32, amp: f32) -> Vec<f32> {
    (0..frames).map(|i| amp * (i as f32 * step).sin()).collect()
}

fn path(c: &mut Criterion) {
    let mut group = c.benchmark_group("path");
    let settings = settings();
    let host = signal(FRAMES, 0.02, 0.5);
    let voice_in = common::voice_like(FRAMES);
    let sidechain = [signal(FRAMES, 0.007, 0.3), signal(FRAMES, 0.008, 0.3)];
    let extra: Vec<Vec<f32>> = (0..5)
        .map(|s| signal(FRAMES, 0.003 * (s + 1) as f32, 0.1))
        .collect();
    let extra: Vec<Source> = extra.iter().map(|s| Source::mono(s)).collect();
    let meters = Meters::default();
    let (mut left, mut right, mut voice) = (host.clone(), host.clone(), voice_in.clone());

    for (name, strips, sources) in [
        ("plugin_layout", strip::COUNT, &extra[..0]),
        ("eight_strips", strip::COUNT + extra.len(), &extra[..]),
    ] {
        group.throughput(Throughput::Elements((FRAMES * strips) as u64));
        let mut path = SignalPath::with_extra_strips(strips - strip::COUNT);
        path.prepare(RATE, FRAMES);
        path.reset(&settings, 2, true);
        group.bench_function(name, |b| {
            b.iter(|| {
                left.copy_from_slice(&host);
                right.copy_from_slice(&host);
                voice.copy_from_slice(&voice_in);
                path.process(
                    &settings,
                    &mut [&mut left[..], &mut right[..]],
                    &sidechain,
                    &mut voice,
                    black_box(sources),
                    &meters,
                );
                black_box(left[0]);
            })
        });
    }
    group.finish();
}

/// The path's stages on their own, to see where its time goes (same signals, 512 frames).
fn stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("path_stages");
    group.throughput(Throughput::Elements(FRAMES as u64));
    let settings = settings();
    let host = signal(FRAMES, 0.02, 0.5);
    let voice = common::voice_like(FRAMES);
    let meters = Meters::default();
    group.bench_function("meter_stereo", |b| {
        b.iter(|| meters.input.measure(black_box(&[&host, &host])))
    });

    let mut ducker = Ducker::default();
    ducker.prepare(RATE);
    let d = settings.duck;
    ducker.set(d.depth_db, d.attack_ms, d.release_ms);
    let mut gains = vec![1.0f32; FRAMES];
    group.bench_function("ducker", |b| {
        b.iter(|| ducker.process(black_box(&voice), &mut gains))
    });

    let mut mixer = Mixer::new(strip::COUNT);
    mixer.prepare(RATE, FRAMES);
    for (index, strip) in settings.strips.iter().enumerate() {
        mixer.set_strip(index, *strip);
    }
    mixer.settle(2, &[true, false, true]);
    let (mut left, mut right) = (host.clone(), host.clone());
    let sources = [
        Source::mono(&voice),
        Source::stereo(&host, &host).ducked(&gains),
    ];
    group.bench_function("mixer_ducked", |b| {
        b.iter(|| {
            left.copy_from_slice(&host);
            right.copy_from_slice(&host);
            mixer.process(
                &mut [&mut left[..], &mut right[..]],
                Some(&gains),
                black_box(&sources),
            );
        })
    });

    let mut chain = VoiceChain::default();
    chain.prepare(RATE, FRAMES);
    chain.set(&settings.voice_chain);
    let mut block = voice.clone();
    group.bench_function("voice_chain", |b| {
        b.iter(|| {
            block.copy_from_slice(&voice);
            chain.process(black_box(&mut block));
        })
    });
    group.finish();
}

criterion_group!(benches, path, stages);
criterion_main!(benches);

//! What loudness work costs per second of speech: measuring (BS.1770 integrated loudness, true
//! peak) and normalising the demo render (`target/orator-demo.wav`, stereo) to −16 LUFS under
//! −1 dBTP, as `orator say --loudness -16` does after its render.
//!
//! `cargo bench -p orator-benches --bench loudness` (after `cargo xtask build`)

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orator::loudness::{Target, meter, normalize, true_peak};
use std::hint::black_box;

fn loudness(c: &mut Criterion) {
    let Some((channels, rate)) = common::demo_render() else {
        return;
    };
    let frames = channels.first().map_or(0, Vec::len);
    let Ok(target) = Target::new(-16.0, -1.0) else {
        return;
    };
    let mut group = c.benchmark_group("loudness");
    // Elements are frames: one second of them is `rate` frames.
    group.throughput(Throughput::Elements(frames as u64));
    group.sample_size(10);
    group.bench_function("integrated_stereo", |b| {
        b.iter(|| meter::integrated(black_box(&channels), rate))
    });
    group.bench_function("true_peak_stereo", |b| {
        b.iter(|| true_peak::true_peak(black_box(&channels), rate))
    });
    group.bench_function("normalize_stereo_to_-16", |b| {
        b.iter(|| {
            let mut copy = channels.clone();
            normalize(black_box(&mut copy), rate, target).map(|o| o.lufs)
        })
    });
    group.finish();
    eprintln!(
        "{:.2} s of speech at {rate} Hz",
        frames as f64 / f64::from(rate)
    );
}

criterion_group!(benches, loudness);
criterion_main!(benches);

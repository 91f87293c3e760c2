//! Streaming resampling of speech from the voice's rate to the host's, as the speech thread
//! runs it: one second of audio pushed in 4096-sample pieces (the size of a decoder window),
//! then the phrase's tail flushed.
//!
//! `cargo bench -p orator-benches --bench resample`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orator::playback::resample::StreamResampler;
use std::hint::black_box;
use std::ops::ControlFlow;

fn resample(c: &mut Criterion) {
    let mut group = c.benchmark_group("resample");
    for (from, to) in [
        (22_050, 44_100),
        (22_050, 48_000),
        (22_050, 96_000),
        (16_000, 48_000),
    ] {
        let speech: Vec<f32> = (0..from)
            .map(|i| {
                let t = i as f32 / from as f32;
                0.4 * (std::f32::consts::TAU * 180.0 * t).sin() * (t * 7.0).sin()
            })
            .collect();
        group.throughput(Throughput::Elements(from as u64));
        let Ok(mut resampler) = StreamResampler::new(from, to) else {
            continue;
        };
        group.bench_function(BenchmarkId::new(format!("{from}_to"), to), |b| {
            b.iter(|| {
                let mut out = 0usize;
                let mut emit = |s: &[f32]| {
                    out += s.len();
                    ControlFlow::Continue(())
                };
                for piece in speech.chunks(4096) {
                    let _ = resampler.push(black_box(piece), &mut emit);
                }
                let _ = resampler.finish(&mut emit);
                black_box(out)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, resample);
criterion_main!(benches);

//! The strip mixer at 2, 8, 16 and 32 strips (the host's stereo signal on strip 0, mono sources
//! on the rest, onto a stereo bus) for the block sizes hosts use, with steady gains and while
//! every gain ramps.
//!
//! `cargo bench -p orator-benches --bench mixer`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orator::dsp::mix::{Mixer, Source, StripSettings};
use std::hint::black_box;

const SAMPLE_RATE: f32 = 48_000.0;

fn mixer(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer");
    for &strips in &[2usize, 8, 16, 32] {
        for &frames in &[64usize, 256, 512, 2048] {
            // One channel-sample per strip and frame is the unit of work.
            group.throughput(Throughput::Elements((frames * strips) as u64));
            let sources: Vec<Vec<f32>> = (1..strips)
                .map(|s| {
                    (0..frames)
                        .map(|i| (i as f32 * 0.01 * s as f32).sin() * 0.1)
                        .collect()
                })
                .collect();
            let input: Vec<f32> = (0..frames).map(|i| (i as f32 * 0.02).sin() * 0.5).collect();
            let (mut left, mut right) = (input.clone(), input.clone());
            let pans: Vec<f32> = (0..strips)
                .map(|s| s as f32 / strips as f32 - 0.5)
                .collect();

            let mut steady = Mixer::new(strips);
            steady.prepare(SAMPLE_RATE, frames);
            for (s, &pan) in pans.iter().enumerate() {
                steady.set_strip(
                    s,
                    StripSettings {
                        gain: 0.5,
                        pan,
                        ..StripSettings::default()
                    },
                );
            }
            steady.settle(2, &[true]);
            let sources: Vec<Source> = sources.iter().map(|s| Source::mono(s)).collect();
            let id = format!("{strips}_strips_steady");
            group.bench_function(BenchmarkId::new(id, frames), |b| {
                b.iter(|| {
                    left.copy_from_slice(&input);
                    right.copy_from_slice(&input);
                    steady.process(
                        &mut [&mut left[..], &mut right[..]],
                        None,
                        black_box(&sources),
                    );
                    black_box(left[0]);
                })
            });

            let mut ramping = Mixer::new(strips);
            ramping.prepare(SAMPLE_RATE, frames);
            let mut flip = false;
            let id = format!("{strips}_strips_ramping");
            group.bench_function(BenchmarkId::new(id, frames), |b| {
                b.iter(|| {
                    // A new target every block keeps every gain ramping.
                    flip = !flip;
                    let gain = if flip { 0.5 } else { 0.9 };
                    for (s, &pan) in pans.iter().enumerate() {
                        ramping.set_strip(
                            s,
                            StripSettings {
                                gain,
                                pan,
                                ..StripSettings::default()
                            },
                        );
                    }
                    ramping.set_output(gain);
                    left.copy_from_slice(&input);
                    right.copy_from_slice(&input);
                    ramping.process(
                        &mut [&mut left[..], &mut right[..]],
                        None,
                        black_box(&sources),
                    );
                    black_box(left[0]);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, mixer);
criterion_main!(benches);

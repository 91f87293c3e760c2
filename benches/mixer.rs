//! The output mixer (dry + voice through the output gain, with input sanitising) on stereo
//! blocks of the sizes hosts use, with steady gains and while every gain is ramping.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orator::dsp::mix::{MixGains, Mixer};
use std::hint::black_box;

const SAMPLE_RATE: f32 = 48_000.0;
const CHANNELS: usize = 2;

fn mixer(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer_stereo");
    for &frames in &[64usize, 256, 512, 2048] {
        group.throughput(Throughput::Elements((frames * CHANNELS) as u64));
        let voice: Vec<f32> = (0..frames).map(|i| (i as f32 * 0.01).sin() * 0.3).collect();
        let mut left: Vec<f32> = (0..frames).map(|i| (i as f32 * 0.02).sin() * 0.5).collect();
        let mut right = left.clone();

        let mut steady = Mixer::new(MixGains::default());
        steady.prepare(SAMPLE_RATE, frames);
        group.bench_function(BenchmarkId::new("steady", frames), |b| {
            b.iter(|| {
                steady.process(&mut [&mut left[..], &mut right[..]], black_box(&voice));
                black_box(left[0]);
            })
        });

        let mut ramping = Mixer::new(MixGains::default());
        ramping.prepare(SAMPLE_RATE, frames);
        let mut flip = false;
        group.bench_function(BenchmarkId::new("ramping", frames), |b| {
            b.iter(|| {
                // A new target every block keeps all three gains ramping.
                flip = !flip;
                let g = if flip { 0.5 } else { 0.9 };
                ramping.set_gains(MixGains {
                    dry: g,
                    voice: 1.0 - g,
                    output: g,
                });
                ramping.process(&mut [&mut left[..], &mut right[..]], black_box(&voice));
                black_box(left[0]);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, mixer);
criterion_main!(benches);

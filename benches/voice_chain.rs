//! The voice chain per stage and whole, on mono voice blocks, with every stage engaged
//! (EQ boosts and cuts, de-esser 6 dB, compressor 4:1 with makeup, limiter at -3 dBFS).
//!
//! `cargo bench -p orator-benches --bench voice_chain`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orator::dsp::compressor::{Compressor, CompressorSettings};
use orator::dsp::deesser::DeEsser;
use orator::dsp::eq::{EqSettings, VoiceEq};
use orator::dsp::limiter::Limiter;
use orator::dsp::voice_chain::{VoiceChain, VoiceChainSettings};
use std::hint::black_box;

const RATE: f32 = 48_000.0;

fn settings() -> VoiceChainSettings {
    VoiceChainSettings {
        eq: EqSettings {
            low_db: -3.0,
            mid_db: 2.0,
            high_db: 4.0,
            ..EqSettings::default()
        },
        deess_db: 6.0,
        compressor: CompressorSettings {
            threshold_db: -24.0,
            ratio: 4.0,
            makeup_db: 6.0,
            ..Default::default()
        },
        ceiling_db: -3.0,
    }
}

fn voice_like(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| 0.4 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 1.3).sin())
        .collect()
}

fn chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("voice_chain");
    for &frames in &[64usize, 512, 2048] {
        group.throughput(Throughput::Elements(frames as u64));
        let input = voice_like(frames);
        let mut block = input.clone();

        let mut eq = VoiceEq::default();
        eq.prepare(RATE);
        eq.set(settings().eq);
        group.bench_function(BenchmarkId::new("eq_3_band", frames), |b| {
            b.iter(|| {
                block.copy_from_slice(&input);
                eq.process(black_box(&mut block));
            })
        });

        let mut compressor = Compressor::default();
        compressor.prepare(RATE);
        compressor.set(settings().compressor);
        group.bench_function(BenchmarkId::new("compressor", frames), |b| {
            b.iter(|| {
                block.copy_from_slice(&input);
                compressor.process(black_box(&mut block));
            })
        });

        let mut deesser = DeEsser::default();
        deesser.prepare(RATE);
        deesser.set(settings().deess_db);
        group.bench_function(BenchmarkId::new("deesser", frames), |b| {
            b.iter(|| {
                block.copy_from_slice(&input);
                deesser.process(black_box(&mut block));
            })
        });

        let mut limiter = Limiter::default();
        limiter.prepare(RATE);
        limiter.set(settings().ceiling_db);
        group.bench_function(BenchmarkId::new("limiter", frames), |b| {
            b.iter(|| {
                block.copy_from_slice(&input);
                limiter.process(black_box(&mut block));
            })
        });

        let mut whole = VoiceChain::default();
        whole.prepare(RATE, frames);
        whole.set(&settings());
        group.bench_function(BenchmarkId::new("whole_chain", frames), |b| {
            b.iter(|| {
                block.copy_from_slice(&input);
                whole.process(black_box(&mut block));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, chain);
criterion_main!(benches);

//! The voice chain per stage and whole, on mono voice blocks, with every stage engaged
//! (EQ boosts and cuts, de-esser 6 dB, compressor 4:1 with makeup, limiter at -3 dBFS).
//!
//! `cargo bench -p orator-benches --bench voice_chain`

#[path = "common.rs"]
mod common;

use common::voice_like;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orator::dsp::compressor::Compressor;
use orator::dsp::deesser::DeEsser;
use orator::dsp::eq::VoiceEq;
use orator::dsp::limiter::Limiter;
use orator::dsp::voice_chain::{VoiceChain, VoiceChainSettings};
use std::hint::black_box;

const RATE: f32 = 48_000.0;

fn settings() -> VoiceChainSettings {
    common::engaged_voice_chain()
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

//! What each encoded response format costs per second of speech: the demo render that `cargo
//! xtask build` leaves (`target/orator-demo.wav`, real speech), as 24 kHz-sized 16-bit mono
//! samples, encoded whole as the API encodes a `flac`, `mp3` or `opus` response.
//!
//! `cargo bench -p orator-benches --bench encode` (after `cargo xtask build`)

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orator::api::formats::{Format, encode_file};
use orator::api::{flac, openai};
use std::hint::black_box;

fn encode(c: &mut Criterion) {
    let Some((channels, rate)) = common::demo_render() else {
        return;
    };
    // The left channel, as 16-bit samples: one second of them is `sample_rate` samples.
    let left = &channels[0];
    let samples = openai::to_i16(left);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function("flac_mono_16bit", |b| {
        b.iter(|| flac::encode(black_box(&samples), 1, rate).map(|f| f.len()))
    });
    group.bench_function("mp3_mono_64kbps", |b| {
        b.iter(|| {
            encode_file(black_box(&samples), 1, rate, Format::Mp3).map(|f| f.map(|f| f.len()))
        })
    });
    // Opus takes 24 kHz, not the demo's 22.05: the same samples read as 24 kHz audio, enough
    // for its cost per sample.
    group.bench_function("opus_mono_32kbps_24khz", |b| {
        b.iter(|| {
            encode_file(black_box(&samples), 1, 24_000, Format::Opus).map(|f| f.map(|f| f.len()))
        })
    });
    group.bench_function("wav_mono_16bit", |b| {
        b.iter(|| openai::encode(black_box(&samples), openai::Format::Wav).map(|f| f.len()))
    });
    group.finish();
    eprintln!(
        "{:.2} s of speech at {rate} Hz",
        samples.len() as f64 / f64::from(rate)
    );
}

criterion_group!(benches, encode);
criterion_main!(benches);

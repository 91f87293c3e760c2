//! What each encoded response format costs per second of speech: the demo render that `cargo
//! xtask build` leaves (`target/orator-demo.wav`, real speech), as 24 kHz-sized 16-bit mono
//! samples, encoded whole as the API encodes a `flac` response.
//!
//! `cargo bench -p orator-benches --bench encode` (after `cargo xtask build`)

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orator::api::{flac, openai};
use std::hint::black_box;
use std::path::Path;

fn encode(c: &mut Criterion) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/orator-demo.wav");
    let Ok(mut reader) = hound::WavReader::open(&demo) else {
        eprintln!("no {}: run `cargo xtask build` first", demo.display());
        return;
    };
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let Ok(all) = reader.samples::<f32>().collect::<Result<Vec<f32>, _>>() else {
        eprintln!("{} is not a float WAV", demo.display());
        return;
    };
    // The left channel, as 16-bit samples: one second of them is `sample_rate` samples.
    let left: Vec<f32> = all.iter().step_by(channels).copied().collect();
    let samples = openai::to_i16(&left);
    let rate = spec.sample_rate;
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function("flac_mono_16bit", |b| {
        b.iter(|| flac::encode(black_box(&samples), 1, rate).map(|f| f.len()))
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

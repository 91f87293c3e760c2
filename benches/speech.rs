//! The speech engine with the real default voice (needs `cargo xtask assets`): voice load time;
//! for 4-, 16- and 40-word sentences, the time to the first audio (the first window the
//! decoder hands on) and the total synthesis time; plus a cache hit.
//!
//! `cargo bench -p orator-benches --bench speech`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orator::tts::engine::Engine;
use orator::tts::phrase_cache::PhraseCache;
use orator::tts::resources::Resources;
use orator::tts::voice::Voice;
use std::hint::black_box;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "sentences.rs"]
mod sentences;
use sentences::SENTENCES;

fn resources() -> Resources {
    Resources::locate().expect("run `cargo xtask assets` first")
}

fn speech(c: &mut Criterion) {
    let r = resources();
    let mut group = c.benchmark_group("speech");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(12));

    group.bench_function("voice_load", |b| {
        // Dropping the voice each time forces a real load (the registry holds weak refs).
        b.iter(|| black_box(Voice::load(&r.default_voice(), &r.onnxruntime()).unwrap()))
    });

    let voice = Voice::load(&r.default_voice(), &r.onnxruntime()).expect("voice");
    let engine = Engine::new(voice.clone(), r.espeak_data());
    let settings = voice.config.defaults;
    for (name, text) in SENTENCES {
        let mut samples = 0usize;
        engine
            .speak(text, &settings, &mut |c| {
                samples += c.samples.len();
                ControlFlow::Continue(())
            })
            .expect("speak");
        // Throughput in seconds of audio (elements = samples at 22050 Hz).
        group.throughput(Throughput::Elements(samples as u64));
        // Time to the first audio: speak, and stop at the first chunk handed on.
        group.bench_with_input(BenchmarkId::new("first_audio", name), text, |b, text| {
            b.iter(|| {
                engine
                    .speak(black_box(text), &settings, &mut |c| {
                        black_box(c.samples.len());
                        ControlFlow::Break(())
                    })
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("synthesize", name), text, |b, text| {
            b.iter(|| {
                engine
                    .speak(black_box(text), &settings, &mut |c| {
                        black_box(c.samples.len());
                        ControlFlow::Continue(())
                    })
                    .unwrap()
            })
        });
    }

    // The same, with the whole model run per sentence (Piper's way, no streaming).
    let whole_voice = Voice::load_whole(&r.default_voice(), &r.onnxruntime()).expect("voice");
    let whole = Engine::new(whole_voice, r.espeak_data());
    for (name, text) in SENTENCES {
        group.bench_with_input(
            BenchmarkId::new("whole_first_audio", name),
            text,
            |b, text| {
                b.iter(|| {
                    whole
                        .speak(black_box(text), &settings, &mut |_| ControlFlow::Break(()))
                        .unwrap()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("whole_synthesize", name),
            text,
            |b, text| {
                b.iter(|| {
                    whole
                        .speak(black_box(text), &settings, &mut |c| {
                            black_box(c.samples.len());
                            ControlFlow::Continue(())
                        })
                        .unwrap()
                })
            },
        );
    }

    // Repeated-phrase workload: 200 requests drawn (seeded) from 10 chat-bot phrases.
    let phrases: Vec<String> = (0..10)
        .map(|i| format!("Thanks for the follow, viewer {i}!"))
        .collect();
    let workload_cache = Arc::new(Mutex::new(PhraseCache::default()));
    let workload = Engine::new(voice.clone(), r.espeak_data()).with_cache(workload_cache.clone());
    let mut state = 0x2545_f491_u32;
    for _ in 0..200 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let text = &phrases[state as usize % phrases.len()];
        workload
            .speak(text, &settings, &mut |_| ControlFlow::Continue(()))
            .unwrap();
    }
    let (hits, misses) = workload_cache.lock().unwrap().counts();
    eprintln!(
        "speech/cache_workload: 200 requests over 10 phrases: {hits} hits, {misses} misses, hit rate {:.1} %",
        100.0 * hits as f64 / (hits + misses) as f64
    );

    let cache = Arc::new(Mutex::new(PhraseCache::default()));
    let cached = Engine::new(voice, r.espeak_data()).with_cache(cache.clone());
    let text = SENTENCES[1].1;
    cached
        .speak(text, &settings, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function("cache_hit_16_words", |b| {
        b.iter(|| {
            cached
                .speak(black_box(text), &settings, &mut |c| {
                    black_box(c.samples.len());
                    ControlFlow::Continue(())
                })
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, speech);
criterion_main!(benches);

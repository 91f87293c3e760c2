//! Moving a 512-sample voice block from the speech thread's side to the audio thread's side:
//! `rtrb` (wait-free, what Orator uses) against `Mutex<VecDeque<f32>>` (what a first version
//! might use), single-threaded so the numbers are the uncontended cost of the operations
//! themselves. Under contention the mutex can also block the audio thread, which no number here
//! shows.
//!
//! `cargo bench -p orator-benches --bench ring`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Mutex;

const BLOCK: usize = 512;

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("voice_ring_512");
    group.throughput(Throughput::Elements(BLOCK as u64));
    let source = vec![0.25f32; BLOCK];
    let mut dest = vec![0.0f32; BLOCK];

    let (mut producer, mut consumer) = rtrb::RingBuffer::<f32>::new(48_000 * 4);
    group.bench_function("rtrb_push_pop", |b| {
        b.iter(|| {
            let (_, rest) = producer.push_partial_slice(black_box(&source));
            debug_assert!(rest.is_empty());
            let (filled, _) = consumer.pop_partial_slice(&mut dest);
            black_box(filled.len());
        })
    });

    let queue = Mutex::new(VecDeque::<f32>::with_capacity(48_000 * 4));
    group.bench_function("mutex_vecdeque_push_pop", |b| {
        b.iter(|| {
            queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(black_box(&source).iter().copied());
            let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
            for (d, s) in dest.iter_mut().zip(q.drain(..BLOCK)) {
                *d = s;
            }
            black_box(dest[0]);
        })
    });
    group.finish();
}

criterion_group!(benches, ring);
criterion_main!(benches);

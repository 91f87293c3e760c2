//! What the phrase bank costs `process()`: mixing a 512-sample block of one and of eight phrases
//! sounding at once (the most that overlap), and a block that starts a phrase (a retrigger: the
//! old voice fades out while the new one starts).
//!
//! `cargo bench -p orator-benches --bench bank`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orator::playback::bank::{self, BankShared, VOICES};
use orator::state::SharedSession;
use std::hint::black_box;
use std::sync::Arc;

const BLOCK: usize = 512;
const RATE: f32 = 48_000.0;

fn bank(c: &mut Criterion) {
    let session = Arc::new(SharedSession::default());
    let lines: Vec<String> = (1..=VOICES).map(|i| format!("Phrase {i}.")).collect();
    session.set_text(lines.join("\n"));
    let (mut player, mut feeder) = bank::channel(
        Arc::new(BankShared::default()),
        session.clone(),
        RATE,
        BLOCK,
    );
    feeder.sync(&session);
    feeder.settle_now();
    // Ten minutes per phrase, so no voice ends while it is measured.
    let len = (RATE * 600.0) as usize;
    while let Some(job) = feeder.next_job() {
        feeder.deliver(&job, vec![0.1; if job.slot == 0 { 1 } else { len }]);
    }
    let mut out = vec![0.0f32; BLOCK];
    let mut group = c.benchmark_group("bank_mix_512");
    group.throughput(Throughput::Elements(BLOCK as u64));
    player.trigger(1, 0, 1.0, None, false);
    group.bench_function("one_phrase", |b| {
        b.iter(|| {
            player.mix_into(black_box(&mut out), false);
        })
    });
    for slot in 2..=VOICES {
        player.trigger(slot, 0, 1.0, None, false);
    }
    group.bench_function("eight_phrases", |b| {
        b.iter(|| {
            player.mix_into(black_box(&mut out), false);
        })
    });
    player.stop_all(0);
    player.mix_into(&mut out, false);
    player.mix_into(&mut out, false);
    group.bench_function("trigger_then_block", |b| {
        b.iter(|| {
            black_box(player.trigger(black_box(3), 100, 1.0, Some(62), false));
            player.mix_into(black_box(&mut out), false);
        })
    });
    group.finish();
}

criterion_group!(benches, bank);
criterion_main!(benches);

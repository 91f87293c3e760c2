//! What the chat filter costs per message, with the built-in chat lexicon and default
//! settings: a short chat line, a line of shorthand, emoticons and kaomoji, and a line at the
//! 500-character cap with emoji and links.
//!
//! `cargo bench -p orator-benches --bench chat_filter -- --warm-up-time 1 --measurement-time 2`

use criterion::{Criterion, criterion_group, criterion_main};
use orator::api::filter::{FilterSettings, filter};
use std::hint::black_box;

fn chat_filter(c: &mut Criterion) {
    let settings = FilterSettings::default();
    let long = "gg ez 🎉🎉 check https://example.com/clip pls sooooo good xX_Sn1per_Xx <3 "
        .repeat(8)
        .chars()
        .take(500)
        .collect::<String>();
    let lines = [
        (
            "short",
            "hello chat, how is everyone doing tonight?".to_owned(),
        ),
        (
            "shorthand_and_symbols",
            "lol that was sooooo bad 😂😂 gg ez ¯\\_(ツ)_/¯ 10/10 :D".to_owned(),
        ),
        ("500_characters", long),
    ];
    let mut group = c.benchmark_group("chat_filter");
    for (name, line) in &lines {
        group.bench_function(*name, |b| b.iter(|| filter(black_box(line), &settings)));
    }
    group.finish();
}

criterion_group!(benches, chat_filter);
criterion_main!(benches);

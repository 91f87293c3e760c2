//! The phrase queue (what the editor and the API speak through) with the real voice, through
//! the plugin's own speech service and rings, waiting for speech as an offline render does so
//! every sample is predictable: queued phrases follow each other whole with no click at the
//! join, and Skip fades the phrase out within 5 ms and starts the next at once.

mod common;

use orator::playback::service::SpeechService;
use orator::playback::stream::{AudioSide, PhraseEventKind, PhraseId};

const RATE: f32 = 48_000.0;
const BLOCK: usize = 512;
/// 5 ms at 48 kHz: the fade of Stop, Skip and Pause.
const FADE: usize = 240;
const TEXT: &str = "Queue me up. Then play me again, please.";

fn service() -> SpeechService {
    common::ready_service()
}

/// Plays `blocks` blocks, calling `each(block, audio)` before each; returns the voice and the
/// ids that finished.
fn play(
    service: &SpeechService,
    audio: &mut AudioSide,
    blocks: usize,
    each: &dyn Fn(usize, &AudioSide),
) -> (Vec<f32>, Vec<PhraseId>) {
    let mut out = Vec::with_capacity(blocks * BLOCK);
    let mut finished = Vec::new();
    let mut cursor = service.event_cursor();
    for block in 0..blocks {
        each(block, audio);
        out.extend_from_slice(audio.read_voice(BLOCK));
        service.events_since(&mut cursor, &mut |event| {
            if event.kind == PhraseEventKind::Finished {
                finished.push(event.id);
            }
        });
    }
    (out, finished)
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

/// The phrase alone, up to its last non-zero sample. Waiting as a render does, the stream
/// starts with it at sample 0.
fn phrase(service: &SpeechService) -> Vec<f32> {
    let (mut audio, _bank) = service.attach(RATE, BLOCK);
    audio.set_waiting(true);
    let id = service.speak(TEXT);
    let (out, finished) = play(service, &mut audio, 600, &|_, _| {});
    assert_eq!(finished, [id]);
    let end = out.iter().rposition(|&x| x != 0.0).expect("speech") + 1;
    assert!(end + BLOCK < out.len(), "the run must outlast the phrase");
    out[..end].to_vec()
}

#[test]
fn queued_phrases_follow_each_other_whole_and_without_a_click() {
    let service = service();
    let phrase = phrase(&service);
    let (mut audio, _bank) = service.attach(RATE, BLOCK);
    audio.set_waiting(true);
    let ids = [service.speak(TEXT), service.speak(TEXT)];
    let (out, finished) = play(&service, &mut audio, 1000, &|_, _| {});
    assert_eq!(finished, ids, "both, in order");
    assert_eq!(out[..phrase.len()], phrase[..], "first phrase");
    let second = (phrase.len()..phrase.len() + 4800)
        .find(|&at| out.get(at..at + phrase.len()) == Some(&phrase[..]))
        .expect("the second phrase is a whole copy of the first");
    assert!(
        out[phrase.len()..second].iter().all(|&x| x == 0.0),
        "only the phrase's own trailing zeros lie between the two"
    );
    let join = max_step(&out[second - 2..second + 2]);
    assert!(
        join <= max_step(&phrase),
        "the join steps by {join}, more than the speech itself"
    );
}

#[test]
fn skip_fades_the_phrase_and_starts_the_next_at_once() {
    const SKIP_BLOCK: usize = 30;
    let service = service();
    let phrase = phrase(&service);
    let (mut audio, _bank) = service.attach(RATE, BLOCK);
    audio.set_waiting(true);
    service.speak(TEXT);
    service.speak(TEXT);
    let (out, _) = play(&service, &mut audio, 1000, &|block, audio| {
        if block == SKIP_BLOCK {
            audio.control().skip();
        }
    });
    let skip = SKIP_BLOCK * BLOCK;
    assert!(
        skip + FADE < phrase.len(),
        "the skip lands inside the phrase"
    );
    assert_eq!(out[..skip], phrase[..skip], "untouched before the skip");
    for i in 0..FADE {
        let gain = (FADE - i - 1) as f32 / FADE as f32;
        let original = phrase[skip + i];
        assert!(
            (out[skip + i] - original * gain).abs() <= 1e-6,
            "fade sample {i}: {} vs {original} × {gain}",
            out[skip + i]
        );
    }
    assert_eq!(
        out[skip + FADE..skip + FADE + phrase.len()],
        phrase[..],
        "the next phrase starts right after the fade, whole"
    );
}

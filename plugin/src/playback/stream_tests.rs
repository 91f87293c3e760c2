//! The stream's tests: the three threads sharing the rings, phrase order and events, stop,
//! skip, clear and pause, and a triggered phrase's start inside a block.

use super::*;
use std::sync::atomic::AtomicBool;

/// A speech thread stand-in: pushes one phrase of `samples`.
fn phrase(worker: &mut WorkerSide, id: PhraseId, samples: &[f32]) {
    let never = || false;
    assert!(worker.mark(id, Edge::Start, &never));
    assert!(worker.push(samples, &never));
    assert!(worker.mark(id, Edge::End, &never));
}

fn events(reader: &mut EventReader) -> Vec<(PhraseId, PhraseEventKind, u64)> {
    std::iter::from_fn(|| reader.pop().ok())
        .map(|e| (e.id, e.kind, e.at))
        .collect()
}

/// The three threads at once, as in a host: a speech thread streaming phrases into the
/// rings, the audio thread reading blocks, the main thread stopping, clearing and pausing.
/// Every phrase heard is whole or cut by a cancel, events come in order, and each sample
/// read is one a phrase pushed (or silence). Small enough for Miri, which checks the
/// atomics' orderings and the rings for data races (`docs/design/concurrency.md`).
#[test]
fn speech_audio_and_main_threads_share_the_rings() {
    let phrases: u32 = if cfg!(miri) { 6 } else { 200 };
    let len = if cfg!(miri) { 40 } else { 400 };
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, mut reader) = channel(control.clone(), 1000.0, 16);
    let done = Arc::new(AtomicBool::new(false));
    let speech = {
        let control = control.clone();
        std::thread::spawn(move || {
            let never = || false;
            for _ in 0..phrases {
                let id = control.new_id();
                control.count_request();
                control.set_producing(id);
                // Sample values carry the phrase id, so the reader can tell them apart.
                let samples = vec![id as f32; len];
                if !control.is_cancelled(id) {
                    assert!(worker.mark(id, Edge::Start, &never));
                    assert!(worker.push(&samples, &never));
                    assert!(worker.mark(id, Edge::End, &never));
                } else {
                    assert!(worker.try_mark_empty(id) || control.is_cancelled(id));
                }
                control.set_producing(0);
                control.count_done();
            }
        })
    };
    let main = {
        let (control, done) = (control.clone(), done.clone());
        std::thread::spawn(move || {
            let mut turn = 0u32;
            while !done.load(Ordering::Acquire) {
                match turn % 4 {
                    0 => control.skip(),
                    1 => control.clear(),
                    2 => control.set_paused(true),
                    _ => control.set_paused(false),
                }
                turn += 1;
                std::thread::yield_now();
            }
            control.set_paused(false);
        })
    };
    let mut last_started = 0;
    let mut reads = 0;
    loop {
        for &sample in audio.read_voice(16).iter() {
            // Silence, a fade of a phrase's constant value, or the value itself.
            assert!(sample >= 0.0 && sample <= phrases as f32 + 1.0);
        }
        while let Ok(event) = reader.pop() {
            if event.kind == PhraseEventKind::Started {
                assert!(event.id > last_started, "phrases started out of order");
                last_started = event.id;
            }
        }
        reads += 1;
        if speech.is_finished() && !control.pending() && !audio.is_active() {
            break;
        }
        assert!(reads < 1_000_000, "the rings never drained");
        std::thread::yield_now();
    }
    done.store(true, Ordering::Release);
    speech.join().expect("the speech thread panicked");
    main.join().expect("the main thread panicked");
}

#[test]
fn phrases_play_in_order_with_events_and_late_samples_are_underruns() {
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, mut reader) = channel(control.clone(), 1000.0, 8);
    let id = audio.request_speech().unwrap();
    assert_eq!(worker.requests.pop(), Ok(Request::SpeakSession { id }));
    assert!(
        audio.is_active(),
        "a request not yet done keeps the plugin alive"
    );
    phrase(&mut worker, id, &[1.0, 2.0, 3.0]);
    control.count_done();
    let second = control.new_id();
    assert!(worker.mark(second, Edge::Start, &|| false));
    assert!(worker.push(&[4.0], &|| false));
    assert_eq!(audio.read_voice(6), &[1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
    assert_eq!(control.playing(), second);
    assert_eq!(audio.underruns(), 2, "the second phrase ran dry");
    assert_eq!(
        events(&mut reader),
        vec![
            (id, PhraseEventKind::Started, 0),
            (id, PhraseEventKind::Finished, 3),
            (second, PhraseEventKind::Started, 3),
        ],
        "events carry the sample they happened at"
    );
    assert!(worker.mark(second, Edge::End, &|| false));
    assert_eq!(
        audio.read_voice(100).len(),
        8,
        "clamped to the activated maximum"
    );
    assert_eq!(control.playing(), 0);
    assert_eq!(
        events(&mut reader),
        vec![(second, PhraseEventKind::Finished, 6)]
    );
    assert!(!audio.is_active());
}

#[test]
fn stop_fades_within_the_block_and_discards_the_rest() {
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, mut reader) = channel(control.clone(), 1000.0, 16); // 5 ms = 5 samples
    let id = control.new_id();
    assert!(worker.mark(id, Edge::Start, &|| false));
    assert!(worker.push(&[1.0; 12], &|| false));
    assert_eq!(audio.read_voice(2), &[1.0, 1.0]);
    control.stop();
    let out = audio.read_voice(8).to_vec();
    let expected = [0.8f32, 0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0];
    assert!(
        out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6),
        "{out:?}"
    );
    // The speech thread pushes a little more before it notices: never heard.
    assert!(worker.push(&[1.0; 4], &|| false));
    assert!(worker.mark(id, Edge::End, &|| false));
    assert_eq!(audio.read_voice(4), &[0.0; 4]);
    assert_eq!(audio.underruns(), 0, "a stopped phrase is not late");
    // A phrase asked for after the Stop plays.
    let next = control.new_id();
    phrase(&mut worker, next, &[0.5; 2]);
    assert_eq!(audio.read_voice(3), &[0.5, 0.5, 0.0]);
    assert_eq!(
        events(&mut reader)
            .iter()
            .map(|e| (e.0, e.1))
            .collect::<Vec<_>>(),
        vec![
            (id, PhraseEventKind::Started),
            (id, PhraseEventKind::Cancelled),
            (next, PhraseEventKind::Started),
            (next, PhraseEventKind::Finished),
        ]
    );
}

#[test]
fn skip_moves_to_the_next_phrase_and_clear_keeps_only_the_current() {
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, _reader) = channel(control.clone(), 1000.0, 64);
    let ids: Vec<PhraseId> = (0..4).map(|_| control.new_id()).collect();
    for (i, &id) in ids.iter().enumerate() {
        phrase(&mut worker, id, &[(i + 1) as f32; 10]);
    }
    assert_eq!(audio.read_voice(3), &[1.0; 3]);
    control.skip();
    let out = audio.read_voice(15).to_vec();
    assert!(out[..5].iter().all(|&x| x < 1.0), "faded: {out:?}");
    assert_eq!(
        out[5..],
        [2.0; 10],
        "the next phrase follows the fade at once"
    );
    assert_eq!(control.playing(), 0, "phrase 2 has played to its end");
    control.clear();
    let out = audio.read_voice(20).to_vec();
    assert!(
        out.iter().all(|&x| x == 0.0),
        "3 and 4 were cleared: {out:?}"
    );
    let later = control.new_id();
    phrase(&mut worker, later, &[5.0; 2]);
    assert_eq!(audio.read_voice(2), &[5.0; 2], "phrases after a clear play");
}

#[test]
fn clear_lets_the_heard_phrase_finish() {
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, _reader) = channel(control.clone(), 1000.0, 64);
    let (a, b) = (control.new_id(), control.new_id());
    phrase(&mut worker, a, &[1.0; 10]);
    phrase(&mut worker, b, &[2.0; 10]);
    assert_eq!(audio.read_voice(4), &[1.0; 4]);
    control.clear();
    assert_eq!(audio.read_voice(10)[..6], [1.0; 6]);
    assert!(audio.read_voice(10).iter().all(|&x| x == 0.0));
}

#[test]
fn pause_fades_out_holds_and_resumes_where_it_was() {
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, _reader) = channel(control.clone(), 1000.0, 64);
    let id = control.new_id();
    let ramp: Vec<f32> = (0..40).map(|i| i as f32).collect();
    phrase(&mut worker, id, &ramp);
    assert_eq!(audio.read_voice(10), &ramp[..10]);
    control.set_paused(true);
    let faded = audio.read_voice(10).to_vec();
    assert_eq!(
        faded[5..],
        [0.0; 5],
        "held after the 5-sample fade: {faded:?}"
    );
    assert!(
        faded[..4]
            .iter()
            .zip(&ramp[10..])
            .all(|(a, b)| a < b && *a > 0.0)
    );
    assert!(!audio.is_active(), "paused: the host may stop calling");
    assert_eq!(audio.read_voice(10), &[0.0; 10]);
    assert_eq!(audio.underruns(), 0, "a pause is not an underrun");
    control.set_paused(false);
    let resumed = audio.read_voice(10).to_vec();
    assert!(
        resumed[0] < ramp[15] && resumed[0] > 0.0,
        "fades back in: {resumed:?}"
    );
    assert_eq!(resumed[5..], ramp[20..25], "from where it paused");
}

#[test]
fn a_phrase_triggered_inside_a_block_starts_at_its_sample() {
    let control = Arc::new(Control::default());
    let (mut audio, mut worker, mut reader) = channel(control.clone(), 1000.0, 16);
    let id = audio.request_line(1).unwrap();
    audio.start_not_before(id, 5);
    phrase(&mut worker, id, &[1.0; 4]);
    let out = audio.read_voice(12).to_vec();
    assert_eq!(
        out,
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    );
    let started = events(&mut reader)
        .into_iter()
        .find(|&(_, kind, _)| kind == PhraseEventKind::Started);
    assert_eq!(started, Some((id, PhraseEventKind::Started, 5)));
    // Only for the block it was asked in: the next phrase plays from the block's start.
    let next = audio.request_line(2).unwrap();
    phrase(&mut worker, next, &[2.0; 3]);
    assert_eq!(audio.read_voice(4), &[2.0, 2.0, 2.0, 0.0]);
}

//! A panic on the speech thread (a bug, or a library failing in a way nobody foresaw) must not
//! leave the plugin stuck: the phrase fails with the reason, the stream ends it so the host
//! stops being kept awake and an offline render stops waiting, the status says what happened,
//! and the next phrase is spoken (the voice loads again).
//!
//! Debug builds panic the speech thread on a phrase holding `ORATOR_TEST_PANIC_MARKER`; this
//! binary sets it before any speech thread starts and holds this one test only.

mod common;

use orator::playback::service::State;
use orator::playback::stream::PhraseEventKind;
use std::time::{Duration, Instant};

const MARKER: &str = "kaboom-7d3f";

#[test]
fn a_panicking_phrase_fails_alone_and_the_next_one_is_spoken() {
    // SAFETY: set before any thread of this process reads the environment (the speech thread
    // starts below), and this binary runs only this test.
    unsafe { std::env::set_var("ORATOR_TEST_PANIC_MARKER", MARKER) };
    let service = common::ready_service();
    let (mut audio, _bank) = service.attach(48_000.0, 512);
    // Waiting as an offline render does: a phrase the thread never ends would hold every
    // block here for the wait limit.
    audio.set_waiting(true);
    let mut cursor = service.event_cursor();

    let doomed = service.speak(format!("This one says {MARKER} and never gets out."));
    let started = Instant::now();
    let mut ended = None;
    while ended.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the broken phrase never ended"
        );
        audio.read_voice(512);
        service.events_since(&mut cursor, &mut |event| {
            if event.id == doomed && event.kind != PhraseEventKind::Started {
                ended = Some(event.kind);
            }
        });
    }
    let why = service.failure(doomed).expect("the phrase failed");
    assert!(
        why.contains("speech thread failed") && why.contains(MARKER),
        "{why}"
    );
    assert_eq!(service.status.state(), State::Failed);
    assert!(service.status.message().contains("speech thread failed"));
    // Nothing left to keep the host awake for.
    assert!(!audio.is_active(), "still keeping the host awake");

    // The thread lives on: the next phrase loads the voice again and is heard.
    let next = service.speak("And this one is spoken.");
    let heard = common::heard_until_finished(
        &service,
        &mut audio,
        next,
        Duration::from_secs(60),
        "the next phrase never finished",
    );
    assert!(service.failure(next).is_none());
    assert!(heard > 10_000, "only {heard} samples heard");
    assert_eq!(service.status.state(), State::Ready);
}

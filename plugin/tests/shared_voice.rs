//! Instances share one ONNX Runtime session per voice. One whose audio thread stopped reading
//! (paused, bypassed, deactivated by the host) must not silence the others: the speech thread
//! of a stalled instance waits for room in its own ring, and it must not hold the shared voice
//! while it waits.

use orator::playback::service::{SpeechService, State};
use orator::playback::stream::PhraseEventKind;
use orator::tts::resources::Resources;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn service(resources: &Resources) -> SpeechService {
    let service =
        SpeechService::start(Arc::default(), Some(resources.clone())).expect("speech thread");
    service.load_voice(None);
    let loading = Instant::now();
    while service.status.state() != State::Ready {
        assert_ne!(
            service.status.state(),
            State::Failed,
            "{}",
            service.status.message()
        );
        assert!(loading.elapsed() < Duration::from_secs(60), "voice load");
        std::thread::sleep(Duration::from_millis(5));
    }
    service
}

#[test]
fn a_stalled_instance_does_not_silence_another_sharing_its_voice() {
    let resources = Resources::locate().expect("run `cargo xtask assets` first");
    let stalled = service(&resources);
    let live = service(&resources);
    // The stalled instance's host never calls it again: its ring (a few seconds) fills and
    // its speech thread waits for room in the middle of a long phrase.
    let (_never_read, _bank) = stalled.attach(48_000.0, 512);
    stalled.speak(
        "This long announcement goes to an instance whose host has stopped calling it, so \
         nobody ever reads its audio, and its speech thread ends up waiting for room in a \
         ring that never empties, somewhere in the middle of these many, many words.",
    );
    std::thread::sleep(Duration::from_secs(3));

    // The other instance renders a phrase as an offline bounce would.
    let (mut audio, _bank) = live.attach(48_000.0, 512);
    audio.set_waiting(true);
    let mut cursor = live.event_cursor();
    let id = live.speak("The other instance still speaks.");
    let started = Instant::now();
    let mut heard = 0usize;
    let mut finished = false;
    while !finished {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the phrase did not finish: the shared voice is held by the stalled instance"
        );
        heard += audio
            .read_voice(512)
            .iter()
            .filter(|x| x.abs() > 1e-3)
            .count();
        live.events_since(&mut cursor, &mut |event| {
            finished |= event.id == id && event.kind == PhraseEventKind::Finished;
        });
    }
    assert!(heard > 10_000, "only {heard} samples heard");
}

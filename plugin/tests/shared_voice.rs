//! Instances share one ONNX Runtime session per voice. One whose audio thread stopped reading
//! (paused, bypassed, deactivated by the host) must not silence the others: the speech thread
//! of a stalled instance waits for room in its own ring, and it must not hold the shared voice
//! while it waits.

mod common;

use std::time::Duration;

#[test]
fn a_stalled_instance_does_not_silence_another_sharing_its_voice() {
    let stalled = common::ready_service();
    let live = common::ready_service();
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
    let id = live.speak("The other instance still speaks.");
    let heard = common::heard_until_finished(
        &live,
        &mut audio,
        id,
        Duration::from_secs(20),
        "the phrase did not finish: the shared voice is held by the stalled instance",
    );
    assert!(heard > 10_000, "only {heard} samples heard");
}

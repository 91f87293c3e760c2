//! In an offline render the audio thread stops at a phrase of the bank until the speech thread
//! has rendered it, and reads no stream meanwhile. A live phrase that filled the voice ring
//! must not keep the speech thread from rendering that phrase: each thread would wait for the
//! other until the render's deadline, at every such trigger.

mod common;

use orator::playback::bank::Triggered;
use orator::playback::service::SpeechService;
use orator::state::SharedSession;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_render_gets_its_bank_phrase_while_live_speech_fills_the_ring() {
    let session = Arc::new(SharedSession::default());
    let service = common::ready_service_with(session.clone());
    let (mut audio, mut bank) = service.attach(48_000.0, 512);
    audio.set_waiting(true);
    let live = service.speak(
        "This long announcement is spoken live while the host renders offline. Its audio \
         fills the voice ring, a few seconds of it, and then the speech thread waits for room, \
         somewhere in the middle of these many words, until the audio thread reads again.",
    );
    // Synthesis runs several times faster than real time: the ring is full well before this.
    std::thread::sleep(Duration::from_secs(3));

    // A line of the text is due in the render, and the bank has not rendered it yet.
    session.set_text("A first line.\nThe phrase the render stops for.".to_owned());
    let triggered = bank.trigger(2, 0, 1.0, None, true);
    assert_eq!(
        triggered,
        Triggered::Playing,
        "the render did not get its phrase: the speech thread waited for room in the ring"
    );

    // The live phrase then carries on to its end.
    let heard = common::heard_until_finished(
        &service,
        &mut audio,
        live,
        Duration::from_secs(60),
        "the live phrase did not finish after the bank phrase",
    );
    assert!(
        heard > 5 * 48_000,
        "only {heard} samples of the live phrase heard"
    );
    drop::<SpeechService>(service);
}

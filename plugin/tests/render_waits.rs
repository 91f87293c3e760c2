//! In an offline render the audio thread stops at a phrase of the bank until the speech thread
//! has rendered it, and reads no stream meanwhile. A live phrase that filled the voice ring
//! must not keep the speech thread from rendering that phrase: each thread would wait for the
//! other until the render's deadline, at every such trigger.

mod common;

use orator::playback::bank::{SlotState, Triggered};
use orator::playback::service::SpeechService;
use orator::state::SharedSession;
use std::sync::Arc;
use std::sync::atomic::Ordering;
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

#[test]
fn a_phrase_longer_than_the_bank_holds_stops_rendering_at_the_bound() {
    // A text of about a minute of speech on one line (one phrase), and a bound of two seconds
    // of audio at 48 kHz: the render must stop as soon as it passes the bound, not read the
    // whole text into memory, and the render's trigger must stream it rather than wait.
    let sentence = "This sentence is one of many on a single line that make a long phrase.";
    let text = vec![sentence; 16].join(" ");
    let session = Arc::new(SharedSession::default());
    let service = common::ready_service_with(session.clone());
    service.bank().set_bound(2 * 48_000 * 4);
    let (_audio, mut bank) = service.attach(48_000.0, 512);
    let voice_rate = 22_050;
    let before = service.metrics.samples.load(Ordering::Relaxed);
    session.set_text(text);
    assert_eq!(
        bank.trigger(1, 0, 1.0, None, true),
        Triggered::NotReady,
        "a phrase longer than the bound is streamed, not waited for"
    );
    // The whole text (slot 0) renders ahead after the text settles, and stops the same way.
    let started = std::time::Instant::now();
    let both_not_held = || {
        let views = service.bank().views();
        views.len() == 2 && views.iter().all(|v| v.state == SlotState::NotHeld)
    };
    while !both_not_held() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            service.bank().views()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let made = service.metrics.samples.load(Ordering::Relaxed) - before;
    println!(
        "synthesised for both slots: {:.1} s",
        made as f64 / f64::from(voice_rate as u32)
    );
    // Each of the two slots (the whole text and its one line) stops past two seconds, a
    // sentence group or so later at most: far short of the minute the whole text is.
    assert!(
        made < 2 * 10 * voice_rate,
        "{:.1} s of audio synthesised for two renders bounded at 2 s",
        made as f64 / f64::from(voice_rate as u32)
    );
    drop::<SpeechService>(service);
}

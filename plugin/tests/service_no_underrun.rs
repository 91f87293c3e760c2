//! Within-sentence streaming at real-time pace, through the plugin's own speech service and
//! rings with the real voice: once a phrase is heard, every later window arrives before it is
//! due (no underrun), and the phrase plays to its end.

mod common;

use orator::playback::stream::PhraseEventKind;
use std::time::{Duration, Instant};

const RATE: f32 = 48_000.0;
const BLOCK: usize = 512;

#[test]
fn sentences_stream_at_real_time_pace_without_an_underrun() {
    let service = common::ready_service();
    let (mut audio, _bank) = service.attach(RATE, BLOCK);
    // One long sentence (its front runs over all of it before the first window) and a
    // sentence long enough to be cut at clause ends.
    let ids = [
        service.speak(
            "Welcome back to the stream, everyone; today we are building a speech plugin in Rust.",
        ),
        service.speak(
            "When you finish the first part of the tutorial, save your work, close the editor, \
             open the terminal, type the command exactly as shown, press enter, and wait for \
             the build to complete before you move on to the second part of the lesson today.",
        ),
    ];
    let started = Instant::now();
    let mut finished = Vec::new();
    let mut cursor = 0;
    let mut first_audio = None;
    let mut blocks = 0u32;
    let mut late_blocks = Vec::new();
    while finished.len() < ids.len() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "speech never finished"
        );
        let before = audio.underruns();
        let voice = audio.read_voice(BLOCK);
        let heard = voice.iter().any(|&x| x != 0.0);
        if audio.underruns() != before {
            late_blocks.push(blocks);
        }
        if first_audio.is_none() && heard {
            first_audio = Some(started.elapsed());
        }
        service.events_since(&mut cursor, &mut |event| {
            if event.kind == PhraseEventKind::Finished {
                finished.push(event.id);
            }
            assert_ne!(event.kind, PhraseEventKind::Cancelled);
        });
        blocks += 1;
        // Real-time pace: block n is due n blocks after the start.
        let due = Duration::from_secs_f64(f64::from(blocks) * BLOCK as f64 / f64::from(RATE));
        if let Some(ahead) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
    assert_eq!(finished, ids, "both phrases, in order");
    assert_eq!(
        audio.underruns(),
        0,
        "voice samples were late while a phrase played, in blocks {late_blocks:?} \
         (first audio in block {:?})",
        first_audio.map(|t| (t.as_secs_f64() * f64::from(RATE) / BLOCK as f64) as u32)
    );
    eprintln!(
        "streaming: first audio after {:.0} ms, {blocks} blocks played, no underrun",
        first_audio.unwrap_or_default().as_secs_f64() * 1e3
    );
}

//! Word timings with the real default voice, ONNX Runtime and espeak-ng: the durations the
//! voice gives add up to its audio exactly, through clause groups, word cuts and any rate; and
//! in a render through the plugin's realtime path (speech thread, rings, streaming resampler,
//! signal path) at the voice's rate and at 44.1, 48 and 96 kHz, each word's sound lies inside
//! its span and the pauses between words are quiet where the timings put them.

mod common;

use orator::api::render;
use orator::dsp::path::PathSettings;
use orator::tts::engine::Engine;
use orator::tts::resources::Resources;
use orator::tts::timings::{Span, rescale};
use orator::tts::voice::Voice;
use std::ops::ControlFlow;

fn engine() -> Engine {
    let r = Resources::locate().expect("run `cargo xtask assets` first");
    let voice = Voice::load(&r.default_voice(), &r.onnxruntime()).expect("default voice loads");
    Engine::new(voice, r.espeak_data())
}

/// Over 160 phonemes with clause ends: synthesised clause group by clause group.
const CLAUSES: &str = "When you finish the first part of the tutorial, save your work and close \
                       the editor, then open the terminal, type the command exactly as shown, \
                       and wait for the build to finish before you test anything at all.";
/// A chat line without punctuation: its first group is cut at a word boundary.
const UNPUNCTUATED: &str = "ok so the next thing we are going to do is grab the sword from \
                            the chest behind the waterfall and then head back to town to sell \
                            everything we found before the shop closes for the night";

#[test]
fn durations_add_up_to_the_audio_through_groups_cuts_and_rates() {
    let engine = engine();
    assert!(engine.voice.gives_timings());
    for text in ["Hello there. How are you?", CLAUSES, UNPUNCTUATED] {
        for length_scale in [0.6f32, 1.0, 1.8] {
            let mut settings = engine.voice.config.defaults;
            settings.length_scale = length_scale;
            // Per group: (its timings' length, its audio's length).
            let mut groups: Vec<(u64, u64)> = Vec::new();
            let mut total = 0u64;
            engine
                .speak(text, &settings, &mut |chunk| {
                    if chunk.first_of_group {
                        let timings = chunk.timings.as_ref().expect("every group is timed");
                        assert!(!timings.words.is_empty());
                        groups.push((timings.length, 0));
                    }
                    if let Some(group) = groups.last_mut() {
                        group.1 += chunk.samples.len() as u64;
                    }
                    total += chunk.samples.len() as u64;
                    ControlFlow::Continue(())
                })
                .expect("speak");
            for (k, &(timed, heard)) in groups.iter().enumerate() {
                assert_eq!(
                    timed, heard,
                    "group {k} of {text:?} at length scale {length_scale}"
                );
            }
            assert_eq!(groups.iter().map(|g| g.0).sum::<u64>(), total);
            if text != "Hello there. How are you?" {
                assert!(
                    groups.len() > 1,
                    "{text:?} is synthesised in several groups ({})",
                    groups.len()
                );
            }
        }
    }
}

/// Mean square of `x[span]`.
fn power(x: &[f32], span: std::ops::Range<usize>) -> f64 {
    let part = &x[span.start.min(x.len())..span.end.min(x.len())];
    part.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / part.len().max(1) as f64
}

/// The first sample at or after `from` louder than `threshold`.
fn onset(x: &[f32], from: usize, threshold: f32) -> Option<usize> {
    x.iter()
        .skip(from)
        .position(|v| v.abs() > threshold)
        .map(|k| k + from)
}

#[test]
fn words_sound_inside_their_spans_and_pauses_are_quiet_at_every_rate() {
    let service = common::ready_service();
    let voice_rate = service.status.voice_rate().expect("the voice's rate");
    let text = "Yes, and then, we go home. Okay, thanks.";
    let mut onsets_at_voice_rate: Vec<usize> = Vec::new();
    for rate in [voice_rate, 44_100, 48_000, 96_000] {
        let rendered = render::render(
            &service,
            text,
            rate,
            1,
            &PathSettings::default(),
            None,
            render::Limits::default(),
        );
        assert!(rendered.failure.is_none(), "{:?}", rendered.failure);
        let words = rendered.words.as_ref().expect("the phrase's timings");
        assert!(words.complete && words.finished);
        assert_eq!(words.sample_rate, rate);
        let texts: Vec<&str> = words.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Yes", "and", "then", "we", "go", "home", "Okay", "thanks"]
        );
        let start = rendered.phrase_start.expect("the phrase started") as usize;
        let x = &rendered.channels[0];
        let at = |s: Span| start + s.start as usize..start + s.end as usize;
        // Each word's sound lies inside its span: the energy of all the spans is nearly all
        // of it.
        let total: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        let inside: f64 = words
            .words
            .iter()
            .map(|w| power(x, at(w.span)) * (w.span.end - w.span.start) as f64)
            .sum();
        let share = inside / total;
        // At each comma and sentence end, the gap between the two words is quiet.
        let mut onsets = Vec::new();
        let mut quietest_db = f64::NEG_INFINITY;
        for pair in words.words.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            let gap = before.span.end as usize..after.span.start as usize;
            if gap.len() < rate as usize / 20 {
                continue; // no pause between these two
            }
            let speech = power(x, at(before.span)).max(power(x, at(after.span)));
            let middle = gap.start + gap.len() / 4..gap.end - gap.len() / 4;
            let quiet = power(x, start + middle.start..start + middle.end);
            let db = 10.0 * (quiet / speech).log10();
            quietest_db = quietest_db.max(db);
            assert!(
                db < -30.0,
                "at {rate} Hz, the pause between {:?} and {:?} is {db:.1} dB under the words",
                before.text,
                after.text
            );
            // Where the next word starts sounding, in output samples.
            onsets.push(onset(x, start + gap.start + gap.len() / 2, 0.01).expect("an onset"));
        }
        assert_eq!(
            onsets.len(),
            4,
            "pauses at the three commas and the full stop"
        );
        eprintln!(
            "{rate} Hz: {:.2}% of the energy inside the words' spans, loudest pause {quietest_db:.1} dB \
             under the words, onsets after the pauses at {onsets:?}",
            share * 100.0
        );
        assert!(share > 0.98, "at {rate} Hz only {:.3} inside", share);
        // The resampled speech starts each word where the voice's own rate puts it.
        if rate == voice_rate {
            onsets_at_voice_rate = onsets;
        } else {
            for (&native, &here) in onsets_at_voice_rate.iter().zip(&onsets) {
                let expected = rescale(native as u64, voice_rate, rate) as i64;
                let step = i64::from(rate / voice_rate).max(1) + 1;
                assert!(
                    (here as i64 - expected).abs() <= step,
                    "at {rate} Hz a word starts sounding at {here}, expected {expected}"
                );
            }
        }
    }
}

/// What the editor lights: the word the listener hears now, from the audio thread's place in
/// the phrase, held where it is while paused.
#[test]
fn the_word_heard_follows_the_audio_and_holds_while_paused() {
    use orator::playback::stream::PhraseEventKind;
    let service = common::ready_service();
    let (mut audio, _bank) = service.attach(48_000.0, 512);
    audio.set_waiting(true);
    let mut cursor = service.event_cursor();
    let id = service.speak("One, two, three, four, five, six, seven.");
    let mut played = 0u64;
    let mut started_at = None;
    let mut finished = false;
    // (samples of the phrase played, the word the service says is heard then)
    let mut seen: Vec<(u64, Option<usize>)> = Vec::new();
    let mut paused_checked = false;
    let mut blocks = 0;
    while !finished {
        blocks += 1;
        assert!(blocks < 10_000, "the phrase did not finish");
        audio.read_voice(512);
        played += 512;
        service.events_since(&mut cursor, &mut |e| {
            if e.id == id && e.kind == PhraseEventKind::Started {
                started_at = Some(e.at);
            }
            finished |= e.id == id && e.kind == PhraseEventKind::Finished;
        });
        let Some(start) = started_at else { continue };
        if finished {
            break;
        }
        let position = played - start;
        let (heard_id, heard_at) = service.control().heard().expect("a phrase is heard");
        assert_eq!((heard_id, heard_at), (id, position));
        let word = service.heard_word(id).map(|w| w.index);
        seen.push((position, word));
        // Halfway through, a pause: the place and the word stay where they are.
        if !paused_checked && word == Some(3) {
            paused_checked = true;
            service.control().set_paused(true);
            for _ in 0..40 {
                audio.read_voice(512);
                played += 512;
            }
            let (_, held_at) = service.control().heard().expect("still heard");
            // The pause fades out over 5 ms (240 samples) before it holds.
            assert!(held_at - position <= 512, "{held_at} vs {position}");
            assert_eq!(service.heard_word(id).map(|w| w.index), Some(3));
            service.control().set_paused(false);
            played -= u64::from(40 * 512u32) - (held_at - position);
        }
    }
    assert!(paused_checked, "the fourth word was never heard");
    let words = service
        .word_timings(id)
        .expect("the phrase's timings")
        .words;
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(
        texts,
        ["One", "two", "three", "four", "five", "six", "seven"]
    );
    for &(position, word) in &seen {
        let expected = words
            .iter()
            .rev()
            .find(|w| w.span.start <= position)
            .map(|w| w.index);
        assert_eq!(word, expected, "at sample {position} of the phrase");
    }
    // Every word was lit at some point, in order.
    let mut lit: Vec<usize> = seen.iter().filter_map(|s| s.1).collect();
    lit.dedup();
    assert_eq!(lit, (0..7).collect::<Vec<_>>());
}

#[test]
fn a_timeline_phrase_lights_its_words_as_its_clip_plays() {
    use orator::playback::bank::Triggered;
    use orator::state::SharedSession;
    use std::sync::Arc;
    let session = Arc::new(SharedSession::default());
    let service = common::ready_service_with(session.clone());
    let (_audio, mut bank) = service.attach(48_000.0, 512);
    session.set_text("A first line.\nOne, two, three, four, five.".into());
    // In a render the trigger waits for the clip, and its words come with it.
    assert_eq!(bank.trigger(2, 0, 1.0, None, true), Triggered::Playing);
    let mut seen: Vec<(u64, usize)> = Vec::new();
    let mut played = 0u64;
    let mut sound = Vec::new();
    while bank.is_active() {
        sound.extend_from_slice(bank.render(512));
        let Some((clip, word)) = service.bank().heard_word() else {
            continue;
        };
        let (_, at) = service.bank().heard().expect("heard");
        assert_eq!(clip.slot, 2);
        assert_eq!(&*clip.text, "One, two, three, four, five.");
        played = at;
        seen.push((at, word.index));
    }
    let (clip, _) = service
        .bank()
        .heard()
        .map_or((None, 0), |(c, a)| (Some(c), a));
    assert!(
        clip.is_none(),
        "nothing is heard once the phrase played out"
    );
    let words = {
        // The words as the bank keeps them: the written ones, at the host's rate.
        let mut words = None;
        bank.trigger(2, 0, 1.0, None, false);
        bank.render(512);
        if let Some((clip, _)) = service.bank().heard() {
            words = Some(clip.words.clone());
        }
        words.expect("the clip's words")
    };
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(texts, ["One", "two", "three", "four", "five"]);
    assert!(
        words
            .last()
            .is_some_and(|w| w.span.end as usize <= sound.len()),
        "the last word ends inside the clip ({} samples)",
        sound.len()
    );
    for &(at, index) in &seen {
        let expected = words
            .iter()
            .rev()
            .find(|w| w.span.start <= at)
            .map(|w| w.index);
        assert_eq!(Some(index), expected, "at sample {at} of the clip");
    }
    let mut lit: Vec<usize> = seen.iter().map(|s| s.1).collect();
    lit.dedup();
    assert_eq!(
        lit,
        [0, 1, 2, 3, 4],
        "every word lit, in order (played {played})"
    );
}

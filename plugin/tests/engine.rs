//! The speech engine with the real default voice, real ONNX Runtime and real espeak-ng data
//! (built by `cargo xtask assets`, found through ORATOR_RESOURCES or `target/assets`): what it
//! produces, and what it does with bad input.

use orator::tts::engine::{Chunk, Engine};
use orator::tts::resources::Resources;
use orator::tts::voice::config::VoiceError;
use orator::tts::voice::{
    Voice,
    schedule::{FIRST_WINDOW_FRAMES, tail_frames, window_frames},
};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

fn resources() -> Resources {
    Resources::locate().expect("run `cargo xtask assets` first")
}

fn engine() -> Engine {
    let r = resources();
    let voice = Voice::load(&r.default_voice(), &r.onnxruntime()).expect("default voice loads");
    Engine::new(voice, r.espeak_data())
}

/// Every chunk of `text`, without its timing (how fast it was decoded is not what was said).
fn speak_all(engine: &Engine, text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let settings = engine.voice.config.defaults;
    engine
        .speak(text, &settings, &mut |c| {
            assert!(c.real_time_factor.is_some_and(|r| r > 0.0) || c.window == 0);
            chunks.push(Chunk {
                real_time_factor: None,
                ..c
            });
            ControlFlow::Continue(())
        })
        .expect("speak");
    chunks
}

/// The chunks joined back into their sentences (a sentence streams as several windows), each
/// one whole as the phrase cache replays it (window 0).
fn sentences(chunks: &[Chunk]) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    for chunk in chunks {
        match out.last_mut() {
            Some(last) if last.sentence == chunk.sentence => {
                last.samples.extend_from_slice(&chunk.samples)
            }
            _ => out.push(Chunk {
                window: 0,
                ..chunk.clone()
            }),
        }
    }
    out
}

#[test]
fn each_sentence_streams_in_windows_of_real_speech() {
    let engine = engine();
    assert!(engine.voice.is_streaming(), "the default voice splits");
    let windows = speak_all(&engine, "Good morning. How are you today? Fine, thanks!");
    // The windows follow one schedule across the phrase: the first is 16 latent frames (256
    // samples each), the next grow up to 128, and a sentence's last window may take a short
    // tail along. A later sentence resumes the schedule rather than starting small again, on a
    // window at most twice the audio before it.
    let mut before = 0;
    for (n, window) in windows.iter().enumerate() {
        let index = window.window;
        let frames = window.samples.len() / 256;
        assert_eq!(window.samples.len() % 256, 0);
        assert!(
            frames <= window_frames(index) + tail_frames(index),
            "window {index}: {frames} frames"
        );
        match n.checked_sub(1).map(|p| &windows[p]) {
            Some(last) if last.sentence == window.sentence => assert_eq!(index, last.window + 1),
            Some(last) => assert!(index <= last.window + 1 && window_frames(index) <= 2 * before),
            None => assert_eq!(index, 0),
        }
        before += frames;
    }
    assert!(windows[0].samples.len() / 256 <= FIRST_WINDOW_FRAMES + tail_frames(0));
    let second = windows
        .iter()
        .find(|w| w.sentence == 1)
        .expect("a second sentence");
    assert!(
        second.samples.len() / 256 > FIRST_WINDOW_FRAMES + tail_frames(0),
        "the second sentence starts with a large window: {} frames",
        second.samples.len() / 256
    );
    assert!(windows.len() > 3, "sentences stream in windows");
    let chunks = sentences(&windows);
    assert_eq!(chunks.len(), 3, "three sentences");
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.sentence, i);
        assert_eq!(chunk.sample_rate, 22050);
        let seconds = chunk.samples.len() as f32 / 22050.0;
        assert!((0.3..4.0).contains(&seconds), "sentence {i}: {seconds} s");
        let peak = chunk.samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let rms =
            (chunk.samples.iter().map(|x| x * x).sum::<f32>() / chunk.samples.len() as f32).sqrt();
        assert!(chunk.samples.iter().all(|x| x.is_finite()));
        assert!(peak > 0.05 && peak <= 1.5, "sentence {i}: peak {peak}");
        assert!(
            rms > 0.01,
            "sentence {i}: rms {rms} — silence is not speech"
        );
    }
    // Longer text takes longer to say.
    assert!(chunks[1].samples.len() > chunks[0].samples.len());
    assert!(
        engine
            .metrics
            .real_time_factor(22050)
            .is_some_and(|rtf| rtf > 0.0)
    );
}

#[test]
fn the_voice_is_shared_by_everyone_who_loads_the_same_file() {
    let r = resources();
    let a = Voice::load(&r.default_voice(), &r.onnxruntime()).unwrap();
    let other_spelling = r.root.join("voices/../voices/en_US-joe-medium.onnx");
    let b = Voice::load(&other_spelling, &r.onnxruntime()).unwrap();
    assert!(
        Arc::ptr_eq(&a, &b),
        "one session per voice file per process"
    );
}

#[test]
fn empty_whitespace_and_control_text_produce_nothing_without_error() {
    let engine = engine();
    for text in ["", "   \n\t  ", "\u{0}\u{7}\u{1b}", "…", "— — —"] {
        let chunks = sentences(&speak_all(&engine, text));
        assert!(chunks.iter().all(|c| !c.samples.is_empty()), "{text:?}");
        assert!(
            chunks.len() <= 1,
            "{text:?} gave {} sentences",
            chunks.len()
        );
    }
    let with_controls = sentences(&speak_all(&engine, "Hello\u{0}there\u{7}."));
    assert_eq!(with_controls.len(), 1);
}

#[test]
fn a_megabyte_of_text_streams_its_first_sentence_and_stops_on_request() {
    let engine = engine();
    let text = "This sentence repeats to fill a megabyte of text. ".repeat(20_000);
    assert!(text.len() >= 1_000_000);
    let mut seen = Vec::new();
    let settings = engine.voice.config.defaults;
    engine
        .speak(&text, &settings, &mut |chunk| {
            seen.push(chunk.sentence);
            if chunk.sentence == 1 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(
        seen.last(),
        Some(&1),
        "stopped in the second sentence, at its first window"
    );
    assert_eq!(seen.iter().filter(|&&s| s == 1).count(), 1);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orator-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn corrupt_and_mismatched_voices_fail_with_the_file_and_the_problem() {
    let r = resources();
    let dir = temp_dir("voices");
    let config = std::fs::read(r.default_voice().with_extension("onnx.json")).unwrap();

    // Garbage model bytes with a valid config.
    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, b"this is not an onnx model").unwrap();
    std::fs::write(dir.join("garbage.onnx.json"), &config).unwrap();
    let err = Voice::load(&garbage, &r.onnxruntime()).unwrap_err();
    assert!(matches!(err, VoiceError::Onnx { .. }), "{err}");
    assert!(err.to_string().contains("garbage.onnx"), "{err}");

    // A truncated config.
    let model = r.default_voice();
    let truncated = dir.join("truncated.onnx");
    same_file(&model, &truncated);
    std::fs::write(dir.join("truncated.onnx.json"), &config[..config.len() / 2]).unwrap();
    let err = Voice::load(&truncated, &r.onnxruntime())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("truncated.onnx.json") && err.contains("not a Piper voice config"),
        "{err}"
    );

    // A config claiming many speakers for a single-speaker model.
    let text = String::from_utf8(config.clone()).unwrap();
    let mismatched = dir.join("mismatched.onnx");
    same_file(&model, &mismatched);
    std::fs::write(
        dir.join("mismatched.onnx.json"),
        text.replace("\"num_speakers\": 1", "\"num_speakers\": 4"),
    )
    .unwrap();
    let err = Voice::load(&mismatched, &r.onnxruntime())
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not belong together"), "{err}");

    // A missing model.
    let err = Voice::load(&dir.join("missing.onnx"), &r.onnxruntime())
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.onnx"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_repeated_phrase_comes_from_the_cache_identically_and_a_stopped_one_is_not_cached() {
    use orator::tts::phrase_cache::PhraseCache;
    use std::sync::Mutex;
    let cache = Arc::new(Mutex::new(PhraseCache::default()));
    let engine = engine().with_cache(cache.clone());
    let text = "Thanks for the follow! Enjoy the stream.";
    let first = speak_all(&engine, text);
    let sentences_after_first = engine
        .metrics
        .sentences
        .load(std::sync::atomic::Ordering::Relaxed);
    let second = speak_all(&engine, text);
    assert_eq!(
        sentences(&first),
        second,
        "a cache hit replays the same audio, whole sentences at once"
    );
    assert_eq!(
        engine
            .metrics
            .sentences
            .load(std::sync::atomic::Ordering::Relaxed),
        sentences_after_first,
        "the hit synthesised nothing"
    );
    assert_eq!(cache.lock().unwrap().counts(), (1, 1));

    // Stopped after its first sentence: not cached, so the next request synthesises.
    let settings = engine.voice.config.defaults;
    let other = "One. Two. Three.";
    engine
        .speak(other, &settings, &mut |_| ControlFlow::Break(()))
        .unwrap();
    assert_eq!(cache.lock().unwrap().len(), 1);
}

#[test]
fn a_long_sentence_starts_with_its_first_clause_group() {
    let text = "When you finish the first part of the tutorial, save your work, close the editor, \
                open the terminal, type the command exactly as shown, press enter, and wait for \
                the build to complete before you move on to the second part of the lesson today.";
    let split = sentences(&speak_all(&engine(), text));
    let whole = sentences(&speak_all(&engine().whole_sentences(), text));
    assert_eq!(whole.len(), 1, "spoken whole, as Piper does");
    assert!(
        split.len() >= 2,
        "cut at clause ends: {} chunks",
        split.len()
    );
    let total = |chunks: &[Chunk]| chunks.iter().map(|c| c.samples.len()).sum::<usize>() as f32;
    let ratio = total(&split) / total(&whole);
    assert!(
        (0.85..1.15).contains(&ratio),
        "same speech, about the same length: {ratio}"
    );
    assert!(
        split[0].samples.len() * 2 < whole[0].samples.len(),
        "first chunk is a fraction"
    );
}

#[test]
fn the_same_phrase_renders_identically_and_other_settings_differ() {
    let engine = engine();
    assert!(
        engine.voice.is_repeatable(),
        "the default voice's random nodes were replaced"
    );
    let text = "Repeat after me: the same words, the same sound.";
    let first = speak_all(&engine, text);
    let second = speak_all(&engine, text);
    assert_eq!(
        first, second,
        "no cache here: a fresh synthesis must repeat exactly"
    );

    let mut settings = engine.voice.config.defaults;
    settings.noise_scale *= 0.5;
    let mut other = Vec::new();
    engine
        .speak(text, &settings, &mut |c| {
            other.push(c);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_ne!(first, other, "different variation, different noise");
}

#[test]
fn streamed_windows_equal_the_whole_model_on_a_corpus() {
    let r = resources();
    let streaming = engine();
    assert!(streaming.voice.is_streaming());
    let whole_voice =
        Voice::load_whole(&r.default_voice(), &r.onnxruntime()).expect("whole voice loads");
    assert!(
        !whole_voice.is_streaming(),
        "the fallback runs the whole model"
    );
    let whole = Engine::new(whole_voice, r.espeak_data());
    let corpus = [
        "Hi!",
        "Thanks for the follow.",
        "Welcome back to the stream, everyone; today we are building a speech plugin in Rust.",
        "Dr. Smith paid $12.50 on 3/14/2025 at 10:30 a.m.",
        "She said: \"It's fine; really, it is...\" Then she left. Why?",
        "When you finish the first part of the tutorial, save your work, close the editor, \
         open the terminal, type the command exactly as shown, press enter, and wait for the \
         build to complete before you move on to the second part of the lesson today.",
    ];
    let mut lowest = f64::INFINITY;
    for text in corpus {
        let streamed = sentences(&speak_all(&streaming, text));
        let reference = speak_all(&whole, text);
        assert_eq!(streamed.len(), reference.len(), "{text:?}");
        for (s, w) in streamed.iter().zip(&reference) {
            assert_eq!(s.samples.len(), w.samples.len(), "{text:?}");
            let signal: f64 = w.samples.iter().map(|&x| f64::from(x).powi(2)).sum();
            let error: f64 = s
                .samples
                .iter()
                .zip(&w.samples)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            let snr_db = 10.0 * (signal / error.max(1e-300)).log10();
            assert!(snr_db >= 100.0, "{text:?}: {snr_db:.1} dB SNR");
            lowest = lowest.min(snr_db);
        }
    }
    eprintln!("streamed against whole, lowest sentence: {lowest:.1} dB SNR");
}

#[test]
fn a_phrases_first_sentence_is_cut_at_a_clause_end_sooner_than_later_ones() {
    let engine = engine();
    // About 125 phonemes with a clause end after the first 60: over the first sentence's limit,
    // under the limit for later sentences.
    let line = "Thanks so much for the raid and all the kind messages tonight, we will keep \
                building the plugin until it sounds right.";
    let first = sentences(&speak_all(&engine, line));
    assert_eq!(first.len(), 2, "cut at the comma when it opens the phrase");
    let later = sentences(&speak_all(&engine, &format!("Hi. {line}")));
    assert_eq!(later.len(), 2, "\"Hi.\" and the line whole");
    assert!(later[1].samples.len() > first[0].samples.len() + first[1].samples.len() / 2);
}

#[test]
fn a_first_sentence_without_clause_ends_is_cut_at_a_word_boundary_and_fades_out_there() {
    let engine = engine();
    // About 135 phonemes and no punctuation, as chat lines come.
    let line = "thanks so much for the raid everyone we will keep building the plugin until it \
                sounds right and then we will ship it to all of you";
    let cut = sentences(&speak_all(&engine, line));
    assert_eq!(cut.len(), 2, "cut once, at a word boundary");
    let whole = sentences(&speak_all(&engine.clone().whole_sentences(), line));
    assert_eq!(whole.len(), 1);
    let later = sentences(&speak_all(&engine, &format!("Hi. {line}")));
    assert_eq!(
        later.len(),
        2,
        "\"Hi.\" and the line whole: its front fits in the time \"Hi.\" plays"
    );
    let total = |chunks: &[Chunk]| chunks.iter().map(|c| c.samples.len()).sum::<usize>() as f32;
    let ratio = total(&cut) / total(&whole);
    assert!(
        (0.9..1.1).contains(&ratio),
        "about the same length: {ratio}"
    );
    // The first part ("...the plugin", then "until it sounds right...") ends as an utterance
    // does, quietly, not cut off mid-sound.
    let first = &cut[0].samples;
    assert!(
        first.len() * 3 > total(&whole) as usize,
        "no tiny first part"
    );
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let tail = rms(&first[first.len() - 220..]);
    let speech = rms(first);
    assert!(
        tail < speech / 20.0,
        "the first part fades out: last 10 ms at {tail}, speech at {speech}"
    );
}

#[test]
fn a_long_line_after_a_short_sentence_is_cut_so_its_front_runs_while_the_short_one_plays() {
    let engine = engine();
    let line = "when you finish the first part of the tutorial save your work and close the \
                editor then open the terminal and type the command exactly as it is shown and \
                wait for the build to complete before you move on to the second part";
    let text = format!("Hi. When {line} {line}");
    let groups = sentences(&speak_all(&engine, &text));
    let whole = sentences(&speak_all(&engine.clone().whole_sentences(), &text));
    // Whole sentences, but no model run past the ceiling (`MAX_RUN_PHONEMES`): the line is
    // longer than one run may be, and is spoken in two.
    assert_eq!(whole.len(), 3, "\"Hi.\" and the line in two runs");
    // "Hi." plays for well under a second: the next group may only have as many phonemes as
    // its front can turn into a latent in that time (with a margin), a fraction of the line.
    assert!(groups.len() >= 3, "{} groups", groups.len());
    let secs = |c: &Chunk| c.samples.len() as f32 / c.sample_rate as f32;
    let line_secs: f32 = whole[1..].iter().map(secs).sum();
    assert!(
        secs(&groups[1]) * 2.0 < line_secs,
        "the part after \"Hi.\" is a fraction of the line: {} s of {line_secs} s",
        secs(&groups[1]),
    );
    let total = |chunks: &[Chunk]| chunks.iter().map(secs).sum::<f32>();
    let ratio = total(&groups) / total(&whole);
    assert!(
        (0.9..1.1).contains(&ratio),
        "about the same length: {ratio}"
    );
}

/// `count` comma-grouped nine-digit numbers, counting down.
fn digit_groups(count: u64) -> String {
    (0..count)
        .map(|k| {
            let n = 999_999_299 - k;
            format!("{},{:03},{:03}", n / 1_000_000, n / 1000 % 1000, n % 1000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_group_of_a_long_digit_run_is_spoken() {
    // Each group reads as about fourteen words; espeak-ng drops what passes its clause's word
    // limit, so twenty groups in one clause came out as about fifteen.
    let engine = engine();
    let seconds = |text: &str| {
        let samples: usize = speak_all(&engine, text)
            .iter()
            .map(|c| c.samples.len())
            .sum();
        samples as f64 / f64::from(engine.voice.config.sample_rate)
    };
    let ten = seconds(&digit_groups(10));
    let twenty = seconds(&digit_groups(20));
    let ratio = twenty / ten;
    assert!(
        (1.85..2.15).contains(&ratio),
        "twenty groups last {twenty:.1} s, ten {ten:.1} s: ratio {ratio:.2}"
    );
}

/// Makes `link` name the same bytes as `file`: a hard link, or a copy across file systems.
fn same_file(file: &std::path::Path, link: &std::path::Path) {
    if std::fs::hard_link(file, link).is_err() {
        std::fs::copy(file, link).unwrap();
    }
}

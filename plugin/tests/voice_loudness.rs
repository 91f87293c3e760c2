//! Voices speak at one loudness: the default voice and voices of the test's own making (a
//! louder one, one 10 dB quieter, and two speakers of a three-speaker one) each speak the
//! calibration passage through the plugin's speech service and render path (as `orator say`
//! does: through the signal path, its limiter raised out of the way, at the voices' own rate
//! so the resampler's roll-off near 11 kHz, which takes about 2 LU from the random-weight
//! voices' hiss at 24 kHz, is not counted as the calibration's); every render's integrated loudness is within
//! 1 LU of every other's. Measured without the calibration, the same voices are over 10 LU
//! apart, so the match is the calibration's work. On other text a voice keeps that level as
//! far as its loudness does not depend on the text: the default voice reads a chat passage
//! within 0.5 LU of the calibration passage (the random-weight voices, whose sounds each have
//! a random level, differ by up to about 2 LU, so they are matched on the passage itself).
//! A voice too quiet to reach the reference is raised by the most there is (12 dB), an alias's
//! own level stays on top, and the default voice itself is left exactly as it is (its
//! measurement is within the dead band of the reference).

use orator::api::render;
use orator::dsp::path::PathSettings;
use orator::loudness::meter::integrated;
use orator::playback::calibration::{self, DEAD_BAND_LU, REFERENCE_LUFS};
use orator::playback::service::{SpeechService, State};
use orator::playback::voicing::Voicing;
use orator::state::SharedSession;
use orator::tts::engine::Engine;
use orator::tts::resources::Resources;
use orator::tts::voice::Voice;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/synthetic_voice.rs"]
mod synthetic_voice;

use synthetic_voice::{MEDIUM, Shape};

/// A passage unlike the calibration text (a chat reading), about as long.
const CHAT: &str = "Thanks for the follow! Tonight we build a bridge out of paper and glue, \
                    then test it with pennies until it breaks. Somebody asked about the \
                    soundtrack: it is all public domain jazz. Quick reminder, the giveaway \
                    closes at midnight. Big thanks to everyone who raided, you are amazing!";
const LINE: &str = calibration::TEXT;
const RATE: u32 = 22_050;

fn resources() -> Resources {
    Resources::locate().expect("run `cargo xtask assets` first")
}

/// The line spoken by `voicing` through a speech service, rendered whole; its loudness.
fn loudness_of(service: &SpeechService, voicing: Option<Voicing>) -> f64 {
    let phrase = render::Phrase {
        text: LINE,
        voicing,
    };
    // The voice limiter out of the way: the random-weight voices' sharp peaks would meet it.
    let mut settings = PathSettings::default();
    settings.voice_chain.ceiling_db = 24.0;
    let rendered = render::render(
        service,
        phrase,
        RATE,
        1,
        &settings,
        None,
        render::Limits::default(),
    );
    assert!(rendered.failure.is_none(), "{:?}", rendered.failure);
    integrated(&rendered.channels, RATE).expect("the line is heard")
}

/// The voice's loudness on the line without calibration: its engine's own audio.
fn raw_loudness(model: &Path, speaker: Option<i64>) -> f64 {
    raw_loudness_of(model, speaker, LINE)
}

/// `text` in the voice's own audio, without calibration.
fn raw_loudness_of(model: &Path, speaker: Option<i64>, text: &str) -> f64 {
    let resources = resources();
    let voice = Voice::load(model, &resources.onnxruntime()).expect("the voice loads");
    let engine = Engine::new(voice, resources.espeak_data());
    let mut settings = engine.voice.config.defaults;
    settings.speaker = speaker;
    let mut samples = Vec::new();
    engine
        .speak(text, &settings, &mut |c| {
            samples.extend_from_slice(&c.samples);
            std::ops::ControlFlow::Continue(())
        })
        .expect("speak");
    integrated(&[samples], engine.voice.config.sample_rate).expect("heard")
}

#[test]
fn every_voice_and_speaker_speaks_at_one_loudness() {
    let dir = std::env::temp_dir().join(format!("orator-loudness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let default = resources().default_voice();
    // The synthetic voices' own audio is quiet (about -46 LUFS): scaled into reach.
    let voice = |name: &'static str, gain: f32, speakers: u32| {
        let shape = Shape {
            name,
            gain,
            speakers,
            ..MEDIUM
        };
        synthetic_voice::write_voice(&shape, &dir, &default)
    };
    let loud = voice("loud-22k", 12.0, 1);
    let quiet = voice("quiet-22k", 3.8, 1);
    let multi = voice("multi-22k", 10.0, 3);
    let faint = voice("faint-22k", 1.0, 1);

    let service = SpeechService::start(Arc::new(SharedSession::default()), Some(resources()))
        .expect("the speech thread starts");
    service.load_voice(None);
    let started = Instant::now();
    while service.status.state() != State::Ready {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            service.status.message()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let voicing = |model: &PathBuf, speaker: Option<&str>| {
        Some(Voicing {
            model: Some(model.clone()),
            speaker: speaker.map(str::to_owned),
            ..Voicing::default()
        })
    };
    // (name, voicing, the voice and speaker to measure uncalibrated: none for an alias's level)
    type Case = (
        &'static str,
        Option<Voicing>,
        Option<(PathBuf, Option<i64>)>,
    );
    let cases: Vec<Case> = vec![
        ("default voice", None, Some((default.clone(), None))),
        (
            "synthetic",
            voicing(&loud, None),
            Some((loud.clone(), None)),
        ),
        (
            "synthetic, 10 dB quieter",
            voicing(&quiet, None),
            Some((quiet.clone(), None)),
        ),
        (
            "speaker 0",
            voicing(&multi, Some("speaker 0")),
            Some((multi.clone(), Some(0))),
        ),
        (
            "speaker 2",
            voicing(&multi, Some("speaker 2")),
            Some((multi.clone(), Some(2))),
        ),
        // An alias's own level stays on top of the calibration.
        (
            "synthetic at -6 dB",
            Some(Voicing {
                level_db: -6.0,
                ..voicing(&loud, None).expect("voicing")
            }),
            None,
        ),
    ];
    // A voice beyond reach gets the most gain there is (its render then meets the signal
    // path's limiter, so this is checked on the gain itself).
    let faint_engine = {
        let resources = resources();
        let voice = Voice::load(&faint, &resources.onnxruntime()).expect("loads");
        Engine::new(voice, resources.espeak_data())
    };
    let faint_gain = 20.0 * f64::from(calibration::gain(&faint_engine, None)).log10();
    eprintln!(
        "beyond reach: {:.2} LUFS, raised {faint_gain:.2} dB",
        raw_loudness(&faint, None)
    );
    assert!((faint_gain - calibration::MAX_GAIN_DB).abs() < 1e-3);
    let mut matched = Vec::new();
    let mut raw = Vec::new();
    for (name, voicing, model) in cases {
        let lufs = loudness_of(&service, voicing);
        let uncalibrated = model.map(|(m, s)| raw_loudness(&m, s));
        eprintln!("{name}: {lufs:.2} LUFS calibrated, {uncalibrated:?} LUFS without");
        match uncalibrated {
            Some(u) => {
                matched.push(lufs);
                raw.push(u);
            }
            None => {
                let reference = matched[1];
                assert!(
                    (lufs - (reference - 6.0)).abs() < 0.3,
                    "an alias's level is kept: {lufs} vs {reference}"
                );
            }
        }
    }
    let spread = |v: &[f64]| {
        v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
    };
    eprintln!(
        "spread: {:.2} LU calibrated, {:.2} LU without",
        spread(&matched),
        spread(&raw)
    );
    assert!(spread(&matched) <= 1.0, "voices within 1 LU: {matched:?}");
    assert!(
        spread(&raw) > 10.0,
        "the voices differ without calibration: {raw:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_default_voice_is_the_reference_and_left_as_it_is() {
    let resources = resources();
    let voice = Voice::load(&resources.default_voice(), &resources.onnxruntime()).expect("loads");
    let engine = Engine::new(voice, resources.espeak_data());
    let started = Instant::now();
    let lufs = calibration::measure(&engine, None).expect("heard");
    eprintln!(
        "the default voice reads {lufs:.3} LUFS on the calibration text, measured in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        (lufs - REFERENCE_LUFS).abs() < DEAD_BAND_LU,
        "REFERENCE_LUFS is the default voice's loudness: {lufs}"
    );
    assert_eq!(calibration::gain(&engine, None), 1.0);
    let chat = raw_loudness_of(&resources.default_voice(), None, CHAT);
    eprintln!("and {chat:.3} LUFS on a chat passage");
    assert!(
        (chat - lufs).abs() < 0.5,
        "a real voice's level does not follow the text"
    );
}

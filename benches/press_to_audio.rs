//! First audio as a user meets it, end to end: from a Speak press in a block of `process()` to
//! the first sample of speech out of `process()`, through a real CLAP host (the test harness,
//! clack-host) on the built release bundle, at real-time pace (48 kHz, 512-frame blocks, each
//! block handed over when an audio interface would ask for it).
//!
//! The time is counted in samples of output, as a listener hears it: the press is at the start
//! of its block, and the first non-zero output sample after it ends the measurement (the host
//! input is silent, so anything non-zero is the voice). Each iteration speaks the line at a pace
//! not used before in the run (1 + n × 10⁻⁴ of the voice's own, set in the session as the
//! editor would), so the phrase cache cannot answer, and stops it as soon as it is heard. The
//! voice is loaded and has spoken once before measuring.
//!
//! Needs the bundle: `cargo xtask build` first (or `ORATOR_CLAP=path/to/Orator.clap`).
//! `cargo bench -p orator-benches --bench press_to_audio`

use clack_host::prelude::ClapId;
use criterion::{Criterion, criterion_group, criterion_main};
use orator::state::Session;
use orator::tts::voice::config::Delivery;
use orator_tests::{LoadedPlugin, bundle_path, press, with_session};
use std::time::Duration;

#[path = "sentences.rs"]
mod sentences;
use sentences::SENTENCES;

#[path = "realtime_host.rs"]
mod realtime_host;
use realtime_host::{BLOCK, Host, RATE};

/// A plugin running at real-time pace.
struct Live {
    host: Host,
    /// The Speak and Stop buttons' parameter ids.
    speak: ClapId,
    stop: ClapId,
    /// Phrases spoken so far, which sets the next one's pace.
    phrases: u16,
}

impl Live {
    fn new() -> anyhow::Result<Self> {
        let path = bundle_path();
        let mut plugin = LoadedPlugin::load(&path).map_err(|e| {
            anyhow::anyhow!(
                "cannot load {} ({e}); run `cargo xtask build`",
                path.display()
            )
        })?;
        let speak = plugin.param("Speak")?.id;
        let stop = plugin.param("Stop")?.id;
        plugin.activate(RATE, 1, BLOCK as u32)?;
        Ok(Self {
            host: Host::new(plugin),
            speak,
            stop,
            phrases: 0,
        })
    }

    /// Speaks `text` at a pace not used before and returns the time from the press to the
    /// first sample heard; stops the phrase then and waits for the plugin to fall idle.
    fn press_to_audio(&mut self, text: &str) -> anyhow::Result<Duration> {
        self.phrases = self.phrases.wrapping_add(1);
        let session = Session {
            text: text.into(),
            delivery: Delivery {
                rate: 1.0 + f32::from(self.phrases) * 1e-4,
                ..Delivery::default()
            },
            ..Session::default()
        };
        let plugin = &mut self.host.plugin;
        let state = with_session(&plugin.save_state()?, &serde_json::to_string(&session)?)?;
        plugin.load_state(&state)?;
        let mut samples = 0;
        let mut heard = None;
        for block in 0.. {
            let changes = press(self.speak, block, 0);
            if let Some(at) = self.host.block(&changes)?.heard {
                heard = Some(samples + at);
                break;
            }
            samples += BLOCK;
            anyhow::ensure!(
                samples as f64 / RATE < 10.0,
                "no speech within 10 s of the press"
            );
        }
        let heard = heard.unwrap_or(samples);
        for block in 0.. {
            let changes = press(self.stop, block, 0);
            let idle = self.host.block(&changes)?.idle;
            if block > 2 && idle {
                break;
            }
            anyhow::ensure!(block < 2000, "the plugin did not stop");
        }
        Ok(Duration::from_secs_f64(heard as f64 / RATE))
    }
}

fn press_to_audio(c: &mut Criterion) {
    let mut live = Live::new().expect("the bundle loads");
    // The voice loads on activation; one phrase spoken warms ONNX Runtime up.
    live.press_to_audio(SENTENCES[0].1).expect("warm-up phrase");
    realtime_host::bench_lines(c, "press_to_audio", &SENTENCES, |text| {
        live.press_to_audio(text).expect("speech")
    });
}

criterion_group!(benches, press_to_audio);
criterion_main!(benches);

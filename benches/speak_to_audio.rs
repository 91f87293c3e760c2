//! First audio for a chat bot, end to end: from a `Speak` request sent on the local API's
//! WebSocket (as Streamer.bot sends it) to the first sample of speech out of `process()`,
//! through a real CLAP host (the test harness, clack-host) on the built release bundle at
//! real-time pace (48 kHz, 512-frame blocks, each block handed over when an audio interface
//! would ask for it).
//!
//! The request is sent between two blocks; the first non-zero output sample ends the
//! measurement, timed as the wall-clock time its block was handed over plus its offset in the
//! block (the host input is silent, so anything non-zero is the voice). Each iteration speaks
//! at a pace not used before in the run (set in the session, as the editor would), so the
//! phrase cache cannot answer, and stops the phrase (`Stop`) as soon as it is heard. The voice
//! is loaded and has spoken once before measuring.
//!
//! Needs the bundle: `cargo xtask build` first (or `ORATOR_CLAP=path/to/Orator.clap`).
//! `cargo bench -p orator-benches --bench speak_to_audio`

use clack_host::prelude::ProcessStatus;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use orator::api::ApiSettings;
use orator::state::Session;
use orator::tts::voice::config::Delivery;
use orator_tests::{LoadedPlugin, bundle_path, with_session};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;
/// A port of its own, so the bench runs beside a running Orator.
const PORT: u16 = 17_590;

#[path = "sentences.rs"]
mod sentences;
use sentences::SENTENCES;

/// A plugin with the API on, running at real-time pace, and a client connected to it.
struct Live {
    plugin: LoadedPlugin,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Phrases spoken so far, which sets the next one's pace.
    phrases: u16,
    next: Instant,
    silence: Vec<f32>,
    left: Vec<f32>,
    right: Vec<f32>,
}

fn api_session(phrases: u16) -> Session {
    Session {
        delivery: Delivery {
            rate: 1.0 + f32::from(phrases) * 1e-4,
            ..Delivery::default()
        },
        api: ApiSettings {
            enabled: true,
            port: PORT,
            udp_port: 0,
            ..ApiSettings::default()
        },
        ..Session::default()
    }
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
        let state = with_session(
            &plugin.save_state()?,
            &serde_json::to_string(&api_session(0))?,
        )?;
        plugin.load_state(&state)?;
        plugin.activate(RATE, 1, BLOCK as u32)?;
        let (ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{PORT}/"))?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(1)))?;
        }
        Ok(Self {
            plugin,
            ws,
            phrases: 0,
            next: Instant::now(),
            silence: vec![0.0; BLOCK],
            left: vec![0.0; BLOCK],
            right: vec![0.0; BLOCK],
        })
    }

    /// One block, when an audio interface would ask for it. Returns when the block was
    /// handed over, the first non-zero sample's offset in it (if any), and whether the plugin
    /// is idle.
    fn block(&mut self) -> anyhow::Result<(Instant, Option<usize>, bool)> {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        } else if now - self.next > Duration::from_millis(50) {
            self.next = now; // after set-up work between iterations, not a late block
        }
        self.next += Duration::from_secs_f64(BLOCK as f64 / RATE);
        let handed = Instant::now();
        let status = self.plugin.process(
            &[&self.silence, &self.silence],
            None,
            &mut [&mut self.left, &mut self.right],
            &[],
        )?;
        let heard = self.left.iter().position(|&s| s != 0.0);
        Ok((handed, heard, status == ProcessStatus::ContinueIfNotQuiet))
    }

    /// Reads whatever the server sent (replies), without waiting.
    fn drain(&mut self) {
        while let Ok(Message::Text(_)) = self.ws.read() {}
    }

    /// Sends `request` and returns when it was sent.
    fn send(&mut self, request: serde_json::Value) -> anyhow::Result<Instant> {
        self.ws.send(Message::text(request.to_string()))?;
        Ok(Instant::now())
    }

    /// Speaks `text` at a pace not used before; returns the time from the request to the
    /// first sample heard, then stops the phrase and waits for the plugin to fall idle.
    fn speak_to_audio(&mut self, text: &str) -> anyhow::Result<Duration> {
        self.phrases = self.phrases.wrapping_add(1);
        let state = with_session(
            &self.plugin.save_state()?,
            &serde_json::to_string(&api_session(self.phrases))?,
        )?;
        self.plugin.load_state(&state)?;
        let sent = self.send(serde_json::json!({
            "id": self.phrases.to_string(), "request": "Speak", "message": text
        }))?;
        let heard = loop {
            let (handed, heard, _) = self.block()?;
            if let Some(at) = heard {
                break handed + Duration::from_secs_f64(at as f64 / RATE);
            }
            self.drain();
            anyhow::ensure!(
                sent.elapsed() < Duration::from_secs(10),
                "no speech within 10 s of the request"
            );
        };
        self.send(serde_json::json!({"id": "stop", "request": "Stop"}))?;
        for block in 0.. {
            let (_, _, idle) = self.block()?;
            self.drain();
            if block > 2 && idle {
                break;
            }
            anyhow::ensure!(block < 2000, "the plugin did not stop");
        }
        Ok(heard.saturating_duration_since(sent))
    }
}

fn speak_to_audio(c: &mut Criterion) {
    let mut live = Live::new().expect("the bundle loads and serves the API");
    // The voice loads on activation; one phrase spoken warms ONNX Runtime up.
    live.speak_to_audio(SENTENCES[0].1).expect("warm-up phrase");
    let mut group = c.benchmark_group("speak_to_audio");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (name, text) in SENTENCES {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| live.speak_to_audio(text).expect("speech"))
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, speak_to_audio);
criterion_main!(benches);

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

use criterion::{Criterion, criterion_group, criterion_main};
use orator::api::ApiSettings;
use orator::state::Session;
use orator::tts::voice::config::Delivery;
use orator_tests::{LoadedPlugin, bundle_path, with_session};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
/// A port of its own, so the bench runs beside a running Orator.
const PORT: u16 = 17_590;

#[path = "sentences.rs"]
mod sentences;
use sentences::SENTENCES;

#[path = "realtime_host.rs"]
mod realtime_host;
use realtime_host::{BLOCK, Host, RATE};

/// A plugin with the API on, running at real-time pace, and a client connected to it.
struct Live {
    host: Host,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Phrases spoken so far, which sets the next one's pace.
    phrases: u16,
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
            host: Host::new(plugin),
            ws,
            phrases: 0,
        })
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
        let plugin = &mut self.host.plugin;
        let session = serde_json::to_string(&api_session(self.phrases))?;
        let state = with_session(&plugin.save_state()?, &session)?;
        plugin.load_state(&state)?;
        let sent = self.send(serde_json::json!({
            "id": self.phrases.to_string(), "request": "Speak", "message": text
        }))?;
        let heard = loop {
            let block = self.host.block(&[])?;
            if let Some(at) = block.heard {
                break block.handed + Duration::from_secs_f64(at as f64 / RATE);
            }
            self.drain();
            anyhow::ensure!(
                sent.elapsed() < Duration::from_secs(10),
                "no speech within 10 s of the request"
            );
        };
        self.send(serde_json::json!({"id": "stop", "request": "Stop"}))?;
        for block in 0.. {
            let idle = self.host.block(&[])?.idle;
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
    realtime_host::bench_lines(c, "speak_to_audio", &SENTENCES, |text| {
        live.speak_to_audio(text).expect("speech")
    });
}

criterion_group!(benches, speak_to_audio);
criterion_main!(benches);

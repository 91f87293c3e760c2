//! A Speaker.bot WebSocket client for the API tests (tungstenite, blocking): requests with
//! ids, events kept until a test asks for them. Runs on the test's own thread.

use anyhow::{Result, bail, ensure};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The instant test times are measured from (ms), shared by events and process calls.
pub static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

/// A Speaker.bot client: requests with ids, events kept until asked for.
pub struct Client {
    /// The connection, for tests that send raw frames.
    pub ws: WebSocket<MaybeTlsStream<TcpStream>>,
    events: VecDeque<Value>,
    next_id: u32,
}

impl Client {
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_within(url, Duration::from_secs(10))
    }

    /// Connects, trying again until `patience` has passed (a server still starting).
    pub fn connect_within(url: &str, patience: Duration) -> Result<Self> {
        let started = Instant::now();
        loop {
            match tungstenite::connect(url) {
                Ok((ws, _)) => {
                    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
                        s.set_read_timeout(Some(Duration::from_millis(50)))?;
                    }
                    return Ok(Self {
                        ws,
                        events: VecDeque::new(),
                        next_id: 1,
                    });
                }
                Err(e) if started.elapsed() > patience => {
                    bail!("could not connect to {url}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The next message, or `None` after `timeout`.
    pub fn read(&mut self, timeout: Duration) -> Result<Option<Value>> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    let mut message: Value = serde_json::from_str(text.as_str())?;
                    // When it arrived, for the tests that check events come as words are heard.
                    if message.get("event").is_some() {
                        message["arrived"] = json!(
                            Instant::now()
                                .saturating_duration_since(*EPOCH)
                                .as_secs_f64()
                                * 1e3
                        );
                    }
                    return Ok(Some(message));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => bail!("the connection failed: {e}"),
            }
        }
        Ok(None)
    }

    /// Sends `body` (with a fresh id) and returns its reply; events that arrive first are kept.
    pub fn request(&mut self, mut body: Value) -> Result<Value> {
        let id = format!("r{}", self.next_id);
        self.next_id += 1;
        body["id"] = json!(id);
        self.ws.send(Message::text(body.to_string()))?;
        self.reply_to(&id, Duration::from_secs(30))
    }

    pub fn reply_to(&mut self, id: &str, timeout: Duration) -> Result<Value> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            match self.read(Duration::from_millis(200))? {
                Some(m) if m["id"] == json!(id) => return Ok(m),
                Some(m) if m.get("event").is_some() => self.events.push_back(m),
                Some(m) => bail!("a reply to another request: {m}"),
                None => {}
            }
        }
        bail!("no reply to {id} in {timeout:?}")
    }

    /// Waits for the event `kind` of phrase `speech`, keeping others.
    pub fn event(&mut self, kind: &str, speech: &Value, timeout: Duration) -> Result<Value> {
        let started = Instant::now();
        loop {
            if let Some(at) = self
                .events
                .iter()
                .position(|e| e["event"]["type"] == kind && e["data"]["speechId"] == *speech)
            {
                return Ok(self.events.remove(at).unwrap_or_default());
            }
            ensure!(
                started.elapsed() < timeout,
                "no {kind} for {speech} in {timeout:?}; got {:?}",
                self.events
            );
            if let Some(m) = self.read(Duration::from_millis(100))? {
                self.events.push_back(m);
            }
        }
    }

    pub fn speak(&mut self, message: &str) -> Result<Value> {
        let reply =
            self.request(json!({"request": "Speak", "message": message, "voice": "Any"}))?;
        ensure!(reply["status"] == "ok", "Speak refused: {reply}");
        Ok(reply["result"]["speechId"].clone())
    }
}

//! The server's threads: one accepts TCP connections on 127.0.0.1 and ::1, one per connection
//! serves it (WebSocket or one HTTP exchange), one reads UDP, one turns the owner's phrase
//! events into `TextToSpeech` events. Every thread checks the stop flag at least every
//! [`TICK`]; stopping shuts every socket down and joins every thread.

use super::admission::Waiting;
use super::filter::{self, Filtered};
use super::http::{self, Refusal, Request};
use super::speakerbot::{self, Action, Stage};
use super::timeline_words::{Heard, TimelineWords};
use super::{ApiSettings, Status, Target, openai, render};
use crate::dsp::path::PathSettings;
use crate::playback::service::{SpeechService, State};
use crate::playback::stream::{PhraseEventKind, PhraseId};
use crate::state::SharedSession;
use crate::tts::timings::WordTiming;
use crate::tts::voice::config::Delivery;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Message, Role, WebSocketConfig};

/// How often every server thread looks at the stop flag.
pub const TICK: Duration = Duration::from_millis(20);

/// Open connections at most; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 32;

/// API phrases queued and not yet heard at most; more get "queue full".
pub const MAX_QUEUED: usize = 32;

/// Requests per second one WebSocket connection (or all of UDP) may send, sustained...
pub const RATE_PER_SECOND: f64 = 20.0;

/// ...and in a burst.
pub const RATE_BURST: f64 = 40.0;

/// HTTP renders waiting at most (one runs at a time); more get 429.
pub const MAX_RENDERS_WAITING: usize = 4;

/// How often a WebSocket client is pinged.
pub const PING_EVERY: Duration = Duration::from_secs(10);

/// A WebSocket client heard from (a pong counts) less recently than this is gone: its slot is
/// freed. Browsers and WebSocket libraries answer pings by themselves.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// Events in flight to one client; a client that reads none loses the newest.
const CLIENT_EVENTS: usize = 256;

/// A token bucket.
#[derive(Debug)]
pub struct RateLimit {
    tokens: f64,
    last: Instant,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            tokens: RATE_BURST,
            last: Instant::now(),
        }
    }
}

impl RateLimit {
    /// Takes one request's token; false when over the rate.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * RATE_PER_SECOND;
        self.tokens = (self.tokens + refill).min(RATE_BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One phrase's event, for every client.
#[derive(Debug, Clone)]
struct Broadcast {
    stage: Stage,
    id: PhraseId,
    message: Arc<str>,
    duration_ms: Option<f64>,
    error: Option<Arc<str>>,
    /// A `Word` event's word, and the rate its span is at.
    word: Option<(Arc<WordTiming>, u32)>,
}

/// An API phrase the server follows.
struct Followed {
    message: Arc<str>,
    started_at: Option<u64>,
    /// When its failure was first seen (a phrase that fails with no instance active never
    /// sounds, so no event would end it).
    failed_seen: Option<Instant>,
}

/// What every server thread shares.
pub(crate) struct Hub {
    port: u16,
    token: String,
    status: Arc<Status>,
    stop: AtomicBool,
    /// Speak requests are refused while false (Disable).
    enabled: AtomicBool,
    /// API phrases queued and not yet done.
    queued: AtomicUsize,
    followed: Mutex<HashMap<PhraseId, Followed>>,
    clients: Mutex<Vec<SyncSender<Broadcast>>>,
    /// Open connections' sockets, by connection number, to shut down on stop. A connection
    /// takes its own out when it ends (a clone left here would keep the socket open).
    sockets: Mutex<Vec<(u64, TcpStream)>>,
    /// The next connection number.
    next_connection: std::sync::atomic::AtomicU64,
    /// Connections that have not sent their head yet.
    waiting: Waiting,
    /// The HTTP renderer (started on first use).
    renderer: Mutex<Option<Renderer>>,
    renders_waiting: AtomicUsize,
    /// The renderer's queue control, to stop a render when the server stops.
    render_control: Mutex<Option<Arc<crate::playback::stream::Control>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The server of one owner instance.
pub struct Running {
    owner: u64,
    settings: ApiSettings,
    hub: Option<Arc<Hub>>,
    threads: Vec<JoinHandle<()>>,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| format!("could not start a server thread: {e}"))
}

impl Running {
    /// Binds the ports and starts the threads.
    pub(super) fn start(
        owner: u64,
        settings: &ApiSettings,
        status: Arc<Status>,
    ) -> Result<Self, String> {
        let port = settings.port;
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("port {port} is taken by another program: pick another port")
            } else {
                format!("could not listen on 127.0.0.1:{port}: {e}")
            }
        })?;
        // ::1 too where the machine has IPv6 loopback; without it, 127.0.0.1 serves alone.
        let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).ok();
        let udp = match settings.udp_port {
            0 => None,
            udp_port => Some(
                std::net::UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, udp_port)))
                    .map_err(|e| {
                        format!("could not listen for UDP on 127.0.0.1:{udp_port}: {e}")
                    })?,
            ),
        };
        let hub = Arc::new(Hub {
            port,
            token: settings.token.clone(),
            status: status.clone(),
            stop: AtomicBool::new(false),
            enabled: AtomicBool::new(true),
            queued: AtomicUsize::new(0),
            followed: Mutex::new(HashMap::new()),
            clients: Mutex::new(Vec::new()),
            sockets: Mutex::new(Vec::new()),
            next_connection: std::sync::atomic::AtomicU64::new(0),
            waiting: Waiting::default(),
            renderer: Mutex::new(None),
            renders_waiting: AtomicUsize::new(0),
            render_control: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        });
        status.clients.store(0, Ordering::Relaxed);
        let mut threads = Vec::new();
        for listener in std::iter::once(v4).chain(v6) {
            listener
                .set_nonblocking(true)
                .map_err(|e| format!("could not set up the listener: {e}"))?;
            let hub = hub.clone();
            threads.push(spawn("orator-api-accept", move || {
                accept_loop(&hub, &listener)
            })?);
        }
        if let Some(udp) = udp {
            let hub = hub.clone();
            threads.push(spawn("orator-api-udp", move || {
                super::udp::serve(&hub, &udp)
            })?);
        }
        {
            let hub = hub.clone();
            threads.push(spawn("orator-api-events", move || event_loop(&hub))?);
        }
        Ok(Self {
            owner,
            settings: settings.clone(),
            hub: Some(hub),
            threads,
        })
    }

    /// A server that could not start for these settings (not retried until they change).
    pub(super) fn failed(owner: u64, settings: &ApiSettings) -> Self {
        Self {
            owner,
            settings: settings.clone(),
            hub: None,
            threads: Vec::new(),
        }
    }

    /// Whether this server is the one `owner` wants with `settings`.
    pub(super) fn serves(&self, owner: u64, settings: &ApiSettings) -> bool {
        self.owner == owner
            && self.settings.port == settings.port
            && self.settings.udp_port == settings.udp_port
            && self.settings.token == settings.token
    }

    /// Stops every thread and waits for them.
    pub(super) fn stop(mut self) {
        let Some(hub) = self.hub.take() else {
            return;
        };
        hub.stop.store(true, Ordering::Release);
        for socket in hub
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = socket.1.shutdown(std::net::Shutdown::Both);
        }
        // A render in progress ends at once: its phrase is stopped.
        if let Some(control) = hub
            .render_control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            control.stop();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let connections: Vec<_> = hub
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for thread in connections {
            let _ = thread.join();
        }
        hub.status.clients.store(0, Ordering::Relaxed);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.hub.is_some() {
            let stopping = Running {
                owner: self.owner,
                settings: self.settings.clone(),
                hub: self.hub.take(),
                threads: std::mem::take(&mut self.threads),
            };
            stopping.stop();
        }
    }
}

fn accept_loop(hub: &Arc<Hub>, listener: &TcpListener) {
    while !hub.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if !peer.ip().is_loopback() {
                    continue;
                }
                let mut threads = hub.threads.lock().unwrap_or_else(|e| e.into_inner());
                threads.retain(|t| !t.is_finished());
                let mut stream = stream;
                // Every slot taken: a connection that has not sent its head makes room.
                let evicted = (threads.len() >= MAX_CONNECTIONS)
                    .then(|| hub.waiting.evict_oldest())
                    .flatten();
                if let Some(oldest) = evicted {
                    hub.close_socket(oldest);
                } else if threads.len() >= MAX_CONNECTIONS {
                    drop(threads);
                    hub.status.refused.fetch_add(1, Ordering::Relaxed);
                    let refusal = Refusal::new(503, "too many connections");
                    let _ = http::respond(
                        &mut stream,
                        503,
                        "application/json",
                        &http::error_json(&refusal),
                    );
                    continue;
                }
                let number = hub.next_connection.fetch_add(1, Ordering::Relaxed);
                if let Ok(clone) = stream.try_clone() {
                    let mut sockets = hub.sockets.lock().unwrap_or_else(|e| e.into_inner());
                    sockets.push((number, clone));
                }
                if let Some(oldest) = hub.waiting.enter(number, Instant::now()) {
                    hub.close_socket(oldest);
                }
                let hub2 = hub.clone();
                let spawned = std::thread::Builder::new()
                    .name("orator-api-client".into())
                    .spawn(move || {
                        serve_connection(&hub2, stream, number);
                        hub2.waiting.leave(number);
                        hub2.forget_socket(number);
                    });
                match spawned {
                    Ok(thread) => threads.push(thread),
                    Err(_) => {
                        hub.waiting.leave(number);
                        hub.forget_socket(number);
                    }
                }
            }
            Err(e) if http::is_timeout(&e) => std::thread::sleep(TICK),
            Err(_) => std::thread::sleep(TICK),
        }
    }
}

fn serve_connection(hub: &Arc<Hub>, mut stream: TcpStream, number: u64) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(TICK * 5));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_nodelay(true);
    let head = http::read_head(&mut stream);
    hub.waiting.leave(number);
    let request = match head {
        Ok(request) => request,
        Err(refusal) => {
            refuse(hub, &mut stream, &refusal, "malformed request");
            return;
        }
    };
    if let Err(refusal) = http::check_access(&request, hub.port, &hub.token) {
        refuse(
            hub,
            &mut stream,
            &refusal,
            &format!("{} {}", request.method, request.path),
        );
        return;
    }
    if request.is_websocket() {
        websocket(hub, stream, request);
    } else {
        serve_http(hub, &mut stream, &request);
    }
}

fn refuse(hub: &Hub, stream: &mut TcpStream, refusal: &Refusal, what: &str) {
    hub.status.refused.fetch_add(1, Ordering::Relaxed);
    hub.status
        .note(&format!("refused {what}: {}", refusal.message));
    let _ = http::respond(
        stream,
        refusal.status,
        "application/json",
        &http::error_json(refusal),
    );
}

/// The caption page for an OBS browser source (`GET /captions`): self-contained, it follows
/// this server's `TextToSpeech` events over a WebSocket to the same address.
const CAPTIONS: &[u8] = include_bytes!("captions.html");

/// Speech with its word timings: an OpenAI speech request's body, answered with JSON holding
/// the audio (base64, in the asked format) and its timings ([`render::timings_json`]).
const TIMED: &str = "/v1/audio/speech/timed";

fn serve_http(hub: &Arc<Hub>, stream: &mut TcpStream, request: &Request) {
    hub.status.requests.fetch_add(1, Ordering::Relaxed);
    let owner = super::owner();
    let voices = voices_of(owner.as_deref());
    let result: Result<(&str, Vec<u8>), Refusal> =
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/" | "/v1") => Ok((
                "application/json",
                json!({
                    "name": "Orator",
                    "version": env!("CARGO_PKG_VERSION"),
                    "websocket": format!("ws://127.0.0.1:{}/", hub.port),
                    "endpoints": [
                        "POST /v1/audio/speech",
                        "POST /v1/audio/speech/timed",
                        "GET /v1/models",
                        "GET /v1/voices",
                        "GET /captions",
                    ],
                })
                .to_string()
                .into_bytes(),
            )),
            ("GET", "/captions") => Ok(("text/html; charset=utf-8", CAPTIONS.to_vec())),
            ("GET", "/v1/models") => Ok(("application/json", openai::models())),
            ("GET", "/v1/voices") => Ok(("application/json", openai::voice_list(&voices))),
            ("POST", "/v1/audio/speech") => {
                speech_request(hub, stream, request, owner.as_deref(), &voices, false)
            }
            ("POST", TIMED) => {
                speech_request(hub, stream, request, owner.as_deref(), &voices, true)
            }
            (_, "/v1/audio/speech" | TIMED | "/v1/models" | "/v1/voices" | "/" | "/captions") => {
                Err(Refusal::new(
                    405,
                    format!("{} is not allowed here", request.method),
                ))
            }
            _ => Err(Refusal::new(
                404,
                format!(
                    "no endpoint at {}",
                    request.path.chars().take(64).collect::<String>()
                ),
            )),
        };
    match result {
        Ok((content_type, body)) => {
            hub.status
                .note(&format!("{} {}", request.method, request.path));
            let _ = http::respond(stream, 200, content_type, &body);
        }
        Err(refusal) => refuse(
            hub,
            stream,
            &refusal,
            &format!("{} {}", request.method, request.path),
        ),
    }
    let _ = stream.flush();
}

/// The installed voices, as the editor's Voice tab lists them: the bundled voices folder (of
/// the owner's resources), the user's voices folder, and the folder of the voice speaking now.
/// A name found twice is the first folder's.
fn voices_of(owner: Option<&dyn Target>) -> Vec<(String, std::path::PathBuf)> {
    use crate::tts::resources::{Resources, user_voices_dir};
    let current = owner
        .and_then(|o| o.speech())
        .and_then(|s| s.status.voice())
        .and_then(|v| v.path.parent().map(std::path::Path::to_path_buf));
    let bundled = owner
        .and_then(Target::resources)
        .or_else(|| Resources::locate().ok())
        .map(|r| r.voices_dir());
    let mut voices: Vec<(String, std::path::PathBuf)> = Vec::new();
    for dir in bundled.into_iter().chain(user_voices_dir()).chain(current) {
        for (name, path) in openai::installed_voices(&dir) {
            if !voices
                .iter()
                .any(|(known, _)| known.eq_ignore_ascii_case(&name))
            {
                voices.push((name, path));
            }
        }
    }
    voices
}

fn speech_request(
    hub: &Hub,
    stream: &mut TcpStream,
    request: &Request,
    owner: Option<&dyn Target>,
    voices: &[(String, std::path::PathBuf)],
    timed: bool,
) -> Result<(&'static str, Vec<u8>), Refusal> {
    http::check_json(request)?;
    let body = http::read_body(stream, request)?;
    let speech = openai::parse(&body, voices).map_err(|m| Refusal::new(400, m))?;
    openai::check_length(&speech).map_err(|e| Refusal::new(400, e.to_string()))?;
    if hub.renders_waiting.fetch_add(1, Ordering::AcqRel) >= MAX_RENDERS_WAITING {
        hub.renders_waiting.fetch_sub(1, Ordering::AcqRel);
        return Err(Refusal::new(
            429,
            "too many speech requests at once: try again shortly",
        ));
    }
    let result = render_speech(hub, &speech, owner);
    hub.renders_waiting.fetch_sub(1, Ordering::AcqRel);
    let (rendered, text) = result?;
    let samples = rendered.channels.first().map_or(&[][..], Vec::as_slice);
    let audio = openai::encode(&openai::to_i16(samples), speech.format);
    if !timed {
        return Ok((speech.format.content_type(), audio));
    }
    let body = json!({
        "format": if speech.format == openai::Format::Wav { "wav" } else { "pcm" },
        "sample_rate": openai::RATE,
        "audio": http::base64(&audio),
        "timings": render::timings_json(&rendered, &text, openai::RATE),
    });
    Ok(("application/json", body.to_string().into_bytes()))
}

/// The HTTP side's own speech service: renders whole, never plays.
struct Renderer {
    service: SpeechService,
    session: Arc<SharedSession>,
}

fn render_speech(
    hub: &Hub,
    speech: &openai::Speech,
    owner: Option<&dyn Target>,
) -> Result<(render::Rendered, String), Refusal> {
    let mut renderer = hub.renderer.lock().unwrap_or_else(|e| e.into_inner());
    if hub.stop.load(Ordering::Acquire) {
        return Err(Refusal::new(503, "the server is stopping"));
    }
    if renderer.is_none() {
        let session = Arc::new(SharedSession::default());
        let resources = owner.and_then(Target::resources);
        let service = SpeechService::start(session.clone(), resources)
            .map_err(|e| Refusal::new(503, format!("could not start speech: {e}")))?;
        *hub.render_control.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(service.control().clone());
        *renderer = Some(Renderer { service, session });
    }
    let Some(renderer) = renderer.as_ref() else {
        return Err(Refusal::new(503, "no renderer"));
    };
    // The owner's voice, dictionary and delivery, at the asked pace.
    let (voice, dictionary, delivery, api) = owner.map_or_else(
        || {
            (
                None,
                Default::default(),
                Delivery::default(),
                ApiSettings::default(),
            )
        },
        |o| {
            o.session().read(|s| {
                (
                    s.voice.clone(),
                    s.dictionary.clone(),
                    s.delivery,
                    s.api.clone(),
                )
            })
        },
    );
    let voice = speech.voice.clone().or(voice);
    renderer.session.update(|s| {
        s.voice = voice.clone();
        s.dictionary = dictionary;
        s.delivery = Delivery {
            rate: speech.speed,
            ..delivery
        };
    });
    let status = &renderer.service.status;
    let loaded = status.voice().map(|v| v.path);
    let wanted = voice.clone().or_else(|| {
        crate::tts::resources::Resources::locate()
            .ok()
            .map(|r| r.default_voice())
    });
    if status.state() != State::Ready || loaded != wanted {
        renderer.service.load_voice(voice);
        wait_for_voice(&renderer.service, hub)?;
    }
    let espeak = status.voice().map(|v| v.espeak_voice);
    let (mut settings, _) = api.filter_settings(espeak.as_deref());
    settings.max_chars = openai::MAX_INPUT;
    let text = match filter::filter(&speech.input, &settings) {
        Filtered::Speak(text) => text,
        Filtered::Dropped => return Err(Refusal::new(400, "the word list drops this input")),
        Filtered::Empty => {
            return Err(Refusal::new(400, "the input has nothing readable to speak"));
        }
    };
    let rendered = render::render(
        &renderer.service,
        &text,
        openai::RATE,
        2,
        &PathSettings::default(),
        None,
    );
    if let Some(why) = rendered.failure {
        return Err(Refusal::new(500, format!("could not speak: {why}")));
    }
    if rendered.voice_samples == 0 {
        return Err(Refusal::new(500, "nothing was spoken"));
    }
    Ok((rendered, text))
}

fn wait_for_voice(service: &SpeechService, hub: &Hub) -> Result<(), Refusal> {
    // The load starts on the speech thread; give it a moment to leave the old state.
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(5));
    loop {
        match service.status.state() {
            State::Ready if started.elapsed() > Duration::from_millis(5) => return Ok(()),
            State::Failed => return Err(Refusal::new(500, service.status.message())),
            _ if hub.stop.load(Ordering::Acquire) => {
                return Err(Refusal::new(503, "the server is stopping"));
            }
            _ if started.elapsed() > Duration::from_secs(60) => {
                return Err(Refusal::new(503, "the voice took too long to load"));
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn websocket(hub: &Arc<Hub>, mut stream: TcpStream, request: Request) {
    let key = request.header("sec-websocket-key").map(str::to_owned);
    let version_ok = request.header("sec-websocket-version") == Some("13");
    let Some(key) = key.filter(|_| version_ok) else {
        refuse(
            hub,
            &mut stream,
            &Refusal::new(
                400,
                "a WebSocket request needs Sec-WebSocket-Key and version 13",
            ),
            "WebSocket",
        );
        return;
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(TICK));
    let config = WebSocketConfig::default()
        .max_message_size(Some(speakerbot::MAX_MESSAGE))
        .max_frame_size(Some(speakerbot::MAX_MESSAGE));
    let mut ws = tungstenite::WebSocket::from_partially_read(
        stream,
        request.rest,
        Role::Server,
        Some(config),
    );
    let (events_in, events): (SyncSender<Broadcast>, Receiver<Broadcast>) =
        sync_channel(CLIENT_EVENTS);
    hub.clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(events_in);
    hub.status.clients.fetch_add(1, Ordering::Relaxed);
    hub.status.note("WebSocket client connected");
    let mut client = Client::default();
    let (mut heard, mut pinged) = (Instant::now(), Instant::now());
    while !hub.stop.load(Ordering::Acquire) {
        let read = ws.read();
        if read.is_ok() {
            heard = Instant::now();
        }
        if heard.elapsed() > SILENCE_LIMIT {
            hub.status
                .note("WebSocket client closed: it stopped answering pings");
            break;
        }
        if pinged.elapsed() >= PING_EVERY {
            pinged = Instant::now();
            if ws.send(Message::Ping(Default::default())).is_err() {
                break;
            }
        }
        match read {
            Ok(Message::Text(text)) => {
                for reply in client.handle(hub, text.as_str()) {
                    if ws.send(Message::text(reply)).is_err() {
                        break;
                    }
                }
            }
            Ok(Message::Binary(_)) => {
                let reply = speakerbot::error(&Value::Null, "send requests as text messages");
                let _ = ws.send(Message::text(reply));
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if http::is_timeout(&e) => {}
            Err(_) => break,
        }
        let mut failed = false;
        while let Ok(event) = events.try_recv() {
            for text in client.on_event(&event) {
                if ws.send(Message::text(text)).is_err() {
                    failed = true;
                }
            }
        }
        if failed || client.strikes > 200 {
            break;
        }
    }
    let _ = ws.close(None);
    let _ = ws.flush();
    hub.status.clients.fetch_sub(1, Ordering::Relaxed);
}

/// One WebSocket client's state.
#[derive(Default)]
struct Client {
    subscriptions: Vec<String>,
    limit: RateLimit,
    /// Speak requests waiting for their phrase's end: phrase → request id.
    waiting: Vec<(PhraseId, Value)>,
    /// Requests refused for the rate in a row.
    strikes: u32,
}

impl Client {
    fn handle(&mut self, hub: &Hub, text: &str) -> Vec<String> {
        hub.status.requests.fetch_add(1, Ordering::Relaxed);
        if !self.limit.take() {
            self.strikes += 1;
            hub.status.refused.fetch_add(1, Ordering::Relaxed);
            // The id still goes back, so the client can tell which request was refused.
            let id = speakerbot::parse(text).map_or_else(|bad| bad.id, |parsed| parsed.id);
            return vec![speakerbot::error(&id, "too many requests: slow down")];
        }
        self.strikes = 0;
        let parsed = match speakerbot::parse(text) {
            Ok(parsed) => parsed,
            Err(bad) => {
                hub.status.refused.fetch_add(1, Ordering::Relaxed);
                hub.status.note(&format!("refused: {}", bad.error));
                return vec![speakerbot::error(&bad.id, &bad.error)];
            }
        };
        let id = parsed.id;
        let owner = super::owner();
        let speech = owner.as_deref().and_then(Target::speech);
        let reply = match parsed.action {
            Action::GetInfo => speakerbot::ok(
                &id,
                json!({
                    "info": {
                        "name": "Orator",
                        "version": env!("CARGO_PKG_VERSION"),
                        "enabled": hub.enabled.load(Ordering::Acquire),
                        "paused": speech.is_some_and(|s| s.control().is_paused()),
                        "queued": hub.queued.load(Ordering::Acquire),
                        "voice": speech.and_then(|s| s.status.voice()).map(|v| v.name),
                        "underruns": owner.as_deref().map_or(0, Target::underruns),
                    }
                }),
            ),
            Action::Speak {
                message,
                bad_word_filter,
                wait,
                ..
            } => {
                hub.status.note(&format!("Speak: {message}"));
                match speak(hub, owner.as_deref(), &message, bad_word_filter) {
                    Ok(phrase) if wait => {
                        self.waiting.push((phrase, id));
                        return Vec::new();
                    }
                    Ok(phrase) => speakerbot::ok(&id, json!({"result": {"speechId": phrase}})),
                    Err(why) => {
                        hub.status.refused.fetch_add(1, Ordering::Relaxed);
                        speakerbot::error(&id, &why)
                    }
                }
            }
            Action::Stop | Action::Pause | Action::Resume | Action::Clear => {
                let Some(speech) = speech else {
                    return vec![speakerbot::error(
                        &id,
                        "no Orator instance has the API enabled",
                    )];
                };
                let control = speech.control();
                match parsed.action {
                    Action::Stop => control.skip(),
                    Action::Pause => control.set_paused(true),
                    Action::Resume => control.set_paused(false),
                    _ => control.clear(),
                }
                speakerbot::ok(&id, json!({}))
            }
            Action::Enable | Action::Disable => {
                hub.enabled
                    .store(parsed.action == Action::Enable, Ordering::Release);
                speakerbot::ok(&id, json!({}))
            }
            Action::Events(_) => speakerbot::ok(&id, json!({})),
            Action::Mode(false) => speakerbot::ok(&id, json!({})),
            Action::Mode(true) => speakerbot::error(
                &id,
                "Orator has no chat commands configured; every message is spoken",
            ),
            Action::Subscribe(names) => {
                for name in names {
                    if !self.subscriptions.contains(&name) && self.subscriptions.len() < 64 {
                        self.subscriptions.push(name);
                    }
                }
                speakerbot::ok(
                    &id,
                    json!({"events": {speakerbot::SOURCE: self.subscribed_types()}}),
                )
            }
            Action::Unsubscribe(names) => {
                self.subscriptions.retain(|s| !names.contains(s));
                speakerbot::ok(
                    &id,
                    json!({"events": {speakerbot::SOURCE: self.subscribed_types()}}),
                )
            }
            Action::GetEvents => speakerbot::ok(
                &id,
                json!({"events": {speakerbot::SOURCE: speakerbot::EVENT_TYPES}}),
            ),
            Action::Commands => speakerbot::ok(&id, json!({"commands": []})),
        };
        vec![reply]
    }

    fn subscribed_types(&self) -> Vec<&'static str> {
        [
            Stage::TextQueued,
            Stage::Playing,
            Stage::Word,
            Stage::Finished,
            Stage::Deleted,
            Stage::Error,
        ]
        .into_iter()
        .filter(|s| speakerbot::subscribed(&self.subscriptions, *s))
        .map(Stage::name)
        .collect()
    }

    fn on_event(&mut self, event: &Broadcast) -> Vec<String> {
        let mut out = Vec::new();
        if speakerbot::subscribed(&self.subscriptions, event.stage) {
            let phonemes = speakerbot::wants_phonemes(&self.subscriptions);
            out.push(speakerbot::event_with(
                event.stage,
                event.id,
                &event.message,
                event.duration_ms,
                event.error.as_deref(),
                event
                    .word
                    .as_ref()
                    .map(|(w, rate)| speakerbot::word(w, *rate, phonemes)),
                &speakerbot::time_stamp(),
            ));
        }
        if event.stage.is_final()
            && let Some(at) = self.waiting.iter().position(|(p, _)| *p == event.id)
        {
            let (_, id) = self.waiting.swap_remove(at);
            out.push(match event.stage {
                Stage::Finished => speakerbot::ok(
                    &id,
                    json!({"result": {
                        "speechId": event.id,
                        "duration": event.duration_ms.unwrap_or(0.0).round() as u64,
                    }}),
                ),
                Stage::Deleted => speakerbot::error(&id, "the phrase was stopped before its end"),
                _ => speakerbot::error(
                    &id,
                    event
                        .error
                        .as_deref()
                        .unwrap_or("the phrase could not be spoken"),
                ),
            });
        }
        out
    }
}

/// Filters and queues one API message on the owner's speech service.
pub(crate) fn speak(
    hub: &Hub,
    owner: Option<&dyn Target>,
    message: &str,
    use_words: bool,
) -> Result<PhraseId, String> {
    if !hub.enabled.load(Ordering::Acquire) {
        return Err("Orator's speech is disabled (send Enable)".into());
    }
    let Some(owner) = owner else {
        return Err("no Orator instance has the API enabled".into());
    };
    let Some(speech) = owner.speech() else {
        return Err("Orator's speech thread could not start".into());
    };
    if hub.queued.load(Ordering::Acquire) >= MAX_QUEUED {
        return Err(format!(
            "queue full ({MAX_QUEUED} messages waiting): try again later"
        ));
    }
    let api = owner.session().read(|s| s.api.clone());
    let espeak = speech.status.voice().map(|v| v.espeak_voice);
    let (mut settings, _) = api.filter_settings(espeak.as_deref());
    settings.use_words = use_words;
    let text = match filter::filter(message, &settings) {
        Filtered::Speak(text) => text,
        Filtered::Dropped => return Err("the word list drops this message".into()),
        Filtered::Empty => return Err("the message has nothing readable to speak".into()),
    };
    let message: Arc<str> = Arc::from(text.as_str());
    // Followed before it is queued, so its events cannot arrive first.
    let id = {
        let mut followed = hub.followed.lock().unwrap_or_else(|e| e.into_inner());
        let id = speech.speak(text);
        followed.insert(
            id,
            Followed {
                message: message.clone(),
                started_at: None,
                failed_seen: None,
            },
        );
        id
    };
    hub.queued.fetch_add(1, Ordering::AcqRel);
    broadcast(
        hub,
        Broadcast {
            stage: Stage::TextQueued,
            id,
            message,
            duration_ms: None,
            error: None,
            word: None,
        },
    );
    Ok(id)
}

fn broadcast(hub: &Hub, event: Broadcast) {
    let mut clients = hub.clients.lock().unwrap_or_else(|e| e.into_inner());
    clients.retain(|client| {
        !matches!(
            client.try_send(event.clone()),
            Err(TrySendError::Disconnected(_))
        )
    });
}

/// The words of the phrase heard now that were announced.
#[derive(Default)]
struct Announced {
    phrase: PhraseId,
    words: usize,
}

impl Announced {
    /// Adds a `Word` event to `out` for each word of phrase `id` that starts at or before
    /// `position` (samples heard of it) and was not announced yet.
    fn announce(
        &mut self,
        speech: &SpeechService,
        id: PhraseId,
        position: u64,
        message: &Arc<str>,
        out: &mut Vec<Broadcast>,
    ) {
        if self.phrase != id {
            *self = Self {
                phrase: id,
                words: 0,
            };
        }
        let Some(timings) = speech.word_timings(id) else {
            return;
        };
        for word in timings.words.iter().skip(self.words) {
            if word.span.start > position {
                break;
            }
            self.words += 1;
            out.push(Broadcast {
                stage: Stage::Word,
                id,
                message: message.clone(),
                duration_ms: None,
                error: None,
                word: Some((Arc::new(word.clone()), timings.sample_rate)),
            });
        }
    }
}

/// Follows the owner's phrase events and tells every client.
fn event_loop(hub: &Arc<Hub>) {
    let mut cursor = None;
    let mut words = Announced::default();
    let mut timeline = TimelineWords::default();
    let mut owner_key = 0usize;
    while !hub.stop.load(Ordering::Acquire) {
        std::thread::sleep(TICK / 2);
        let Some(owner) = super::owner() else {
            continue;
        };
        let Some(speech) = owner.speech() else {
            continue;
        };
        let key = Arc::as_ptr(owner.session()) as usize;
        if key != owner_key || cursor.is_none() {
            owner_key = key;
            cursor = Some(speech.event_cursor());
        }
        let Some(cursor) = cursor.as_mut() else {
            continue;
        };
        let rate = f64::from(speech.output_rate().unwrap_or(48_000.0).max(1.0));
        let mut out = Vec::new();
        {
            let mut followed = hub.followed.lock().unwrap_or_else(|e| e.into_inner());
            // Words as they are heard: every word of the phrase heard now that has started.
            if let Some((id, position)) = speech.control().heard() {
                let message = followed
                    .get(&id)
                    .map(|f| f.message.clone())
                    .or_else(|| speech.phrase_text(id))
                    .unwrap_or_else(|| Arc::from(""));
                words.announce(speech, id, position, &message, &mut out);
            }
            speech.events_since(cursor, &mut |event| {
                let message = followed
                    .get(&event.id)
                    .map(|f| f.message.clone())
                    .or_else(|| speech.phrase_text(event.id))
                    .unwrap_or_else(|| Arc::from(""));
                let failure = speech.failure(event.id);
                if failure.is_some()
                    && !followed.contains_key(&event.id)
                    && !matches!(event.kind, PhraseEventKind::Cancelled)
                {
                    // Already reported, or an editor phrase: its failure shows in the editor.
                    return;
                }
                let (stage, duration_ms) = match event.kind {
                    PhraseEventKind::Started => {
                        if let Some(f) = followed.get_mut(&event.id) {
                            f.started_at = Some(event.at);
                        }
                        if failure.is_some() {
                            return;
                        }
                        (Stage::Playing, None)
                    }
                    PhraseEventKind::Finished if failure.is_some() => (Stage::Error, None),
                    PhraseEventKind::Finished => {
                        let start = followed.get(&event.id).and_then(|f| f.started_at);
                        (
                            Stage::Finished,
                            start.map(|s| event.at.saturating_sub(s) as f64 / rate * 1e3),
                        )
                    }
                    PhraseEventKind::Cancelled => (Stage::Deleted, None),
                };
                if stage.is_final() && followed.remove(&event.id).is_some() {
                    hub.queued.fetch_sub(1, Ordering::AcqRel);
                }
                if matches!(stage, Stage::Finished) {
                    // The words not yet announced (heard between two looks) come first.
                    words.announce(speech, event.id, u64::MAX, &message, &mut out);
                }
                out.push(Broadcast {
                    stage,
                    id: event.id,
                    message,
                    duration_ms,
                    error: failure,
                    word: None,
                });
            });
            // Timeline phrases (notes, Trigger, Speak) as they are heard.
            let mut heard = Vec::new();
            let control = speech.control().clone();
            timeline.follow(
                speech.bank(),
                rate as u32,
                &mut || control.new_id(),
                &mut heard,
            );
            out.extend(heard.into_iter().map(|h| match h {
                Heard::Word {
                    id,
                    message,
                    word,
                    rate,
                } => Broadcast {
                    stage: Stage::Word,
                    id,
                    message,
                    duration_ms: None,
                    error: None,
                    word: Some((word, rate)),
                },
                Heard::Ended { id, message } => Broadcast {
                    stage: Stage::Finished,
                    id,
                    message,
                    duration_ms: None,
                    error: None,
                    word: None,
                },
            }));
            // Phrases that failed and never sounded (no activation to play them).
            let mut gone = Vec::new();
            for (id, f) in followed.iter_mut() {
                if f.started_at.is_none() && speech.failure(*id).is_some() {
                    let seen = *f.failed_seen.get_or_insert_with(Instant::now);
                    if seen.elapsed() > Duration::from_secs(1) {
                        gone.push(*id);
                    }
                }
            }
            for id in gone {
                if let Some(f) = followed.remove(&id) {
                    hub.queued.fetch_sub(1, Ordering::AcqRel);
                    out.push(Broadcast {
                        stage: Stage::Error,
                        id,
                        message: f.message,
                        duration_ms: None,
                        error: speech.failure(id),
                        word: None,
                    });
                }
            }
        }
        for event in out {
            broadcast(hub, event);
        }
    }
}

impl Hub {
    /// Takes connection `number`'s socket out of the list and closes the connection: the
    /// client reads the response to its end, then the end of the stream.
    fn forget_socket(&self, number: u64) {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = sockets.iter().position(|(n, _)| *n == number) {
            let (_, socket) = sockets.swap_remove(at);
            let _ = socket.shutdown(std::net::Shutdown::Write);
        }
    }

    /// Closes connection `number`'s socket (its thread ends and forgets it).
    fn close_socket(&self, number: u64) {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, socket)) = sockets.iter().find(|(n, _)| *n == number) {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Whether the server is stopping.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// The token clients must send (empty: none).
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The status.
    pub(crate) fn status(&self) -> &Status {
        &self.status
    }

    /// Speech on or off (Enable / Disable).
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_rate() {
        let mut limit = RateLimit::default();
        let allowed = (0..100).filter(|_| limit.take()).count();
        assert_eq!(allowed, RATE_BURST as usize);
        std::thread::sleep(Duration::from_millis(120));
        assert!(limit.take(), "refilled at {RATE_PER_SECOND}/s");
    }
}

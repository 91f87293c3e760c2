//! The server's threads: one accepts TCP connections on 127.0.0.1 and ::1, one per connection
//! serves it (WebSocket or one HTTP exchange), one reads UDP, one turns the owner's phrase
//! events into `TextToSpeech` events. Every thread checks the stop flag at least every
//! [`TICK`]; stopping shuts every socket down and joins every thread.

use super::admission::Waiting;
use super::events::{Broadcast, Followed, event_loop};
use super::http::{self, Refusal};
use super::routes::{Renderer, serve_http};
use super::session::websocket;
use super::{ApiSettings, Status};
use crate::playback::stream::PhraseId;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often every server thread looks at the stop flag.
pub const TICK: Duration = Duration::from_millis(20);

/// Open connections at most; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 32;

/// What every server thread shares.
pub(crate) struct Hub {
    pub(super) port: u16,
    pub(super) token: String,
    pub(super) status: Arc<Status>,
    pub(super) stop: AtomicBool,
    /// Speak requests are refused while false (Disable).
    pub(super) enabled: AtomicBool,
    /// API phrases queued and not yet done.
    pub(super) queued: AtomicUsize,
    pub(super) followed: Mutex<HashMap<PhraseId, Followed>>,
    pub(super) clients: Mutex<Vec<SyncSender<Broadcast>>>,
    /// Open connections' sockets, by connection number, to shut down on stop. A connection
    /// takes its own out when it ends (a clone left here would keep the socket open).
    pub(super) sockets: Mutex<Vec<(u64, TcpStream)>>,
    /// The next connection number.
    pub(super) next_connection: AtomicU64,
    /// Connections that have not sent their head yet.
    pub(super) waiting: Waiting,
    /// The HTTP renderer (started on first use).
    pub(super) renderer: Mutex<Option<Renderer>>,
    pub(super) renders_waiting: AtomicUsize,
    /// The renderer's queue control, to stop a render when the server stops.
    pub(super) render_control: Mutex<Option<Arc<crate::playback::stream::Control>>>,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The server of one owner instance.
pub struct Running {
    owner: u64,
    settings: ApiSettings,
    hub: Option<Arc<Hub>>,
    threads: Vec<JoinHandle<()>>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another program has the port.
    #[error("port {0} is taken by another program: pick another port")]
    PortTaken(u16),
    /// The TCP port could not be bound.
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Listen {
        /// The port.
        port: u16,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The UDP port could not be bound.
    #[error("could not listen for UDP on 127.0.0.1:{port}: {source}")]
    Udp {
        /// The port.
        port: u16,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A listener could not be made non-blocking.
    #[error("could not set up the listener: {0}")]
    Setup(std::io::Error),
    /// A thread could not be started.
    #[error("could not start a server thread: {0}")]
    Thread(std::io::Error),
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StartError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(StartError::Thread)
}

impl Running {
    /// Binds the ports and starts the threads.
    pub(super) fn start(
        owner: u64,
        settings: &ApiSettings,
        status: Arc<Status>,
    ) -> Result<Self, StartError> {
        let port = settings.port;
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                StartError::PortTaken(port)
            } else {
                StartError::Listen { port, source: e }
            }
        })?;
        // ::1 too where the machine has IPv6 loopback; without it, 127.0.0.1 serves alone.
        let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).ok();
        let udp = match settings.udp_port {
            0 => None,
            udp_port => Some(
                std::net::UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, udp_port)))
                    .map_err(|source| StartError::Udp {
                        port: udp_port,
                        source,
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
            next_connection: AtomicU64::new(0),
            waiting: Waiting::default(),
            renderer: Mutex::new(None),
            renders_waiting: AtomicUsize::new(0),
            render_control: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        });
        status.clients.store(0, Ordering::Relaxed);
        let mut threads = Vec::new();
        for listener in std::iter::once(v4).chain(v6) {
            listener.set_nonblocking(true).map_err(StartError::Setup)?;
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
                // Every slot taken by connections inside their grace: this one waits for the
                // oldest's grace to end (at most `admission::GRACE`) rather than be refused.
                let full = {
                    let mut threads = hub.threads.lock().unwrap_or_else(|e| e.into_inner());
                    threads.retain(|t| !t.is_finished());
                    threads.len() >= MAX_CONNECTIONS
                };
                if full && let Some(wait) = hub.waiting.grace_left(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let mut threads = hub.threads.lock().unwrap_or_else(|e| e.into_inner());
                threads.retain(|t| !t.is_finished());
                let mut stream = stream;
                // Every slot taken: a connection that has not sent its head makes room.
                let evicted = (threads.len() >= MAX_CONNECTIONS)
                    .then(|| hub.waiting.evict_oldest(Instant::now()))
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

pub(super) fn refuse(hub: &Hub, stream: &mut TcpStream, refusal: &Refusal, what: &str) {
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

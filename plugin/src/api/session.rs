//! A WebSocket client's session: Speaker.bot requests in, replies and subscribed
//! `TextToSpeech` events out, pings while it is quiet, and its slot freed once it stops
//! answering.
//!
//! Thread model: one connection thread per client; phrases go to the owner's speech service
//! through [`speak`], events arrive from the events thread over a bounded channel.

use super::Target;
use super::aliases::{self, Choice};
use super::counted::Counted;
use super::events::{Broadcast, Followed, broadcast};
use super::filter::{self, Filtered};
use super::http::{self, Refusal, Request};
use super::rate::RateLimit;
use super::server::{Hub, TICK, refuse};
use super::speakerbot::{self, Action, Stage};
use crate::playback::stream::PhraseId;
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};
use tungstenite::protocol::{Message, Role, WebSocketConfig};

/// API phrases queued and not yet heard at most; more get "queue full".
pub const MAX_QUEUED: usize = 32;

/// How often a WebSocket client is pinged.
pub const PING_EVERY: Duration = Duration::from_secs(10);

/// A WebSocket client heard from (a pong counts) less recently than this is gone: its slot is
/// freed. Browsers and WebSocket libraries answer pings by themselves.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// Events in flight to one client; a client that reads none loses the newest.
const CLIENT_EVENTS: usize = 256;

pub(super) fn websocket(hub: &Arc<Hub>, mut stream: TcpStream, request: Request) {
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
    let _connected = Counted::enter(&hub.status.clients);
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
    /// The phrases whose text this client was last sent (a `Word` event carries the message
    /// only the first time, so a phrase costs its text once, not once per word).
    told: Told,
}

/// The last few phrases a client was given the text of.
#[derive(Default)]
struct Told {
    ids: [Option<PhraseId>; 8],
    next: usize,
}

impl Told {
    /// Whether `id`'s text was sent; marks it sent.
    fn first_time(&mut self, id: PhraseId) -> bool {
        if self.ids.contains(&Some(id)) {
            return false;
        }
        self.ids[self.next] = Some(id);
        self.next = (self.next + 1) % self.ids.len();
        true
    }
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
                voice,
                user,
                bad_word_filter,
                wait,
            } => {
                hub.status.note(&format!("Speak: {message}"));
                let asked = Asked {
                    message: &message,
                    use_words: bad_word_filter,
                    voice: voice.as_deref(),
                    chatter: user.as_deref(),
                };
                match speak(hub, owner.as_deref(), &asked) {
                    Ok(queued) if wait => {
                        self.waiting.push((queued.id, id));
                        return Vec::new();
                    }
                    Ok(queued) => {
                        let mut result = json!({
                            "speechId": queued.id,
                            "voice": queued.alias.as_deref().unwrap_or(aliases::INSTANCE_VOICE),
                        });
                        if queued.cut > 0 {
                            result["cut"] = json!(queued.cut);
                        }
                        if let Some(name) = &queued.unknown {
                            result["warning"] = json!(format!(
                                "no voice alias named `{name}`: spoken with the instance's voice"
                            ));
                        }
                        speakerbot::ok(&id, json!({ "result": result }))
                    }
                    Err(why) => {
                        hub.status.refused.fetch_add(1, Ordering::Relaxed);
                        speakerbot::error(&id, &why.to_string())
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
            Action::GetVoices => {
                let voices = owner
                    .as_deref()
                    .map(|o| o.session().read(|s| s.api.voices.clone()))
                    .unwrap_or_default();
                speakerbot::ok(&id, speakerbot::voices(&voices))
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
            let first = self.told.first_time(event.id);
            let message = (first || event.stage != Stage::Word).then_some(&*event.message);
            out.push(speakerbot::event_with(
                event.stage,
                event.id,
                message,
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

/// Why an API message was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SpeakError {
    /// Disable was sent.
    #[error("Orator's speech is disabled (send Enable)")]
    Disabled,
    /// No instance has the API on.
    #[error("no Orator instance has the API enabled")]
    NoOwner,
    /// The owner's speech thread is not running.
    #[error("Orator's speech thread could not start")]
    NoSpeech,
    /// Too many API phrases wait.
    #[error("queue full ({MAX_QUEUED} messages waiting): try again later")]
    QueueFull,
    /// The word list drops it.
    #[error("the word list drops this message")]
    Dropped,
    /// The filter left nothing.
    #[error("the message has nothing readable to speak")]
    Empty,
}

/// One API message to speak.
pub(crate) struct Asked<'a> {
    /// The text.
    pub message: &'a str,
    /// Whether the word list applies.
    pub use_words: bool,
    /// The voice alias asked for.
    pub voice: Option<&'a str>,
    /// The chatter it is from.
    pub chatter: Option<&'a str>,
}

/// A queued API message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    /// Its phrase.
    pub id: PhraseId,
    /// Characters of the filtered message cut at the length cap (not spoken).
    pub cut: usize,
    /// The voice alias it is spoken with (`None`: the instance's voice).
    pub alias: Option<String>,
    /// The alias asked for that does not exist (its first characters).
    pub unknown: Option<String>,
}

/// Filters and queues one API message on the owner's speech service, with the voice alias
/// asked for or the chatter's.
pub(crate) fn speak(
    hub: &Hub,
    owner: Option<&dyn Target>,
    asked: &Asked<'_>,
) -> Result<Queued, SpeakError> {
    if !hub.enabled.load(Ordering::Acquire) {
        return Err(SpeakError::Disabled);
    }
    let owner = owner.ok_or(SpeakError::NoOwner)?;
    let speech = owner.speech().ok_or(SpeakError::NoSpeech)?;
    if hub.queued.load(Ordering::Acquire) >= MAX_QUEUED {
        return Err(SpeakError::QueueFull);
    }
    let api = owner.session().read(|s| s.api.clone());
    let espeak = speech.status.voice().map(|v| v.espeak_voice);
    let (mut settings, problem) = api.filter_settings(espeak.as_deref());
    if let Some(problem) = problem {
        hub.status.note(&problem);
    }
    settings.use_words = asked.use_words;
    let (alias, unknown) = match api.voices.choose(asked.voice, asked.chatter) {
        Choice::Default => (None, None),
        Choice::Alias(alias) => (Some(alias.clone()), None),
        Choice::Unknown => {
            let name: String = asked
                .voice
                .unwrap_or_default()
                .chars()
                .take(aliases::MAX_NAME)
                .collect();
            hub.status.note(&format!(
                "no voice alias `{name}`: the instance's voice speaks"
            ));
            (None, Some(name))
        }
    };
    let (text, cut) = match filter::filter(asked.message, &settings) {
        Filtered::Speak(text) => (text, 0),
        Filtered::Cut { text, cut } => (text, cut),
        Filtered::Dropped => return Err(SpeakError::Dropped),
        Filtered::Empty => return Err(SpeakError::Empty),
    };
    let message: Arc<str> = Arc::from(text.as_str());
    // Followed before it is queued, so its events cannot arrive first.
    let id = {
        let mut followed = hub.followed.lock().unwrap_or_else(|e| e.into_inner());
        let id = speech.speak_as(text, alias.as_ref().map(|a| a.voicing.clone()));
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
    if cut > 0 {
        hub.status
            .note(&format!("cut {cut} characters over the length cap"));
    }
    Ok(Queued {
        id,
        cut,
        alias: alias.map(|a| a.name),
        unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::timings::{Span, WordTiming};

    fn word(id: PhraseId, index: usize, text: &str) -> Broadcast {
        let timing = WordTiming {
            index,
            text: text.into(),
            range: None,
            span: Span { start: 0, end: 1 },
            phonemes: Vec::new(),
        };
        Broadcast {
            stage: Stage::Word,
            id,
            message: Arc::from("a long message of many words"),
            duration_ms: None,
            error: None,
            word: Some((Arc::new(timing), 48_000)),
        }
    }

    #[test]
    fn a_phrase_text_goes_to_a_client_once_not_with_every_word() {
        let mut client = Client {
            subscriptions: vec!["texttospeech.*".into()],
            ..Client::default()
        };
        let mut texts = Vec::new();
        for (i, w) in ["a", "long", "message"].iter().enumerate() {
            texts.extend(client.on_event(&word(3, i, w)));
        }
        texts.extend(client.on_event(&word(4, 0, "other")));
        let sent: Vec<Value> = texts
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        let messages: Vec<bool> = sent
            .iter()
            .map(|e| e["data"].get("message").is_some())
            .collect();
        assert_eq!(messages, [true, false, false, true]);
        assert_eq!(sent[2]["data"]["word"]["text"], "message");
    }
}

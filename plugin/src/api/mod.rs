//! The local API: chat bots and scripts make Orator speak.
//!
//! One server per process, on one TCP port (default [`DEFAULT_PORT`], Speaker.bot's), bound to
//! 127.0.0.1 and ::1 only:
//! - a Speaker.bot-compatible WebSocket ([`speakerbot`]), as Streamer.bot's Speaker.bot
//!   integration speaks it: requests, replies and `TextToSpeech` events;
//! - OpenAI-compatible HTTP ([`openai`]): `POST /v1/audio/speech` returns the audio as it is
//!   made ([`speech_stream`]; it does not play it), `GET /v1/models`, `GET /v1/voices`;
//! - Speaker.bot's UDP form on [`DEFAULT_UDP_PORT`] ([`udp`]).
//!
//! Every instance registers here ([`register`]); the first one whose session has the API enabled
//! owns the server, and WebSocket and UDP speech goes into its queue through its speech
//! service, exactly as the editor's Speak does. Nothing here reaches the audio thread. HTTP
//! speech is rendered by a speech service of the server's own ([`render`]).
//!
//! The server's threads ([`server`]: connections and admission; `routes`: HTTP; `session`:
//! WebSocket clients; `events`: phrase events for every client) read chat through the chat
//! filter ([`filter`], with the chat lexicon and rules of [`chat`]); renders also give word
//! timings and subtitles ([`subtitles`]).
//!
//! Limits: message and body sizes, a per-connection (and per-UDP-sender) rate ([`rate`]), a
//! bounded number of connections, of connections still sending their head ([`admission`]) and
//! of queued API phrases, render lengths and response times; browsers are kept out by the
//! `Origin` and `Host` checks and by requiring `Content-Type: application/json` on POSTs; an
//! optional token ([`token`] makes one) guards everything.
//!
//! Thread model: the server's own threads only; the audio thread is never reached.

pub mod admission;
pub mod aliases;
pub mod chat;
mod counted;
mod events;
pub mod file_cache;
pub mod filter;
pub mod flac;
pub mod formats;
pub mod http;
pub mod mp3;
pub mod openai;
pub mod opus;
pub mod rate;
pub mod render;
mod routes;
pub mod server;
mod session;
pub mod speakerbot;
pub mod speech_stream;
pub mod ssml;
pub mod subtitles;
pub mod timeline_words;
pub mod token;
pub mod udp;

use crate::playback::service::SpeechService;
use crate::state::SharedSession;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, Weak};

/// Speaker.bot's WebSocket port, which Streamer.bot's integration uses by default.
pub const DEFAULT_PORT: u16 = 7580;

/// Speaker.bot's UDP port.
pub const DEFAULT_UDP_PORT: u16 = 6669;

/// The API's settings, saved in the project. Fields a newer Orator saved and this one does not
/// know are ignored; missing ones take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiSettings {
    /// Whether this instance offers the server.
    pub enabled: bool,
    /// The TCP port of the WebSocket and HTTP endpoints.
    pub port: u16,
    /// The UDP port (0: no UDP).
    pub udp_port: u16,
    /// A token every client must present (empty: none asked for).
    pub token: String,
    /// Whether the chat filter also applies to the editor's text.
    pub filter_editor: bool,
    /// Emoji read as their name (once per run) or dropped.
    pub emoji: filter::EmojiMode,
    /// The most characters spoken of one API message.
    pub max_chars: usize,
    /// The user's word list file (replace, bleep or drop), if any.
    pub word_list: Option<PathBuf>,
    /// The user's chat lexicon file, added to the built-in one, if any.
    pub chat_lexicon: Option<PathBuf>,
    /// Emoticons and kaomoji read by meaning or dropped.
    pub emoticons: filter::EmoticonMode,
    /// Whether inline phonemes (`[[ ]]`) from API clients are honoured (otherwise taken out).
    pub api_phonemes: bool,
    /// Voice aliases and the chatters' voices.
    pub voices: aliases::VoiceAliases,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            port: DEFAULT_PORT,
            udp_port: DEFAULT_UDP_PORT,
            token: String::new(),
            filter_editor: false,
            emoji: filter::EmojiMode::FirstName,
            max_chars: 500,
            word_list: None,
            chat_lexicon: None,
            emoticons: filter::EmoticonMode::Read,
            api_phonemes: false,
            voices: aliases::VoiceAliases::default(),
        }
    }
}

/// What new sessions start with, when a program chose it before any instance existed (the
/// standalone app's `ORATOR_API`); otherwise [`ApiSettings::default`].
static STARTUP: std::sync::OnceLock<ApiSettings> = std::sync::OnceLock::new();

impl ApiSettings {
    /// The settings a new session starts with.
    pub fn at_startup() -> Self {
        STARTUP.get().cloned().unwrap_or_default()
    }

    /// Makes every session created from now on start with `settings` (the first call wins).
    /// For programs that own the process, such as the standalone app; a plugin never calls it.
    pub fn set_at_startup(settings: Self) -> Result<(), SettingsError> {
        settings.validate()?;
        STARTUP
            .set(settings)
            .map_err(|_| SettingsError::StartupAlreadySet)
    }

    /// Start-up settings from the environment: `ORATOR_API` (`on`, or a port number, enables
    /// the API; unset, empty or `off` leaves it off) and `ORATOR_TOKEN`.
    pub fn from_environment() -> Result<Option<Self>, SettingsError> {
        let wanted = std::env::var("ORATOR_API").unwrap_or_default();
        let port = match wanted.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "0" | "false" | "no" => return Ok(None),
            "on" | "1" | "true" | "yes" => DEFAULT_PORT,
            other => other
                .parse::<u16>()
                .map_err(|_| SettingsError::Environment(wanted.clone()))?,
        };
        let settings = Self {
            enabled: true,
            port,
            token: std::env::var("ORATOR_TOKEN").unwrap_or_default(),
            ..Self::default()
        };
        settings.validate()?;
        Ok(Some(settings))
    }
}

/// The longest token accepted.
pub const MAX_TOKEN_LEN: usize = 256;

/// Why API settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Port 0.
    #[error("the API port is 0")]
    PortZero,
    /// A token too long or with control characters.
    #[error("the API token must be at most {MAX_TOKEN_LEN} bytes without control characters")]
    Token,
    /// The message cap is out of range.
    #[error("the API's longest message must be 1 to 4096 characters (got {0})")]
    MaxChars(usize),
    /// `ORATOR_API` holds something else.
    #[error("ORATOR_API must be `on`, `off` or a port number (got `{0}`)")]
    Environment(String),
    /// [`ApiSettings::set_at_startup`] was called before.
    #[error("the API's start-up settings were already set")]
    StartupAlreadySet,
    /// The voice aliases.
    #[error(transparent)]
    Aliases(#[from] aliases::AliasError),
}

impl ApiSettings {
    /// Checks ranges (a saved project or the editor may hold anything).
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.port == 0 {
            return Err(SettingsError::PortZero);
        }
        if self.token.len() > MAX_TOKEN_LEN || self.token.chars().any(|c| c.is_control()) {
            return Err(SettingsError::Token);
        }
        if !(1..=4096).contains(&self.max_chars) {
            return Err(SettingsError::MaxChars(self.max_chars));
        }
        self.voices.validate()?;
        Ok(())
    }

    /// The chat filter these settings describe, for a voice speaking `espeak_voice`. A word
    /// list or chat lexicon that cannot be read is reported and left out (the built-in
    /// lexicon then applies alone).
    pub fn filter_settings(
        &self,
        espeak_voice: Option<&str>,
    ) -> (filter::FilterSettings, Option<String>) {
        let mut problems = Vec::new();
        let words = match &self.word_list {
            Some(path) => filter::WordList::load_cached(path).unwrap_or_else(|err| {
                problems.push(format!("word list not used: {err}"));
                filter::WordList::default()
            }),
            None => filter::WordList::default(),
        };
        let lexicon = match &self.chat_lexicon {
            Some(path) => {
                chat::lexicon::Lexicon::with_file_for(path, espeak_voice).unwrap_or_else(|err| {
                    problems.push(format!("chat lexicon not used: {err}"));
                    chat::lexicon::Lexicon::for_language(espeak_voice)
                })
            }
            None => chat::lexicon::Lexicon::for_language(espeak_voice),
        };
        (
            filter::FilterSettings {
                emoji: self.emoji,
                max_chars: self.max_chars,
                scripts: espeak_voice.map_or_else(
                    || filter::scripts_for_language("en"),
                    filter::scripts_for_language,
                ),
                words,
                lexicon,
                emoticons: self.emoticons,
                phonemes: self.api_phonemes,
                ..filter::FilterSettings::default()
            },
            (!problems.is_empty()).then(|| problems.join("; ")),
        )
    }
}

/// What an instance offers the server.
pub trait Target: Send + Sync {
    /// The session (its API settings, voice and dictionary).
    fn session(&self) -> &Arc<SharedSession>;
    /// Its speech service, started if need be (`None`: it could not start).
    fn speech(&self) -> Option<&SpeechService>;
    /// Voice samples that arrived late at its audio thread so far.
    fn underruns(&self) -> u64 {
        0
    }
    /// Where its resources are, if not where the plugin is installed.
    fn resources(&self) -> Option<crate::tts::resources::Resources> {
        None
    }
}

/// Where the server is, for the editor's API panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// No instance has the API enabled.
    Off,
    /// Listening on this port.
    Listening(u16),
    /// The port could not be bound: why.
    Failed(String),
}

/// How many recent requests the status keeps.
const RECENT: usize = 16;

/// The server's status, shared with every editor.
#[derive(Debug)]
pub struct Status {
    state: Mutex<ServerState>,
    /// Open WebSocket connections.
    pub clients: AtomicUsize,
    /// Requests served since the server started.
    pub requests: AtomicU64,
    /// Requests refused (token, origin, size, rate, malformed, queue full).
    pub refused: AtomicU64,
    /// UDP datagrams refused, counted apart: a datagram flood says nothing of the other clients.
    pub udp_refused: AtomicU64,
    recent: Mutex<VecDeque<String>>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: Mutex::new(ServerState::Off),
            clients: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            udp_refused: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl Status {
    /// Where the server is.
    pub fn state(&self) -> ServerState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_state(&self, state: ServerState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Notes a request for the editor (the first 80 characters).
    pub fn note(&self, line: &str) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(line.chars().take(80).collect());
    }

    /// The last requests, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Every instance in the process, and the server if one runs.
struct Registry {
    next: u64,
    targets: Vec<(u64, Weak<dyn Target>)>,
    running: Option<server::Running>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 1,
    targets: Vec::new(),
    running: None,
});

static STATUS: std::sync::OnceLock<Arc<Status>> = std::sync::OnceLock::new();

/// The server's status (shared by every instance's editor).
pub fn status() -> Arc<Status> {
    STATUS.get_or_init(Arc::default).clone()
}

/// A registration; dropping it takes the instance out (and stops the server if it owned it
/// and no other instance wants it).
pub struct Registration {
    id: u64,
}

/// Registers an instance. Starts nothing until its session enables the API ([`refresh`]).
pub fn register(target: Weak<dyn Target>) -> Registration {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let id = registry.next;
    registry.next += 1;
    registry.targets.push((id, target));
    drop(registry);
    refresh();
    Registration { id }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        registry.targets.retain(|(id, _)| *id != self.id);
        drop(registry);
        refresh();
    }
}

/// The instance that owns the server now: the first registered one with the API enabled.
pub(crate) fn owner() -> Option<Arc<dyn Target>> {
    let registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    owner_of(&registry).map(|(_, target, _)| target)
}

fn owner_of(registry: &Registry) -> Option<(u64, Arc<dyn Target>, ApiSettings)> {
    registry.targets.iter().find_map(|(id, weak)| {
        let target = weak.upgrade()?;
        let settings = target.session().read(|s| s.api.clone());
        settings.enabled.then_some((*id, target, settings))
    })
}

/// Brings the server in line with the instances' settings: starts it for the first instance
/// with the API enabled, restarts it when that instance's port or token changed, stops it
/// when none wants it. Call after any change of API settings (editor, state load, drop).
/// Main or editor thread: it may join the server's threads.
pub fn refresh() {
    // One refresh at a time (the editor's thread and the main thread may both call it).
    static REFRESH: Mutex<()> = Mutex::new(());
    let _serial = REFRESH.lock().unwrap_or_else(|e| e.into_inner());
    // The owner's speech thread loads the aliases' voices while idle.
    if let Some(target) = owner()
        && let Some(speech) = target.speech()
    {
        let files = target.session().read(|s| s.api.voices.voice_files());
        speech.preload_voices(files);
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let wanted = owner_of(&registry).map(|(id, _, settings)| (id, settings));
    let same = match (&registry.running, &wanted) {
        (Some(running), Some((id, settings))) => running.serves(*id, settings),
        (None, None) => true,
        _ => false,
    };
    if same {
        return;
    }
    let old = registry.running.take();
    drop(registry);
    // Joined without the lock held: the server's threads take it to find the owner.
    if let Some(old) = old {
        old.stop();
    }
    let status = status();
    let Some((id, settings)) = wanted else {
        status.set_state(ServerState::Off);
        return;
    };
    let running = server::Running::start(id, &settings, status.clone());
    match &running {
        Ok(_) => status.set_state(ServerState::Listening(settings.port)),
        Err(why) => status.set_state(ServerState::Failed(why.to_string())),
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    match running {
        Ok(running) => registry.running = Some(running),
        Err(_) => registry.running = Some(server::Running::failed(id, &settings)),
    }
}

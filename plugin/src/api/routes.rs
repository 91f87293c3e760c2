//! The HTTP routes: the index, the caption page, the voice and model lists, and OpenAI speech
//! (`/v1/audio/speech`, sent as it is made, and `/v1/audio/speech/timed` with word timings,
//! sent whole), rendered by the server's own speech service, one render at a time.
//!
//! Thread model: each exchange runs on its connection's thread; renders queue on the
//! renderer's lock (at most [`MAX_RENDERS_WAITING`] wait).

use super::aliases::VoiceAliases;
use super::counted::Counted;
use super::filter::{self, Filtered};
use super::http::{self, Refusal, Request};
use super::server::{Hub, refuse};
use super::speech_stream::Streamed;
use super::{ApiSettings, Target, openai, render, ssml};
use crate::dsp::path::PathSettings;
use crate::playback::service::{SpeechService, State};
use crate::playback::voicing::Voicing;
use crate::state::SharedSession;
use crate::tts::voice::config::Delivery;
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};

/// HTTP renders waiting at most (one runs at a time); more get 429.
pub const MAX_RENDERS_WAITING: usize = 4;

/// The caption page for an OBS browser source (`GET /captions`): self-contained, it follows
/// this server's `TextToSpeech` events over a WebSocket to the same address.
const CAPTIONS: &[u8] = include_bytes!("captions.html");

/// Speech with its word timings: an OpenAI speech request's body, answered with JSON holding
/// the audio (base64, in the asked format) and its timings ([`render::timings_json`]).
const TIMED: &str = "/v1/audio/speech/timed";

/// What a route answers with.
enum Reply {
    /// A whole body of this type.
    Body(&'static str, Vec<u8>),
    /// Nothing more: the route sent its response as it made it.
    Sent,
}

pub(super) fn serve_http(hub: &Arc<Hub>, stream: &mut TcpStream, request: &Request) {
    hub.status.requests.fetch_add(1, Ordering::Relaxed);
    let owner = super::owner();
    let voices = voices_of(owner.as_deref());
    let aliases = owner
        .as_deref()
        .map(|o| o.session().read(|s| s.api.voices.clone()))
        .unwrap_or_default();
    let result: Result<Reply, Refusal> = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/" | "/v1") => Ok(Reply::Body(
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
                // The last requests' outcomes (no text): refusals, cut responses, and each
                // streamed response's first audio and first bytes from its request.
                "recent": hub.status.recent(),
            })
            .to_string()
            .into_bytes(),
        )),
        ("GET", "/captions") => Ok(Reply::Body("text/html; charset=utf-8", CAPTIONS.to_vec())),
        ("GET", "/v1/models") => Ok(Reply::Body("application/json", openai::models())),
        ("GET", "/v1/voices") => Ok(Reply::Body(
            "application/json",
            openai::voice_list(&voices, &aliases),
        )),
        ("POST", "/v1/audio/speech") => {
            let offered = (&voices[..], &aliases);
            speech_request(hub, stream, request, owner.as_deref(), offered, false)
        }
        ("POST", TIMED) => {
            let offered = (&voices[..], &aliases);
            speech_request(hub, stream, request, owner.as_deref(), offered, true)
        }
        (_, "/v1/audio/speech" | TIMED | "/v1/models" | "/v1/voices" | "/" | "/captions") => Err(
            Refusal::new(405, format!("{} is not allowed here", request.method)),
        ),
        _ => Err(Refusal::new(
            404,
            format!(
                "no endpoint at {}",
                request.path.chars().take(64).collect::<String>()
            ),
        )),
    };
    match result {
        Ok(Reply::Body(content_type, body)) => {
            hub.status
                .note(&format!("{} {}", request.method, request.path));
            let _ = http::respond(stream, 200, content_type, &body);
        }
        Ok(Reply::Sent) => hub
            .status
            .note(&format!("{} {}", request.method, request.path)),
        Err(refusal) => refuse(
            hub,
            stream,
            &refusal,
            &format!("{} {}", request.method, request.path),
        ),
    }
    let _ = stream.flush();
    if request.method == "POST" {
        // A render's buffers (tens of MB for minutes of audio) were freed on this thread, in
        // its own allocator heap: hand them back now rather than keep them resident.
        crate::platform::release_freed_memory();
    }
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
    (voices, aliases): (&[(String, std::path::PathBuf)], &VoiceAliases),
    timed: bool,
) -> Result<Reply, Refusal> {
    let received = Instant::now();
    http::check_json(request)?;
    let body = http::read_body(stream, request)?;
    let speech =
        openai::parse(&body, voices, aliases).map_err(|e| Refusal::new(400, e.to_string()))?;
    openai::check_length(&speech).map_err(|e| Refusal::new(400, e.to_string()))?;
    let Some(waiting) = Counted::enter_below(&hub.renders_waiting, MAX_RENDERS_WAITING) else {
        return Err(Refusal::new(
            429,
            "too many speech requests at once: try again shortly",
        ));
    };
    if !timed && speech.format != openai::Format::Flac && speech.loudness.is_none() {
        let mut streamed = Streamed::new(&*stream, speech.format, speech.stream)
            .map_err(|e| Refusal::new(500, e.to_string()))?;
        let result = render_speech(hub, &speech, owner, stream, Some(&mut |s| streamed.send(s)));
        drop(waiting);
        return match result {
            Ok((rendered, _)) => {
                let ms = |at: Option<Instant>| {
                    at.map_or(-1.0, |at| {
                        at.duration_since(received).as_secs_f64() * 1000.0
                    })
                };
                hub.status.note(&format!(
                    "streamed {}: first audio {:.1} ms, first bytes {:.1} ms",
                    speech.format.name(),
                    ms(rendered.first_audio_at),
                    ms(streamed.first_piece()),
                ));
                // A client that stops reading now only loses its own response.
                let _ = streamed.finish();
                Ok(Reply::Sent)
            }
            Err(refusal) if !streamed.started() => Err(refusal),
            Err(refusal) => {
                // Its head is out: the response ends without its last chunk.
                hub.status.refused.fetch_add(1, Ordering::Relaxed);
                hub.status
                    .note(&format!("cut {}: {}", request.path, refusal.message));
                Ok(Reply::Sent)
            }
        };
    }
    let result = render_speech(hub, &speech, owner, stream, None);
    drop(waiting);
    let (mut rendered, text) = result?;
    if let Some(target) = speech.loudness {
        crate::loudness::normalize(&mut rendered.channels, openai::RATE, target)
            .map_err(|e| Refusal::new(400, e.to_string()))?;
    }
    let samples = rendered.channels.first().map_or(&[][..], Vec::as_slice);
    let audio = openai::encode(&openai::to_i16(samples), speech.format)
        .map_err(|e| Refusal::new(500, e.to_string()))?;
    if !timed {
        return Ok(Reply::Body(speech.format.content_type(), audio));
    }
    let cues = render::subtitle_cues(&rendered, &text);
    let body = json!({
        "format": speech.format.name(),
        "sample_rate": openai::RATE,
        "audio": http::base64(&audio),
        "timings": render::timings_json(&rendered, &text, openai::RATE),
        "srt": super::subtitles::srt(&cues),
        "vtt": super::subtitles::vtt(&cues),
    });
    Ok(Reply::Body(
        "application/json",
        body.to_string().into_bytes(),
    ))
}

/// The HTTP side's own speech service: renders whole, never plays.
pub(super) struct Renderer {
    service: SpeechService,
    session: Arc<SharedSession>,
}

/// How often a request waiting for the renderer looks whether its client is still there.
const LOOK_WHILE_WAITING: Duration = Duration::from_millis(10);

/// Renders `speech` whole, or (with `write`) handing its samples to `write` as they are made
/// ([`render::render_streamed`]).
fn render_speech(
    hub: &Hub,
    speech: &openai::Speech,
    owner: Option<&dyn Target>,
    client: &TcpStream,
    write: Option<render::Write<'_>>,
) -> Result<(render::Rendered, String), Refusal> {
    // One render at a time; a request whose client hangs up while it waits leaves the queue.
    let mut renderer = loop {
        match hub.renderer.try_lock() {
            Ok(renderer) => break renderer,
            Err(TryLockError::Poisoned(e)) => break e.into_inner(),
            Err(TryLockError::WouldBlock) => {}
        }
        if hub.stop.load(Ordering::Acquire) {
            return Err(Refusal::new(503, "the server is stopping"));
        }
        if http::peer_gone(client) {
            return Err(gone());
        }
        std::thread::sleep(LOOK_WHILE_WAITING);
    };
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
    // SSML is checked by the filter through the text it shows, and spoken as parsed.
    let shown = speech.ssml.as_ref().map_or(&speech.input, |s| &s.shown);
    let text = match filter::filter(shown, &settings) {
        Filtered::Speak(text) if speech.ssml.is_none() => text,
        Filtered::Speak(_) => shown.clone(),
        Filtered::Cut { cut, .. } => {
            return Err(Refusal::new(
                400,
                format!("the input is {cut} characters over what one request may speak"),
            ));
        }
        Filtered::Dropped => return Err(Refusal::new(400, "the word list drops this input")),
        Filtered::Empty => {
            return Err(Refusal::new(400, "the input has nothing readable to speak"));
        }
    };
    let mut abandoned = || hub.stop.load(Ordering::Acquire) || http::peer_gone(client);
    let limits = render::Limits {
        max_samples: Some((openai::MAX_RENDER_SECONDS * f64::from(openai::RATE)) as usize),
        abandoned: Some(&mut abandoned),
    };
    // An alias speaks with its own voice and delivery, at its pace times the asked speed.
    let voicing = speech.alias.as_ref().map(|alias| Voicing {
        rate: (alias.voicing.rate * speech.speed).clamp(0.25, 4.0),
        ..alias.voicing.clone()
    });
    let rendered = if let Some(ssml) = &speech.ssml {
        let base = voicing.unwrap_or_else(|| Voicing {
            rate: speech.speed,
            variation: delivery.variation,
            speaker: delivery.speaker.map(|id| id.to_string()),
            ..Voicing::default()
        });
        let voices = ssml::speak::Voices {
            base,
            speed: speech.speed,
        };
        ssml::speak::speak(
            &renderer.service,
            ssml,
            &voices,
            openai::RATE,
            limits,
            write,
        )
    } else {
        render_text(&renderer.service, &text, voicing, limits, write)
    };
    match rendered.ended {
        render::Ended::Complete => {}
        render::Ended::Abandoned => return Err(gone()),
        render::Ended::TooLong => {
            let error = openai::TooLong::Reached {
                speed: speech.speed,
            };
            return Err(Refusal::new(400, error.to_string()));
        }
    }
    if let Some(why) = rendered.failure {
        return Err(Refusal::new(500, format!("could not speak: {why}")));
    }
    if rendered.voice_samples == 0 {
        return Err(Refusal::new(500, "nothing was spoken"));
    }
    Ok((rendered, text))
}

/// Renders plain text whole, or streamed to `write`.
fn render_text(
    service: &SpeechService,
    text: &str,
    voicing: Option<Voicing>,
    limits: render::Limits<'_>,
    write: Option<render::Write<'_>>,
) -> render::Rendered {
    let phrase = render::Phrase { text, voicing };
    let settings = PathSettings::default();
    match write {
        Some(write) => {
            render::render_streamed(service, phrase, openai::RATE, &settings, limits, write)
        }
        None => render::render(service, phrase, openai::RATE, 1, &settings, None, limits),
    }
}

/// The refusal of a request whose client hung up (nobody reads it; it is counted and noted).
fn gone() -> Refusal {
    Refusal::new(
        499,
        "the client closed the connection; its render was stopped",
    )
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

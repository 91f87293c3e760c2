//! What the speech-service tests share: a service with the default voice loaded, and a phrase
//! played to its end as an offline render reads it. Each test binary uses part of it.
#![allow(dead_code)]

use orator::playback::service::{SpeechService, State};
use orator::playback::stream::{AudioSide, PhraseEventKind, PhraseId};
use orator::state::SharedSession;
use orator::tts::resources::Resources;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A speech service (a fresh session) with the bundled voice loaded and ready.
pub fn ready_service() -> SpeechService {
    ready_service_with(Arc::default())
}

/// [`ready_service`] on `session`.
pub fn ready_service_with(session: Arc<SharedSession>) -> SpeechService {
    let resources = Resources::locate().expect("run `cargo xtask assets` first");
    let service = SpeechService::start(session, Some(resources)).expect("speech thread");
    service.load_voice(None);
    let loading = Instant::now();
    while service.status.state() != State::Ready {
        assert_ne!(
            service.status.state(),
            State::Failed,
            "{}",
            service.status.message()
        );
        assert!(loading.elapsed() < Duration::from_secs(60), "voice load");
        std::thread::sleep(Duration::from_millis(5));
    }
    service
}

/// Reads `audio` a block at a time until phrase `id` has finished; returns how many of its
/// samples were heard (above -60 dBFS). Panics with `why` after `limit`.
pub fn heard_until_finished(
    service: &SpeechService,
    audio: &mut AudioSide,
    id: PhraseId,
    limit: Duration,
    why: &str,
) -> usize {
    let mut cursor = service.event_cursor();
    let started = Instant::now();
    let mut heard = 0usize;
    let mut finished = false;
    while !finished {
        assert!(started.elapsed() < limit, "{why}");
        heard += audio
            .read_voice(512)
            .iter()
            .filter(|x| x.abs() > 1e-3)
            .count();
        service.events_since(&mut cursor, &mut |event| {
            finished |= event.id == id && event.kind == PhraseEventKind::Finished;
        });
    }
    heard
}

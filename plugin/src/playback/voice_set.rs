//! The other voices a speech thread speaks with besides the instance's own: the voice files
//! of the API's voice aliases, loaded on first use (or ahead, when idle) and kept, at most
//! [`MAX_VOICES`] of them, the least recently used going first. A voice file loads once per
//! process whoever asks (`Voice::load` shares it), so keeping one here costs its engine only.
//!
//! Thread model: the speech thread only.

use crate::tts::engine::{Engine, Metrics};
use crate::tts::phrase_cache::PhraseCache;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many other voices a speech thread keeps loaded.
pub const MAX_VOICES: usize = 4;

/// A loaded voice, or why it did not load (kept, so a broken file is not read again for
/// every phrase; shared, so each phrase that asks for it can report it).
type Entry<E> = (PathBuf, Result<Engine, Arc<E>>);

/// The loaded voices, most recently used last; `E` is why a voice did not load.
pub(super) struct VoiceSet<E> {
    entries: Vec<Entry<E>>,
}

impl<E> Default for VoiceSet<E> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<E> VoiceSet<E> {
    /// The engine for `model`, loading it with `load` if it is not loaded (or failed before).
    /// Errors say why the voice cannot speak.
    pub(super) fn get(
        &mut self,
        model: &Path,
        load: &mut dyn FnMut(&Path) -> Result<Engine, E>,
    ) -> Result<&Engine, Arc<E>> {
        let at = match self.entries.iter().position(|(path, _)| path == model) {
            Some(at) => at,
            None => {
                if self.entries.len() >= MAX_VOICES {
                    drop(self.entries.remove(0));
                }
                self.entries
                    .push((model.to_path_buf(), load(model).map_err(Arc::new)));
                self.entries.len() - 1
            }
        };
        let entry = self.entries.remove(at);
        self.entries.push(entry);
        let Some((_, loaded)) = self.entries.last() else {
            unreachable!("the entry was pushed just above");
        };
        loaded.as_ref().map_err(Arc::clone)
    }

    /// Whether `model` was tried (loaded or failed).
    pub(super) fn has(&self, model: &Path) -> bool {
        self.entries.iter().any(|(path, _)| path == model)
    }

    /// Forgets every voice (after a panic, or when the loaded voices may be stale).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// An engine as the speech thread uses it: counted in `metrics`, replaying from `cache`.
pub(super) fn wired(
    engine: Engine,
    metrics: &Arc<Metrics>,
    cache: &Arc<Mutex<PhraseCache>>,
) -> Engine {
    engine
        .with_metrics(metrics.clone())
        .with_cache(cache.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_kept_and_the_least_recently_used_voice_goes_first() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot load {0}")]
        struct Failed(String);
        let mut set = VoiceSet::default();
        let mut loads = Vec::new();
        let mut fail = |p: &Path| -> Result<Engine, Failed> {
            loads.push(p.to_path_buf());
            Err(Failed(p.display().to_string()))
        };
        for name in ["a", "b", "a", "c", "d", "e", "a"] {
            let err = set.get(Path::new(name), &mut fail).err();
            assert_eq!(
                err.map(|e| e.to_string()),
                Some(format!("cannot load {name}"))
            );
        }
        // `a` was used again before `e` came, so `b` went; `a` loaded once.
        let loaded: Vec<_> = loads.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(loaded, ["a", "b", "c", "d", "e"]);
        assert!(set.has(Path::new("a")) && !set.has(Path::new("b")));
        set.clear();
        assert!(!set.has(Path::new("a")));
    }
}

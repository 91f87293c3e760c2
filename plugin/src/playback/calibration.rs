//! Each voice's loudness, matched: every voice (and each speaker of a multi-speaker voice)
//! speaks at the default voice's loudness, so switching voices or voice aliases does not jump
//! in level. A voice is measured once per process, the first time it speaks: the same few
//! sentences ([`TEXT`]) at its own pace, their integrated loudness after ITU-R BS.1770
//! ([`crate::loudness::meter`]); its gain is [`REFERENCE_LUFS`] minus that, within
//! [`MIN_GAIN_DB`]..[`MAX_GAIN_DB`]. A voice within [`DEAD_BAND_LU`] of the reference (the
//! default voice itself) is left exactly as it is. An alias's own level is applied on top.
//! A voice more than 12 dB under the reference is raised by 12 dB only: the synthesis gain
//! tops out at four times the voice's own.
//!
//! The default voice is the reference and is never measured ([`is_reference`]). Other voices'
//! readings are kept in `loudness.json` in the voice cache folder, keyed by the model's and
//! config's path, size and modification time and the speaker, so a voice is measured once
//! per machine (about 1.3 s of synthesis with the default voice's size), not once per process.
//!
//! Thread model: the speech thread (and the bank's clip renders); a process-wide table behind
//! a mutex held only to look up or insert, never while measuring.

use crate::tts::engine::Engine;
use crate::tts::voice::config::Delivery;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the default voice reads on [`TEXT`], LUFS: every voice is brought to it.
pub const REFERENCE_LUFS: f64 = -25.07;
/// A voice this close to the reference is left as it is, LU.
pub const DEAD_BAND_LU: f64 = 0.1;
/// The most a voice is raised, dB (the synthesis gain tops out at four times, +12 dB).
pub const MAX_GAIN_DB: f64 = 12.0;
/// The most a voice is lowered, dB.
pub const MIN_GAIN_DB: f64 = -30.0;

/// The sentences a voice is measured on: about twelve seconds of ordinary speech, statements
/// and questions, with most of English's sounds (a short text would weigh a voice's few
/// loudest or quietest sounds too much).
pub const TEXT: &str = "The morning train was late again, so we walked along the river \
                        instead. Have you ever seen the water this high? Six boats passed \
                        under the bridge before noon, and a child on the shore counted every \
                        one of them. Judge the thick fog by the yellow lamps: when they vanish, \
                        stay home. Would you bring the map, the rope and a warm jacket?";

type Key = (PathBuf, PathBuf, Option<i64>);

static GAINS: Mutex<Option<HashMap<Key, f32>>> = Mutex::new(None);

/// The most readings `loudness.json` keeps.
const MAX_SAVED: usize = 256;
/// The largest `loudness.json` read.
const MAX_SAVED_BYTES: u64 = 64 * 1024;

/// Marks `engine`'s voice (its default speaker) as the reference: its gain is 1.
pub fn is_reference(engine: &Engine) {
    let voice = &engine.voice;
    let key = (voice.path.clone(), voice.config_path.clone(), None);
    GAINS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(key, 1.0);
}

/// The saved readings' file.
fn saved_path() -> Option<PathBuf> {
    crate::tts::voice::disk_cache::default_dir().map(|d| d.join("loudness.json"))
}

/// A saved reading's key: both files' path, size and modification time, and the speaker.
fn saved_key(key: &Key) -> Option<String> {
    let stamp = |path: &PathBuf| {
        let meta = std::fs::metadata(path).ok()?;
        let modified = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Some(format!("{}:{}:{modified}", path.display(), meta.len()))
    };
    Some(format!("{}|{}|{:?}", stamp(&key.0)?, stamp(&key.1)?, key.2))
}

/// The saved readings (empty when there are none or the file is not readable).
fn saved() -> HashMap<String, f64> {
    let Some(path) = saved_path() else {
        return HashMap::new();
    };
    let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_SAVED_BYTES);
    let text = if small {
        std::fs::read(&path).unwrap_or_default()
    } else {
        Vec::new()
    };
    serde_json::from_slice(&text).unwrap_or_default()
}

/// Saves a reading (best effort: a cache that cannot be written only costs a measurement).
fn save(key: String, lufs: f64) {
    let Some(path) = saved_path() else {
        return;
    };
    let mut all = saved();
    if all.len() >= MAX_SAVED {
        all.clear();
    }
    all.insert(key, lufs);
    let Ok(text) = serde_json::to_vec(&all) else {
        return;
    };
    let scratch = path.with_extension(format!("json.{}", std::process::id()));
    let written = path
        .parent()
        .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
        && std::fs::write(&scratch, text).is_ok()
        && std::fs::rename(&scratch, &path).is_ok();
    if !written {
        let _ = std::fs::remove_file(&scratch);
    }
}

/// The gain `loudness` (LUFS, `None` when nothing was heard) needs to read as the reference.
pub fn gain_for(loudness: Option<f64>) -> f32 {
    let Some(lufs) = loudness.filter(|l| l.is_finite()) else {
        return 1.0;
    };
    let db = REFERENCE_LUFS - lufs;
    if db.abs() < DEAD_BAND_LU {
        return 1.0;
    }
    10f64.powf(db.clamp(MIN_GAIN_DB, MAX_GAIN_DB) / 20.0) as f32
}

/// `engine`'s voice's loudness on [`TEXT`] with `speaker`, LUFS (`None`: nothing heard, or
/// the voice failed).
pub fn measure(engine: &Engine, speaker: Option<i64>) -> Option<f64> {
    let engine = engine.clone().without_cache().with_metrics(Arc::default());
    let config = &engine.voice.config;
    let delivery = Delivery {
        speaker,
        ..Delivery::default()
    };
    let settings = delivery.apply(config.defaults, config.num_speakers);
    let mut samples = Vec::new();
    engine
        .speak(TEXT, &settings, &mut |chunk| {
            samples.extend_from_slice(&chunk.samples);
            ControlFlow::Continue(())
        })
        .ok()?;
    crate::loudness::meter::integrated(&[samples], config.sample_rate)
}

/// The gain that brings `engine`'s voice with `speaker` to the reference, measured the first
/// time it is asked for in this process.
pub fn gain(engine: &Engine, speaker: Option<i64>) -> f32 {
    let voice = &engine.voice;
    let key = (voice.path.clone(), voice.config_path.clone(), speaker);
    let known = |gains: &mut Option<HashMap<Key, f32>>| {
        gains.get_or_insert_with(HashMap::new).get(&key).copied()
    };
    if let Some(gain) = known(&mut GAINS.lock().unwrap_or_else(|e| e.into_inner())) {
        return gain;
    }
    let stamp = saved_key(&key);
    let loudness = match stamp.as_ref().and_then(|k| saved().get(k).copied()) {
        Some(lufs) => Some(lufs),
        None => {
            let lufs = measure(engine, speaker);
            if let (Some(k), Some(l)) = (stamp, lufs) {
                save(k, l);
            }
            lufs
        }
    };
    let gain = gain_for(loudness);
    tracing::info!(
        voice = %voice.path.display(),
        ?speaker,
        ?loudness,
        gain_db = 20.0 * f64::from(gain).log10(),
        "voice loudness calibrated"
    );
    GAINS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(key, gain);
    gain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_bring_voices_to_the_reference_within_their_bounds() {
        assert_eq!(gain_for(Some(REFERENCE_LUFS + 0.05)), 1.0);
        assert_eq!(gain_for(None), 1.0);
        assert_eq!(gain_for(Some(f64::NEG_INFINITY)), 1.0);
        let db = |g: f32| 20.0 * f64::from(g).log10();
        assert!((db(gain_for(Some(REFERENCE_LUFS - 6.0))) - 6.0).abs() < 1e-4);
        assert!((db(gain_for(Some(REFERENCE_LUFS + 3.0))) + 3.0).abs() < 1e-4);
        assert!((db(gain_for(Some(-80.0))) - MAX_GAIN_DB).abs() < 1e-4);
        assert!((db(gain_for(Some(10.0))) - MIN_GAIN_DB).abs() < 1e-4);
    }
}

//! A voice's split model, kept on disk in ONNX Runtime's own format and used in place.
//!
//! Loading a Piper voice means reading its model, rewriting it (`graph`), splitting it
//! (`split`) and building two sessions that copy every weight. The first load of a voice saves
//! both parts as `.ort` files (ONNX Runtime serialises them itself: no Python, on every platform
//! it runs on), one part at a time, then runs on them like every later load: map the files and
//! build the sessions on them in place
//! (`session.use_ort_model_bytes_directly` and `..._for_initializers`). The weights then stay in
//! the page cache, shared by every process that speaks with the voice, instead of being copied
//! into each one, and loading skips the rewrite: measured in docs/design/streaming.md.
//!
//! An entry is keyed by the model file (canonical path, length, modification time), the ONNX
//! Runtime library (path, length, modification time: its format follows its version) and
//! [`FORMAT`]. Its folder is named by the paths alone, so a voice whose model or runtime changed
//! replaces its old entry instead of adding one (64 MB each for the default voice). A missing,
//! stale or unreadable entry only costs the slower load: the voice is built from its model as
//! before and the entry written again. Files are written under a temporary name and renamed,
//! never changed in place, because a mapped file that changes under a running session would
//! crash it; the description goes first and comes back last, so a reader never takes a half
//! replaced entry for a whole one.

use crate::tts::hash::fnv1a;
use crate::tts::model::crop::Cropping;
use crate::tts::model::noise::NoiseInput;
use memmap2::Mmap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary names unique within the process (the process id, across processes).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// A temporary name for `name` in `dir`, unique to this write.
fn temporary(dir: &Path, name: &str) -> PathBuf {
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{name}.{}-{n}.tmp", std::process::id()))
}

/// Bumped whenever the rewrite or the split changes what is saved (2: the decoder crops its
/// windows' context, [`crate::tts::model::crop`]; 3: the context a window needs is stored too).
const FORMAT: u32 = 3;

/// The folder voices are kept in: `ORATOR_VOICE_CACHE` if set (empty: no cache), else the
/// user's cache folder (`~/.cache/orator/voices` on Linux).
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("ORATOR_VOICE_CACHE") {
        Some(dir) if dir.is_empty() => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => dirs::cache_dir().map(|d| d.join("orator").join("voices")),
    }
}

/// What the sessions need besides the two parts (stored beside them as JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// [`FORMAT`] when written.
    format: u32,
    /// The key the entry was written for, in full (the folder name is its hash).
    key: String,
    /// The voice's model file, so entries of voices that are gone can be removed.
    model: PathBuf,
    /// The latent's name: the front's output and the decoder's input.
    pub latent: String,
    /// The noise inputs the rewrite made.
    pub noise: Vec<NoiseInput>,
    /// How the decoder crops its windows.
    pub cropping: Cropping,
}

/// Why an entry could not be used or written. Never a failure of the voice: it then loads
/// from its model, only slower.
#[derive(Debug, thiserror::Error)]
pub enum DiskCacheError {
    /// A file of the entry could not be read, mapped, moved or written.
    #[error(
        "voice cache: {}: {source} (set ORATOR_VOICE_CACHE to another folder, or to nothing to \
         turn the cache off)",
        path.display()
    )]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The entry's description is not one this version wrote.
    #[error("voice cache: the entry's description is unreadable ({0})")]
    Meta(#[from] serde_json::Error),
    /// The entry is for another version of the model or the runtime.
    #[error("voice cache: the entry was written for another model or runtime")]
    Stale,
    /// ONNX Runtime returned without writing the parts it was asked to save.
    #[error("voice cache: ONNX Runtime did not save the parts")]
    NotSaved,
}

/// The error for `source` at `path`.
fn io(path: &Path, source: std::io::Error) -> DiskCacheError {
    DiskCacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A voice's entry in the cache folder.
#[derive(Debug, Clone)]
pub struct Entry {
    dir: PathBuf,
    key: String,
    model: PathBuf,
}

/// The two parts of a voice, mapped from the cache. The sessions built on them borrow the
/// mapped bytes: keep this alive for as long as they are (the voice drops its sessions first).
#[derive(Debug)]
pub struct Mapped {
    /// The front's `.ort` bytes.
    pub front: Mmap,
    /// The decoder's `.ort` bytes.
    pub decoder: Mmap,
    /// The rest of what the sessions need.
    pub meta: Meta,
}

/// Length and modification time of `path`, as text for a key.
fn stamp(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let modified = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok(format!("{}:{}:{modified}", path.display(), meta.len()))
}

impl Entry {
    /// The entry for the model at `model` run by the library at `runtime` (both canonical), in
    /// `dir`. `None` if either file cannot be looked at.
    pub fn new(dir: &Path, model: &Path, runtime: &Path) -> Option<Entry> {
        let key = format!(
            "orator voice cache {FORMAT}\n{}\n{}",
            stamp(model).ok()?,
            stamp(runtime).ok()?
        );
        // FNV-1a of the paths: a name for the folder, not a check (the full key is compared on
        // load). One folder per voice file and runtime, whatever their versions.
        let place = format!("{}\n{}", model.display(), runtime.display());
        let hash = fnv1a(place.bytes());
        let name = model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Some(Entry {
            dir: dir.join(format!("{name}-{hash:016x}")),
            key,
            model: model.to_path_buf(),
        })
    }

    /// Where the front's `.ort` file goes.
    pub fn front_path(&self) -> PathBuf {
        self.dir.join("front.ort")
    }

    /// Where the decoder's `.ort` file goes.
    pub fn decoder_path(&self) -> PathBuf {
        self.dir.join("decoder.ort")
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join("meta.json")
    }

    /// The entry's parts, if it is complete and was written for this key.
    pub fn open(&self) -> Result<Mapped, DiskCacheError> {
        let text = std::fs::read(self.meta_path()).map_err(|e| io(&self.meta_path(), e))?;
        let meta: Meta = serde_json::from_slice(&text)?;
        if meta.format != FORMAT || meta.key != self.key {
            return Err(DiskCacheError::Stale);
        }
        let map = |path: PathBuf| -> Result<Mmap, DiskCacheError> {
            let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
            // SAFETY: the cache's files are only ever replaced by renaming a new file over them,
            // never written in place, so the mapped bytes do not change while they are mapped.
            unsafe { Mmap::map(&file) }.map_err(|e| io(&path, e))
        };
        Ok(Mapped {
            front: map(self.front_path())?,
            decoder: map(self.decoder_path())?,
            meta,
        })
    }

    /// Makes the entry's folder and returns temporary paths for the two parts, to be saved by
    /// ONNX Runtime and then committed with [`Entry::commit`].
    pub fn prepare(&self) -> Result<(PathBuf, PathBuf), DiskCacheError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        if let Some(cache) = self.dir.parent() {
            sweep(cache, &self.dir);
        }
        remove_stale_temporaries(&self.dir);
        // Whatever is there is stale or damaged (or being written by another process for the
        // same key): no reader may take it for whole while the parts are replaced.
        match std::fs::remove_file(self.meta_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io(&self.meta_path(), e));
            }
            _ => {}
        }
        Ok((
            temporary(&self.dir, "front.ort"),
            temporary(&self.dir, "decoder.ort"),
        ))
    }

    /// Moves the saved parts into place and writes the entry's description last, so a reader
    /// sees the whole entry or none of it.
    pub fn commit(
        &self,
        front: &Path,
        decoder: &Path,
        latent: &str,
        cropping: &Cropping,
        noise: &[NoiseInput],
    ) -> Result<(), DiskCacheError> {
        if !front.is_file() || !decoder.is_file() {
            return Err(DiskCacheError::NotSaved);
        }
        std::fs::rename(front, self.front_path()).map_err(|e| io(front, e))?;
        std::fs::rename(decoder, self.decoder_path()).map_err(|e| io(decoder, e))?;
        let meta = Meta {
            format: FORMAT,
            key: self.key.clone(),
            model: self.model.clone(),
            latent: latent.to_owned(),
            noise: noise.to_vec(),
            cropping: cropping.clone(),
        };
        let text = serde_json::to_vec_pretty(&meta)?;
        let tmp = temporary(&self.dir, "meta.json");
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, self.meta_path()).map_err(|e| io(&tmp, e))
    }

    /// A temporary file name in the entry's folder (made by [`Entry::prepare`]), unique to
    /// this write.
    pub fn scratch(&self, name: &str) -> PathBuf {
        temporary(&self.dir, name)
    }

    /// Removes what [`Entry::prepare`] left behind after a failure (best effort).
    pub fn discard(&self, paths: &[&Path]) {
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
        // Only if nothing else is in it.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Temporary files older than this in an entry's folder were left by a write that never
/// finished (a crash or a kill during a voice's first load); a write takes seconds.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files a write that never finished left in `dir` (each can be a 57 MB
/// part of a voice). Recent ones may belong to a write in progress and are left alone.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(files) = std::fs::read_dir(dir) else {
        return;
    };
    for file in files.flatten() {
        let path = file.path();
        let stale = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if stale && path.extension().is_some_and(|e| e == "tmp") {
            tracing::debug!("voice cache: removing {}", path.display());
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes the entries in `cache` (but `keep`) whose voice file no longer exists. Best effort,
/// and only when an entry is written, which is rare. A folder without a readable description
/// may be one another process is writing: it is left alone. On Unix a removed entry stays
/// readable by a process that has it mapped.
fn sweep(cache: &Path, keep: &Path) {
    let Ok(folders) = std::fs::read_dir(cache) else {
        return;
    };
    for folder in folders.flatten().map(|e| e.path()) {
        if folder == keep || !folder.is_dir() {
            continue;
        }
        let Ok(text) = std::fs::read(folder.join("meta.json")) else {
            continue;
        };
        let Ok(meta) = serde_json::from_slice::<Meta>(&text) else {
            continue;
        };
        if !meta.model.exists() {
            tracing::debug!(
                "voice cache: removing {} ({} is gone)",
                folder.display(),
                meta.model.display()
            );
            let _ = std::fs::remove_dir_all(&folder);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("orator-compiled-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_entry_round_trips_and_a_changed_model_is_a_new_entry() {
        let dir = scratch("round");
        let model = dir.join("voice.onnx");
        let runtime = dir.join("libonnxruntime.so");
        std::fs::write(&model, b"model").unwrap();
        std::fs::write(&runtime, b"runtime").unwrap();
        let entry = Entry::new(&dir, &model, &runtime).unwrap();
        assert!(entry.open().is_err(), "nothing saved yet");
        let (front, decoder) = entry.prepare().unwrap();
        std::fs::write(&front, b"front bytes").unwrap();
        std::fs::write(&decoder, b"decoder bytes").unwrap();
        let noise = vec![NoiseInput {
            name: "orator_noise_0".into(),
            mean: 0.0,
            scale: 1.0,
        }];
        let cropping = Cropping {
            hop: 256,
            context: 11,
            side_cost: 1.5,
            points: vec![crate::tts::model::crop::CropPoint {
                rate: 64,
                margin: 58,
            }],
        };
        entry
            .commit(&front, &decoder, "latent", &cropping, &noise)
            .unwrap();
        let mapped = entry.open().unwrap();
        assert_eq!(mapped.meta.cropping, cropping);
        assert_eq!(&mapped.front[..], b"front bytes");
        assert_eq!(&mapped.decoder[..], b"decoder bytes");
        assert_eq!(mapped.meta.latent, "latent");
        assert_eq!(mapped.meta.noise, noise);
        assert!(!front.exists(), "the temporary files were moved");

        // A different length changes the key: the old entry is not taken for the new model,
        // and the new one replaces it in the same folder.
        std::fs::write(&model, b"another model").unwrap();
        let changed = Entry::new(&dir, &model, &runtime).unwrap();
        assert!(changed.open().is_err());
        assert_eq!(
            changed.dir, entry.dir,
            "one folder per voice file and runtime"
        );
        let (front, decoder) = changed.prepare().unwrap();
        assert!(entry.open().is_err(), "a replaced entry is not whole");
        std::fs::write(&front, b"new front").unwrap();
        std::fs::write(&decoder, b"new decoder").unwrap();
        changed
            .commit(&front, &decoder, "latent", &Cropping::default(), &noise)
            .unwrap();
        assert_eq!(&changed.open().unwrap().front[..], b"new front");
        assert!(entry.open().is_err(), "the old key no longer matches");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A scratch folder with a stand-in model file, and that model's entry in it.
    fn model_entry(name: &str) -> (PathBuf, Entry) {
        let dir = scratch(name);
        let model = dir.join("voice.onnx");
        std::fs::write(&model, b"model").unwrap();
        let entry = Entry::new(&dir, &model, &model).unwrap();
        (dir, entry)
    }

    #[test]
    fn a_damaged_or_foreign_description_is_refused() {
        let (dir, entry) = model_entry("damaged");
        let (front, decoder) = entry.prepare().unwrap();
        std::fs::write(&front, b"f").unwrap();
        std::fs::write(&decoder, b"d").unwrap();
        entry
            .commit(&front, &decoder, "latent", &Cropping::default(), &[])
            .unwrap();
        std::fs::write(entry.meta_path(), b"{ not json").unwrap();
        assert!(entry.open().is_err());
        let foreign = Meta {
            format: FORMAT,
            key: "some other key".into(),
            model: PathBuf::from("voice.onnx"),
            latent: "latent".into(),
            noise: Vec::new(),
            cropping: Cropping::default(),
        };
        std::fs::write(entry.meta_path(), serde_json::to_vec(&foreign).unwrap()).unwrap();
        assert!(entry.open().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn temporaries_left_by_an_unfinished_write_are_removed_and_fresh_ones_kept() {
        let (dir, entry) = model_entry("leftovers");
        let (front, _) = entry.prepare().unwrap();
        let old = entry.scratch("part.onnx");
        std::fs::write(&old, b"left by a crash").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        std::fs::write(&front, b"being written").unwrap();
        let kept = entry.dir.join("notes.txt");
        std::fs::write(&kept, b"not ours to remove").unwrap();
        entry.prepare().unwrap();
        assert!(!old.exists(), "an old temporary file is removed");
        assert!(front.exists(), "a fresh one may be a write in progress");
        assert!(kept.exists(), "only temporary files are removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn saving_fails_cleanly_when_runtime_saved_nothing() {
        let (dir, entry) = model_entry("nothing");
        let (front, decoder) = entry.prepare().unwrap();
        assert!(
            entry
                .commit(&front, &decoder, "latent", &Cropping::default(), &[])
                .is_err()
        );
        assert!(entry.open().is_err());
        entry.discard(&[&front, &decoder]);
        assert!(!entry.dir.exists(), "no empty folder is left behind");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn writing_an_entry_removes_those_of_voices_that_are_gone() {
        let dir = scratch("sweep");
        let cache = dir.join("cache");
        let entry_for = |name: &str| {
            let model = dir.join(format!("{name}.onnx"));
            std::fs::write(&model, name).unwrap();
            let entry = Entry::new(&cache, &model, &model).unwrap();
            let (front, decoder) = entry.prepare().unwrap();
            std::fs::write(&front, b"f").unwrap();
            std::fs::write(&decoder, b"d").unwrap();
            entry
                .commit(&front, &decoder, "latent", &Cropping::default(), &[])
                .unwrap();
            (model, entry)
        };
        let (gone, old) = entry_for("gone");
        let (_, kept) = entry_for("kept");
        std::fs::remove_file(&gone).unwrap();
        // A folder being written by someone else (no description yet) is left alone.
        let busy = cache.join("busy-0000");
        std::fs::create_dir_all(&busy).unwrap();
        let (_, new) = entry_for("new");
        assert!(!old.dir.exists(), "the entry of a deleted voice is removed");
        assert!(kept.open().is_ok() && new.open().is_ok());
        assert!(busy.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

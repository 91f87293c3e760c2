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
//! before and the entry written again.
//!
//! An entry is written whole in a private folder beside it (its parts, then its description
//! with each part's size and CRC-32), and that folder is renamed into place: two processes
//! writing the same voice each install a whole entry of their own, never a mix of parts, and a
//! mapped file is never changed in place (that would crash a running session). A reader checks
//! the description's size, then each part's size and checksum, before it builds on the part.
//! What a write that never finished leaves behind (a crash during a first load) is removed an
//! hour later, by the next load.

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
/// windows' context, [`crate::tts::model::crop`]; 3: the context a window needs is stored too;
/// 4: each part's size and checksum; 5: the front's durations output).
const FORMAT: u32 = 5;

/// The largest description read (a real one is under 4 KB).
const MAX_META_BYTES: u64 = 1 << 20;

/// A part's size and CRC-32, recorded when the entry is written and checked before the part
/// is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartCheck {
    /// Its length in bytes.
    pub bytes: u64,
    /// Its CRC-32.
    pub crc32: u32,
}

impl PartCheck {
    /// The check of `bytes`.
    fn of(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        }
    }

    /// The check of the file at `path`, read in pieces.
    fn of_file(path: &Path) -> Result<Self, DiskCacheError> {
        let mut file = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut hasher = crc32fast::Hasher::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = std::io::Read::read(&mut file, &mut buffer).map_err(|e| io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            bytes += n as u64;
        }
        Ok(Self {
            bytes,
            crc32: hasher.finalize(),
        })
    }
}

/// The folder voices are kept in: `ORATOR_VOICE_CACHE` if set (empty: no cache), else the
/// user's cache folder (`~/.cache/orator/voices` on Linux).
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("ORATOR_VOICE_CACHE") {
        Some(dir) if dir.is_empty() => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => crate::platform::cache_dir().map(|d| d.join("orator").join("voices")),
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
    /// The phonemes' durations, the front's second output, if it has them.
    #[serde(default)]
    pub durations: Option<String>,
    /// The noise inputs the rewrite made.
    pub noise: Vec<NoiseInput>,
    /// How the decoder crops its windows.
    pub cropping: Cropping,
    /// The front's size and checksum.
    front: PartCheck,
    /// The decoder's size and checksum.
    decoder: PartCheck,
}

/// Reads and parses a description, refusing one larger than any real description.
fn read_meta(path: &Path) -> Result<Meta, DiskCacheError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    if len > MAX_META_BYTES {
        return Err(DiskCacheError::Damaged(format!(
            "its description is {len} bytes"
        )));
    }
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_META_BYTES), &mut text)
        .map_err(|e| io(path, e))?;
    Ok(serde_json::from_slice(&text)?)
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
    /// A file of the entry is not what was written (truncated, changed, damaged).
    #[error("voice cache: the entry is damaged ({0}); it is written again")]
    Damaged(String),
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

/// An entry being written: a private folder beside the entry's, and where the parts go in
/// it. Committed whole with [`Entry::commit`], or thrown away with [`Entry::discard`].
#[derive(Debug)]
pub struct Writing {
    dir: PathBuf,
    /// Where ONNX Runtime saves the front.
    pub front: PathBuf,
    /// Where ONNX Runtime saves the decoder.
    pub decoder: PathBuf,
}

impl Writing {
    /// A scratch file in the private folder (gone with it).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
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

    /// The entry's parts, if it is complete, undamaged and was written for this key.
    pub fn open(&self) -> Result<Mapped, DiskCacheError> {
        if let Some(cache) = self.dir.parent() {
            remove_stale_temporaries(cache);
        }
        let meta = read_meta(&self.meta_path())?;
        if meta.format != FORMAT || meta.key != self.key {
            return Err(DiskCacheError::Stale);
        }
        let map = |path: PathBuf, check: PartCheck| -> Result<Mmap, DiskCacheError> {
            let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
            let len = file.metadata().map_err(|e| io(&path, e))?.len();
            if len != check.bytes {
                return Err(DiskCacheError::Damaged(format!(
                    "{} is {len} bytes, {} were written",
                    path.display(),
                    check.bytes
                )));
            }
            // SAFETY: the cache's files are never written in place: an entry is written in a
            // private folder and renamed into place whole, so the mapped bytes do not change
            // while they are mapped.
            let mapped = unsafe { Mmap::map(&file) }.map_err(|e| io(&path, e))?;
            if PartCheck::of(&mapped) != check {
                return Err(DiskCacheError::Damaged(format!(
                    "{}'s checksum differs from the one written",
                    path.display()
                )));
            }
            Ok(mapped)
        };
        Ok(Mapped {
            front: map(self.front_path(), meta.front)?,
            decoder: map(self.decoder_path(), meta.decoder)?,
            meta,
        })
    }

    /// Starts writing the entry: a private folder beside the entry's, where ONNX Runtime
    /// saves the two parts. Commit it with [`Entry::commit`].
    pub fn prepare(&self) -> Result<Writing, DiskCacheError> {
        let cache = self.dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(cache).map_err(|e| io(cache, e))?;
        sweep(cache, &self.dir);
        remove_stale_temporaries(cache);
        let dir = temporary(cache, &self.name());
        std::fs::create_dir(&dir).map_err(|e| io(&dir, e))?;
        Ok(Writing {
            front: dir.join("front.ort"),
            decoder: dir.join("decoder.ort"),
            dir,
        })
    }

    /// Records the saved parts' sizes and checksums in the description, in the private
    /// folder, then puts the whole folder in the entry's place: a reader sees the old entry,
    /// none, or the new one, never a mix.
    pub fn commit(
        &self,
        writing: &Writing,
        latent: &str,
        durations: Option<&str>,
        cropping: &Cropping,
        noise: &[NoiseInput],
    ) -> Result<(), DiskCacheError> {
        if !writing.front.is_file() || !writing.decoder.is_file() {
            return Err(DiskCacheError::NotSaved);
        }
        let meta = Meta {
            format: FORMAT,
            key: self.key.clone(),
            model: self.model.clone(),
            latent: latent.to_owned(),
            durations: durations.map(str::to_owned),
            noise: noise.to_vec(),
            cropping: cropping.clone(),
            front: PartCheck::of_file(&writing.front)?,
            decoder: PartCheck::of_file(&writing.decoder)?,
        };
        let text = serde_json::to_vec_pretty(&meta)?;
        let meta_path = writing.dir.join("meta.json");
        std::fs::write(&meta_path, text).map_err(|e| io(&meta_path, e))?;
        // The old entry moves aside first (a folder cannot be renamed over a full one); a
        // process that has its files mapped keeps reading them.
        let cache = self.dir.parent().unwrap_or(Path::new("."));
        let old = temporary(cache, &format!("{}.old", self.name()));
        let moved = std::fs::rename(&self.dir, &old).is_ok();
        let placed = std::fs::rename(&writing.dir, &self.dir);
        if moved {
            let _ = std::fs::remove_dir_all(&old);
        }
        match placed {
            Ok(()) => Ok(()),
            // Another process put its entry there in between: it is as good as this one.
            Err(_) if self.meta_path().is_file() => {
                let _ = std::fs::remove_dir_all(&writing.dir);
                Ok(())
            }
            Err(e) => Err(io(&self.dir, e)),
        }
    }

    /// Throws away a write that failed (best effort).
    pub fn discard(&self, writing: &Writing) {
        let _ = std::fs::remove_dir_all(&writing.dir);
    }

    /// The entry folder's name.
    fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Temporary folders and files older than this were left by a write that never finished (a
/// crash or a kill during a voice's first load); a write takes seconds.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes what writes that never finished left in the cache folder `cache`: private folders
/// (each can hold 60 MB of a voice), entries moved aside, and loose temporary files. Recent
/// ones may belong to a write in progress and are left alone.
fn remove_stale_temporaries(cache: &Path) {
    let Ok(items) = std::fs::read_dir(cache) else {
        return;
    };
    for item in items.flatten() {
        let path = item.path();
        let stale = item
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if stale && path.extension().is_some_and(|e| e == "tmp") {
            tracing::debug!("voice cache: removing {}", path.display());
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
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
        let Ok(meta) = read_meta(&folder.join("meta.json")) else {
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

    /// Writes `front` and `decoder` as an entry's parts and commits them.
    fn write(entry: &Entry, front: &[u8], decoder: &[u8]) -> Result<(), DiskCacheError> {
        let writing = entry.prepare()?;
        std::fs::write(&writing.front, front).unwrap();
        std::fs::write(&writing.decoder, decoder).unwrap();
        entry.commit(&writing, "latent", None, &Cropping::default(), &[])
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
        let writing = entry.prepare().unwrap();
        std::fs::write(&writing.front, b"front bytes").unwrap();
        std::fs::write(&writing.decoder, b"decoder bytes").unwrap();
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
            .commit(&writing, "latent", None, &cropping, &noise)
            .unwrap();
        let mapped = entry.open().unwrap();
        assert_eq!(mapped.meta.cropping, cropping);
        assert_eq!(&mapped.front[..], b"front bytes");
        assert_eq!(&mapped.decoder[..], b"decoder bytes");
        assert_eq!(mapped.meta.latent, "latent");
        assert_eq!(mapped.meta.noise, noise);
        assert!(!writing.dir.exists(), "the private folder became the entry");

        // A different length changes the key: the old entry is not taken for the new model,
        // and the new one replaces it in the same folder.
        std::fs::write(&model, b"another model").unwrap();
        let changed = Entry::new(&dir, &model, &runtime).unwrap();
        assert!(changed.open().is_err());
        assert_eq!(
            changed.dir, entry.dir,
            "one folder per voice file and runtime"
        );
        let writing = changed.prepare().unwrap();
        assert!(
            entry.open().is_ok(),
            "the old entry stays whole until it is replaced"
        );
        std::fs::write(&writing.front, b"new front").unwrap();
        std::fs::write(&writing.decoder, b"new decoder").unwrap();
        changed
            .commit(&writing, "latent", None, &Cropping::default(), &noise)
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
        write(&entry, b"f", b"d").unwrap();
        let whole = std::fs::read(entry.meta_path()).unwrap();
        std::fs::write(entry.meta_path(), b"{ not json").unwrap();
        assert!(entry.open().is_err());
        let mut foreign: Meta = serde_json::from_slice(&whole).unwrap();
        foreign.key = "some other key".into();
        std::fs::write(entry.meta_path(), serde_json::to_vec(&foreign).unwrap()).unwrap();
        assert!(matches!(entry.open(), Err(DiskCacheError::Stale)));
        // A description far larger than any real one is not read.
        let file = std::fs::File::create(entry.meta_path()).unwrap();
        file.set_len(MAX_META_BYTES * 100).unwrap();
        assert!(matches!(entry.open(), Err(DiskCacheError::Damaged(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_truncated_or_changed_part_is_refused_before_it_is_used() {
        let (dir, entry) = model_entry("parts");
        write(&entry, b"front part bytes", b"decoder part bytes").unwrap();
        assert!(entry.open().is_ok());
        // Cut short (a full disk, a copy that stopped).
        std::fs::write(entry.decoder_path(), b"decoder").unwrap();
        let err = entry.open().unwrap_err();
        assert!(err.to_string().contains("bytes"), "{err}");
        // Same size, other bytes.
        std::fs::write(entry.decoder_path(), b"decoder part bytez").unwrap();
        let err = entry.open().unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn each_write_installs_its_own_parts_whole() {
        let (dir, entry) = model_entry("two-writers");
        // Two processes writing the same voice: both prepare, both save, one commits after
        // the other. Whatever the order, the entry is one writer's parts, never a mix.
        let first = entry.prepare().unwrap();
        let second = entry.prepare().unwrap();
        std::fs::write(&first.front, b"front of the first").unwrap();
        std::fs::write(&second.front, b"front of the second").unwrap();
        std::fs::write(&second.decoder, b"decoder of the second").unwrap();
        std::fs::write(&first.decoder, b"decoder of the first").unwrap();
        entry
            .commit(&second, "latent", None, &Cropping::default(), &[])
            .unwrap();
        entry
            .commit(&first, "latent", None, &Cropping::default(), &[])
            .unwrap();
        let mapped = entry.open().unwrap();
        assert_eq!(
            (&mapped.front[..], &mapped.decoder[..]),
            (&b"front of the first"[..], &b"decoder of the first"[..])
        );
        drop(mapped);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn temporaries_left_by_an_unfinished_write_are_removed_and_fresh_ones_kept() {
        let (dir, entry) = model_entry("leftovers");
        let crashed = entry.prepare().unwrap();
        std::fs::write(&crashed.front, b"left by a crash").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::open(&crashed.dir)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let in_progress = entry.prepare().unwrap();
        std::fs::write(&in_progress.front, b"being written").unwrap();
        let kept = dir.join("notes.txt");
        std::fs::write(&kept, b"not ours to remove").unwrap();
        // The next load cleans up.
        assert!(entry.open().is_err());
        assert!(!crashed.dir.exists(), "an old private folder is removed");
        assert!(
            in_progress.front.exists(),
            "a fresh one may be a write in progress"
        );
        assert!(kept.exists(), "only temporaries are removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn saving_fails_cleanly_when_runtime_saved_nothing() {
        let (dir, entry) = model_entry("nothing");
        let writing = entry.prepare().unwrap();
        assert!(
            entry
                .commit(&writing, "latent", None, &Cropping::default(), &[])
                .is_err()
        );
        assert!(entry.open().is_err());
        entry.discard(&writing);
        assert!(
            !writing.dir.exists() && !entry.dir.exists(),
            "nothing is left behind"
        );
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
            write(&entry, b"f", b"d").unwrap();
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

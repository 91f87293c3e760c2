//! Files the chat filter reads for every message (the word list, the chat lexicon), kept
//! parsed and read again only when their modification time or size changes: chat messages come
//! many a second, and each needs them.
//!
//! Thread model: one short lock per lookup (a `stat` of the file under it); any thread.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Files kept parsed at most per cache (one per setting in use).
const AT_MOST: usize = 4;

/// A file as last read: path, modification time and size, and what it parsed to.
type Entry<T> = (PathBuf, Option<SystemTime>, u64, T);

/// Parsed files of one kind.
pub struct FileCache<T> {
    loaded: Mutex<Vec<Entry<T>>>,
}

impl<T: Clone> FileCache<T> {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            loaded: Mutex::new(Vec::new()),
        }
    }

    /// What `path` parses to: kept from the last read if the file has not changed, else
    /// `load(path)`. `unreadable` makes the error for a file that cannot be looked at.
    pub fn get<E>(
        &self,
        path: &Path,
        load: impl FnOnce(&Path) -> Result<T, E>,
        unreadable: impl FnOnce(std::io::Error) -> E,
    ) -> Result<T, E> {
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        let (modified, size) = (meta.modified().ok(), meta.len());
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((.., parsed)) = loaded
            .iter()
            .find(|(p, m, n, _)| p == path && *m == modified && *n == size)
        {
            return Ok(parsed.clone());
        }
        let parsed = load(path)?;
        loaded.retain(|(p, ..)| p != path);
        if loaded.len() >= AT_MOST {
            loaded.remove(0);
        }
        loaded.push((path.to_path_buf(), modified, size, parsed.clone()));
        Ok(parsed)
    }
}

impl<T: Clone> Default for FileCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

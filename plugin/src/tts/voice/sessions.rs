//! A voice's ONNX Runtime sessions, owned together with the mapped files they may read their
//! weights from. A session built in place on the voice cache's `.ort` files
//! (`session.use_ort_model_bytes_directly`) reads those bytes for as long as it lives, which the
//! borrow checker cannot see: [`Sessions`] holds both and its `Drop` releases the sessions
//! before the files, whatever the order of fields anywhere.

use super::disk_cache::Mapped;
use crate::tts::model::crop::Cropping;
use ort::session::Session;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Mutex;

/// How a voice's model runs.
#[derive(Debug)]
pub(super) enum Model {
    /// Split at the decoder's input ([`split`](crate::tts::model::split)): the front gives the latent, the decoder turns
    /// it into audio window by window, so a sentence's first audio comes after its first
    /// window instead of after the whole sentence.
    Streaming {
        front: Mutex<Session>,
        decoder: Mutex<Session>,
        /// The latent's name (front output, decoder input).
        latent: String,
        /// The phonemes' durations in latent frames, the front's second output, if it has
        /// them ([`split`](crate::tts::model::split)).
        durations: Option<String>,
        /// How the decoder crops each window's context ([`crop`](crate::tts::model::crop)).
        cropping: Cropping,
    },
    /// The whole model in one run (a voice that does not split).
    Whole(Mutex<Session>),
}

/// A [`Model`] and, if its sessions were built in place, the mapped files they read from.
#[derive(Debug)]
pub(super) struct Sessions {
    /// The sessions; dropped by hand in `Drop`, before `mapped`.
    model: ManuallyDrop<Model>,
    /// The files the sessions read their weights from (`None`: the sessions own copies).
    mapped: Option<Mapped>,
}

impl Sessions {
    /// Sessions that own copies of their weights.
    pub(super) fn owned(model: Model) -> Self {
        Self {
            model: ManuallyDrop::new(model),
            mapped: None,
        }
    }

    /// Sessions built in place on `mapped`'s bytes.
    ///
    /// # Safety
    /// Every session in `model` that reads bytes in place must read them from `mapped` (and
    /// from nothing else that may go away); `Sessions` then keeps `mapped` alive longer than
    /// them.
    pub(super) unsafe fn in_place(model: Model, mapped: Mapped) -> Self {
        Self {
            model: ManuallyDrop::new(model),
            mapped: Some(mapped),
        }
    }

    /// The mapped files, if the sessions were built in place on them.
    pub(super) fn mapped(&self) -> Option<&Mapped> {
        self.mapped.as_ref()
    }
}

impl Deref for Sessions {
    type Target = Model;

    fn deref(&self) -> &Model {
        &self.model
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        // SAFETY: `model` is dropped exactly once, here, and never used again: `Drop` runs
        // once and nothing reads the field after it. `mapped` drops after this returns, so the
        // sessions are gone before the bytes they read.
        unsafe { ManuallyDrop::drop(&mut self.model) };
    }
}

//! A count held for as long as something lasts (a render waiting, a client connected): the
//! count goes back down when the holder is dropped, also when its thread panics, so a counter
//! can never be left raised and lock everyone out.
//!
//! Thread model: any thread; the counter is one atomic.

use std::sync::atomic::{AtomicUsize, Ordering};

/// One unit of a counter, given back on drop.
#[derive(Debug)]
pub struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    /// Raises `counter` by one.
    pub fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter)
    }

    /// Raises `counter` by one if it is below `max`; `None` (and the counter as it was)
    /// otherwise.
    pub fn enter_below(counter: &'a AtomicUsize, max: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(counter))
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        // Never below zero, even if the counter was reset (a server stop zeroes its clients).
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_count_comes_back_when_its_thread_panics() {
        let counter = Arc::new(AtomicUsize::new(0));
        let inside = counter.clone();
        let result = std::thread::spawn(move || {
            let _held = Counted::enter(&inside);
            assert_eq!(inside.load(Ordering::Acquire), 1);
            panic!("a render failed");
        })
        .join();
        assert!(result.is_err());
        assert_eq!(counter.load(Ordering::Acquire), 0);
    }

    #[test]
    fn entry_below_a_maximum_is_refused_at_it() {
        let counter = AtomicUsize::new(0);
        let held: Vec<_> = (0..5)
            .filter_map(|_| Counted::enter_below(&counter, 3))
            .collect();
        assert_eq!((held.len(), counter.load(Ordering::Acquire)), (3, 3));
        drop(held);
        assert_eq!(counter.load(Ordering::Acquire), 0);
        counter.store(0, Ordering::Release);
        drop(Counted::enter(&counter));
        assert_eq!(counter.load(Ordering::Acquire), 0);
    }
}

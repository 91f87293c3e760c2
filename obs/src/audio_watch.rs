//! What a filter's audio callback costs, watched in the running module: its ticks, their time,
//! and every allocation or free the module's Rust code makes inside it. The module's global
//! allocator counts heap calls made on a thread while that thread is inside `filter_audio`
//! ([`Watch::enter`]); each filter sums its ticks and their time, and says all of it in OBS's
//! log when it is destroyed, so a test (or a user reading the log) sees it from a real OBS.
//! Allocations by C libraries (libobs, ONNX Runtime, espeak-ng) go through their own
//! allocators and are not seen here; the audio callback calls none of them.
//!
//! Thread model: [`Watch::enter`] and the guard's drop run on OBS's audio thread (a clock read,
//! a thread-local flag, relaxed atomics: no allocation, lock or wait); [`Watch::summary`] on
//! the thread that destroys the filter. The allocator runs on every thread, and on threads
//! outside the callback it adds one thread-local read to each heap call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

thread_local! {
    /// Whether this thread is inside a filter's audio callback.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// Heap calls this thread made inside audio callbacks.
    static HEAP_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// Counts a heap call if this thread is inside an audio callback. Const thread-locals with no
/// destructor: reading them never allocates, so the allocator may use them.
fn note_heap_call() {
    let _ = INSIDE.try_with(|inside| {
        if inside.get() {
            let _ = HEAP_CALLS.try_with(|calls| calls.set(calls.get() + 1));
        }
    });
}

/// The system allocator, counting the calls made inside audio callbacks.
pub struct Counting;

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_heap_call();
        // SAFETY: the caller's layout, as `GlobalAlloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_heap_call();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_heap_call();
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_heap_call();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One filter's audio callback figures.
#[derive(Debug, Default)]
pub struct Watch {
    ticks: AtomicU64,
    nanos: AtomicU64,
    max_nanos: AtomicU64,
    heap_calls: AtomicU64,
}

/// Inside one audio callback; its drop adds the tick to its [`Watch`].
pub struct Tick<'a> {
    watch: &'a Watch,
    start: Instant,
    calls_before: u64,
}

impl Watch {
    /// Marks this thread as inside the callback until the returned guard drops.
    pub fn enter(&self) -> Tick<'_> {
        let calls_before = HEAP_CALLS.try_with(Cell::get).unwrap_or(0);
        let _ = INSIDE.try_with(|inside| inside.set(true));
        Tick {
            watch: self,
            start: Instant::now(),
            calls_before,
        }
    }

    /// The figures so far.
    pub fn summary(&self) -> Summary {
        Summary {
            ticks: self.ticks.load(Ordering::Relaxed),
            nanos: self.nanos.load(Ordering::Relaxed),
            max_nanos: self.max_nanos.load(Ordering::Relaxed),
            heap_calls: self.heap_calls.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Tick<'_> {
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|inside| inside.set(false));
        let calls = HEAP_CALLS
            .try_with(Cell::get)
            .unwrap_or(0)
            .wrapping_sub(self.calls_before);
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let watch = self.watch;
        watch.ticks.fetch_add(1, Ordering::Relaxed);
        watch.nanos.fetch_add(nanos, Ordering::Relaxed);
        watch.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        watch.heap_calls.fetch_add(calls, Ordering::Relaxed);
    }
}

/// A filter's audio callback figures, as the log says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub ticks: u64,
    pub nanos: u64,
    pub max_nanos: u64,
    pub heap_calls: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mean = self.nanos.checked_div(self.ticks).unwrap_or(0);
        write!(
            f,
            "audio ticks {}, mean {:.1} us, max {:.1} us, heap calls on the audio thread {}",
            self.ticks,
            mean as f64 / 1000.0,
            self.max_nanos as f64 / 1000.0,
            self.heap_calls
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_calls_inside_a_tick_are_counted_and_outside_are_not() {
        let watch = Watch::default();
        let outside = vec![1u8; 64];
        {
            let _tick = watch.enter();
            let inside = std::hint::black_box(vec![2u8; 64]);
            drop(inside);
        }
        {
            let _tick = watch.enter();
            std::hint::black_box(outside.len());
        }
        drop(outside);
        let summary = watch.summary();
        assert_eq!(summary.ticks, 2);
        assert_eq!(summary.heap_calls, 2, "one allocation and one free");
        assert!(summary.max_nanos <= summary.nanos);
        assert!(
            summary
                .to_string()
                .contains("heap calls on the audio thread 2")
        );
    }
}

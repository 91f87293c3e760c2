//! Connections that have not sent their request head yet. A client that is not talking keeps a
//! thread and a connection slot, so there may be only [`MAX_WAITING`] of them: a new connection
//! past that closes the one that has waited longest, if that one has waited at least
//! [`GRACE`]. A real client sends its head at once, so it is read within the grace even on a
//! loaded machine (its thread may start late) and is never closed for a newcomer; a process
//! opening sockets that never finish a request holds at most this many slots for longer than
//! the grace, each for at most the head deadline (`http::HEAD_TIMEOUT`). When every
//! connection slot is taken, a new connection also closes the longest-waiting one (past the
//! grace) rather than be refused.
//!
//! Thread model: the accept threads enter connections, each connection's thread leaves when its
//! head is read (or refused); one short lock, never held across I/O.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Connections still sending their head, at most (past the grace).
pub const MAX_WAITING: usize = 8;

/// How long a new connection has to send its head before a newcomer may close it.
pub const GRACE: Duration = Duration::from_millis(250);

/// The connections waiting for their head: number and when it was accepted.
#[derive(Debug, Default)]
pub struct Waiting {
    entries: Mutex<Vec<(u64, Instant)>>,
}

impl Waiting {
    /// Counts connection `number`, accepted at `now`. Returns the connection to close to make
    /// room, if the table was full and its oldest has waited past the grace (otherwise the
    /// newcomer is counted over the cap: the connection cap still bounds them all).
    pub fn enter(&self, number: u64, now: Instant) -> Option<u64> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let evicted = if entries.len() >= MAX_WAITING {
            take_oldest(&mut entries, now)
        } else {
            None
        };
        entries.push((number, now));
        evicted
    }

    /// Takes the connection that has waited longest out of the table, to be closed, if it has
    /// waited past the grace at `now`: a new connection past the connection cap gets its slot.
    pub fn evict_oldest(&self, now: Instant) -> Option<u64> {
        take_oldest(
            &mut self.entries.lock().unwrap_or_else(|e| e.into_inner()),
            now,
        )
    }

    /// How long until the longest-waiting connection's grace ends at `now` (`None`: none
    /// waits, or its grace has ended).
    pub fn grace_left(&self, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = entries.iter().map(|(_, at)| *at).min()?;
        (oldest + GRACE)
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
    }

    /// Connection `number` has sent its head (or is gone).
    pub fn leave(&self, number: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(n, _)| *n != number);
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes and returns the entry accepted earliest, if it was accepted a grace before `now`.
fn take_oldest(entries: &mut Vec<(u64, Instant)>, now: Instant) -> Option<u64> {
    let oldest = (0..entries.len()).min_by_key(|&i| entries[i].1)?;
    (now.saturating_duration_since(entries[oldest].1) >= GRACE)
        .then(|| entries.swap_remove(oldest).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn past_the_cap_the_longest_waiting_connection_makes_room() {
        let waiting = Waiting::default();
        let t = Instant::now();
        for n in 0..MAX_WAITING as u64 {
            assert_eq!(waiting.enter(n, t + Duration::from_millis(n)), None);
        }
        assert_eq!(waiting.enter(100, t + Duration::from_secs(1)), Some(0));
        assert_eq!(waiting.enter(101, t + Duration::from_secs(1)), Some(1));
        assert_eq!(waiting.len(), MAX_WAITING);
        // Connections that sent their head leave room without closing anyone.
        waiting.leave(100);
        waiting.leave(101);
        assert_eq!(waiting.enter(102, t + Duration::from_secs(2)), None);
        assert_eq!(waiting.evict_oldest(t + Duration::from_secs(2)), Some(2));
        assert_eq!(waiting.len(), MAX_WAITING - 2);
    }

    #[test]
    fn a_connection_inside_its_grace_is_never_closed_for_a_newcomer() {
        let waiting = Waiting::default();
        let t = Instant::now();
        for n in 0..MAX_WAITING as u64 {
            assert_eq!(waiting.enter(n, t), None);
        }
        // A burst of newcomers within the grace: counted over the cap, nobody closed.
        let soon = t + GRACE / 2;
        assert_eq!(waiting.enter(50, soon), None);
        assert_eq!(waiting.evict_oldest(soon), None);
        assert_eq!(waiting.len(), MAX_WAITING + 1);
        assert_eq!(waiting.grace_left(soon), Some(GRACE - GRACE / 2));
        // Past the grace the oldest goes.
        assert_eq!(waiting.grace_left(t + GRACE), None);
        assert_eq!(waiting.enter(51, t + GRACE), Some(0));
    }
}

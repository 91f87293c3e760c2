//! The transport-style switches (Speak, Stop, Skip, Pause) as the audio thread reads them: a
//! switch acts when it changes, not for as long as it is on, so a host that leaves Speak on
//! does not speak the text again every block.
//!
//! Audio thread only; plain fields, no allocation.

use crate::params::OratorParams;

/// A switch's value in the previous block.
#[derive(Debug, Default, Clone, Copy)]
pub struct Edge {
    was_on: bool,
}

impl Edge {
    /// Whether the switch turned on since the previous block.
    pub fn rose(&mut self, on: bool) -> bool {
        self.changed(on) == Some(true)
    }

    /// The switch's new value if it changed since the previous block.
    pub fn changed(&mut self, on: bool) -> Option<bool> {
        let changed = (on != self.was_on).then_some(on);
        self.was_on = on;
        changed
    }
}

/// What the switches ask for in one block.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    /// Speak the session's text (Speak turned on).
    pub speak: bool,
    /// Stop the phrase playing and clear the queue (Stop turned on).
    pub stop: bool,
    /// Skip to the next queued phrase (Skip turned on).
    pub skip: bool,
    /// Pause or resume (Pause changed; acted on only when it changes, so the editor's own
    /// pause is not overridden every block).
    pub pause: Option<bool>,
}

/// The four switches' edges.
#[derive(Debug, Default, Clone, Copy)]
pub struct Triggers {
    speak: Edge,
    stop: Edge,
    skip: Edge,
    pause: Edge,
}

impl Triggers {
    /// Reads the switches for this block and returns what changed.
    ///
    /// # Realtime safety
    /// Four relaxed parameter loads; no allocation.
    pub fn read(&mut self, params: &OratorParams) -> Actions {
        Actions {
            speak: self.speak.rose(params.speak.value()),
            stop: self.stop.rose(params.stop.value()),
            skip: self.skip.rose(params.skip.value()),
            pause: self.pause.changed(params.pause.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_rises_once_per_press_and_reports_each_change() {
        let mut edge = Edge::default();
        assert!(!edge.rose(false));
        assert!(edge.rose(true));
        assert!(!edge.rose(true), "held on: no second press");
        assert!(!edge.rose(false));
        assert!(edge.rose(true));
        let mut pause = Edge::default();
        assert_eq!(pause.changed(false), None);
        assert_eq!(pause.changed(true), Some(true));
        assert_eq!(pause.changed(true), None);
        assert_eq!(pause.changed(false), Some(false));
    }
}

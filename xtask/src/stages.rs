//! Times the stages of `cargo xtask test` and prints each as it ends, then all of them, so a CI
//! log shows what each part (and each real host's tests) costs.

use anyhow::Result;
use std::time::{Duration, Instant};

/// The stages run so far and how long each took.
pub struct Stages {
    started: Instant,
    done: Vec<(String, Duration)>,
}

impl Stages {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs stage `name` and records its time, also when it fails.
    pub fn run<T>(&mut self, name: &str, stage: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let result = stage();
        let took = start.elapsed();
        eprintln!(
            "[xtask] stage `{name}` {} in {}",
            if result.is_ok() { "done" } else { "failed" },
            shown(took)
        );
        self.done.push((name.to_owned(), took));
        result
    }

    /// Prints every stage's time and the total.
    pub fn report(&self) {
        eprintln!("[xtask] stage times:");
        for (name, took) in &self.done {
            eprintln!("[xtask]   {:<28} {}", name, shown(*took));
        }
        eprintln!(
            "[xtask]   {:<28} {}",
            "total",
            shown(self.started.elapsed())
        );
    }
}

/// `12 min 34 s`.
fn shown(took: Duration) -> String {
    let seconds = took.as_secs();
    format!("{} min {:02} s", seconds / 60, seconds % 60)
}

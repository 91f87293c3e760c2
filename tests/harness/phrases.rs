//! A phrase rendered through the CLAP bundle in real time or as a bounce, and the two compared.

use crate::clap::{LoadedPlugin, press};
use crate::{bundle_path, signal};
use anyhow::{Context, Result, ensure};
use clack_host::prelude::ProcessStatus;

/// Renders `text` at 48 kHz in 512-frame blocks from a Speak press in the first block until
/// the plugin says it is idle again, in real time (blocks paced like an audio interface's) or
/// offline (as fast as the plugin allows, as a bounce). Returns the left channel.
pub fn render_phrase(text: &str, offline: bool) -> Result<Vec<f32>> {
    const RATE: f64 = 48_000.0;
    const BLOCK: usize = 512;
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text(text)?;
    let speak = plugin.param("Speak")?.id;
    plugin.set_offline(offline)?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let silence = vec![0.0f32; BLOCK];
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut out = Vec::new();
    let period = std::time::Duration::from_secs_f64(BLOCK as f64 / RATE);
    let started = std::time::Instant::now();
    let mut next = started;
    for block in 0.. {
        if !offline {
            let now = std::time::Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next += period;
        }
        let status = plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &press(speak, block, 0),
        )?;
        ensure!(signal::all_clean(&left), "unclean output in block {block}");
        out.extend_from_slice(&left);
        if block > 2 && status == ProcessStatus::ContinueIfNotQuiet {
            break;
        }
        ensure!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the phrase did not end within 60 s"
        );
    }
    Ok(out)
}

/// How a live render compares with the bounce of the same phrase, each from its first
/// non-zero sample.
#[derive(Debug, Clone, Copy)]
pub struct LiveVsBounce {
    /// Seconds from the press to the first sample heard live.
    pub latency: f64,
    /// Seconds of speech in the bounce.
    pub speech: f64,
    /// Signal-to-error ratio of the live speech against the bounce's, dB (a gap anywhere
    /// shifts everything after it and drops this to near 0 dB).
    pub snr_db: f64,
    /// Whether anything but silence followed the bounce's end in the live render.
    pub tail: bool,
}

/// Compares a live render with the bounce (both from [`render_phrase`]).
pub fn live_vs_bounce(live: &[f32], bounce: &[f32]) -> Result<LiveVsBounce> {
    let onset = |x: &[f32]| x.iter().position(|&s| s != 0.0);
    let from_bounce = onset(bounce).context("no speech in the bounce")?;
    let from_live = onset(live).context("no speech reached the output in real time")?;
    let end = bounce
        .iter()
        .rposition(|&s| s != 0.0)
        .context("no speech in the bounce")?;
    let speech = &bounce[from_bounce..=end];
    let heard = live
        .get(from_live..from_live + speech.len())
        .context("the real-time render is shorter than the bounce: speech was lost")?;
    let (signal, error) = speech
        .iter()
        .zip(heard)
        .fold((0.0f64, 0.0f64), |(s, e), (&a, &b)| {
            (s + f64::from(a).powi(2), e + f64::from(a - b).powi(2))
        });
    Ok(LiveVsBounce {
        latency: from_live as f64 / 48_000.0,
        speech: speech.len() as f64 / 48_000.0,
        snr_db: 10.0 * (signal / error.max(1e-30)).log10(),
        tail: live[from_live + speech.len()..]
            .iter()
            .any(|s| s.abs() >= 1e-6),
    })
}

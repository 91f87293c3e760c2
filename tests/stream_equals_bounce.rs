//! Within-sentence streaming through a real CLAP host at real-time pace, with the real voice:
//! the speech that reaches the output must be the offline bounce's, sample for sample in
//! time. A single late sample (an underrun) would shift everything after it, so comparing the
//! two whole renders proves there was none, without any counter the host cannot see.

use anyhow::{Context, Result, ensure};
use clack_host::prelude::ProcessStatus;
use orator_tests::signal::all_clean;
use orator_tests::{LoadedPlugin, bundle_path, press};
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;
/// One long sentence: about 13 s of speech, decoded in a dozen windows, in clause groups.
const TEXT: &str = "When you finish the first part of the tutorial, save your work, close the \
                    editor, open the terminal, type the command exactly as shown, press enter, \
                    and wait for the build to complete before you move on to the second part \
                    of the lesson today.";
/// About 10 s with no punctuation, as chat lines come: cut once at a word boundary.
const UNPUNCTUATED: &str = "when you finish the first part of the tutorial save your work and \
                            close the editor then open the terminal and type the command exactly \
                            as it is shown and wait for the build to complete before you move on \
                            to the second part";

/// Renders `text` from a Speak press in the first block until the plugin says it is idle
/// again; in real time (paced like an audio interface) or offline. Returns the left channel.
fn render(text: &str, offline: bool) -> Result<Vec<f32>> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text(text)?;
    let speak = plugin.param("Speak")?.id;
    plugin.set_offline(offline)?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let silence = vec![0.0f32; BLOCK];
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut out = Vec::new();
    let period = Duration::from_secs_f64(BLOCK as f64 / RATE);
    let started = Instant::now();
    let mut next = started;
    for block in 0.. {
        if !offline {
            let now = Instant::now();
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
        ensure!(all_clean(&left), "unclean output in block {block}");
        out.extend_from_slice(&left);
        if block > 2 && status == ProcessStatus::ContinueIfNotQuiet {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the phrase did not end within 60 s"
        );
    }
    Ok(out)
}

#[test]
fn a_long_sentence_streams_at_real_time_pace_without_a_gap() -> Result<()> {
    // One after the other: two real-time renders at once would share the two cores.
    for text in [TEXT, UNPUNCTUATED] {
        streams_without_a_gap(text).with_context(|| format!("speaking {text:?}"))?;
    }
    Ok(())
}

/// Renders `text` offline and in real time and checks the live speech is the bounce's.
fn streams_without_a_gap(text: &str) -> Result<()> {
    let bounce = render(text, true)?;
    let live = render(text, false)?;
    let onset = |x: &[f32]| x.iter().position(|&s| s != 0.0);
    let from_bounce = onset(&bounce).context("no speech in the bounce")?;
    let from_live = onset(&live).context("no speech reached the output in real time")?;
    let end = bounce
        .iter()
        .rposition(|&s| s != 0.0)
        .context("no speech in the bounce")?;
    let speech = &bounce[from_bounce..=end];
    ensure!(
        speech.len() as f64 / RATE > 8.0,
        "only {:.2} s of speech",
        speech.len() as f64 / RATE
    );
    let heard = live
        .get(from_live..from_live + speech.len())
        .context("the real-time render is shorter than the bounce: speech was lost")?;
    let (signal, error) = speech
        .iter()
        .zip(heard)
        .fold((0.0f64, 0.0f64), |(s, e), (&a, &b)| {
            (s + f64::from(a).powi(2), e + f64::from(a - b).powi(2))
        });
    let snr = 10.0 * (signal / error.max(1e-30)).log10();
    let latency = from_live as f64 / RATE;
    eprintln!(
        "first audio {latency:.3} s after the press; {:.2} s of speech; {snr:.1} dB against the \
         bounce",
        speech.len() as f64 / RATE
    );
    ensure!(
        snr > 60.0,
        "the real-time speech differs from the bounce ({snr:.1} dB SNR): a gap or a dropout"
    );
    ensure!(
        live[from_live + speech.len()..]
            .iter()
            .all(|s| s.abs() < 1e-6),
        "speech continued after the bounce's end"
    );
    Ok(())
}

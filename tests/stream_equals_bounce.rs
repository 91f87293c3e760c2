//! Within-sentence streaming through a real CLAP host at real-time pace, with the real voice:
//! the speech that reaches the output must be the offline bounce's, sample for sample in
//! time. A single late sample (an underrun) would shift everything after it, so comparing the
//! two whole renders proves there was none, without any counter the host cannot see.

use anyhow::{Context, Result, ensure};
use orator_tests::{live_vs_bounce, render_phrase};

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

/// Held by each test here: two real-time renders at once would share the two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_long_sentence_streams_at_real_time_pace_without_a_gap() -> Result<()> {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for text in [TEXT, UNPUNCTUATED] {
        streams_without_a_gap(text).with_context(|| format!("speaking {text:?}"))?;
    }
    Ok(())
}

/// Renders `text` offline and in real time and checks the live speech is the bounce's.
fn streams_without_a_gap(text: &str) -> Result<()> {
    let bounce = render_phrase(text, true)?;
    let live = render_phrase(text, false)?;
    let heard = live_vs_bounce(&live, &bounce)?;
    ensure!(heard.speech > 8.0, "only {:.2} s of speech", heard.speech);
    eprintln!(
        "first audio {:.3} s after the press; {:.2} s of speech; {:.1} dB against the bounce",
        heard.latency, heard.speech, heard.snr_db
    );
    ensure!(
        heard.snr_db > 60.0,
        "the real-time speech differs from the bounce ({:.1} dB SNR): a gap or a dropout",
        heard.snr_db
    );
    ensure!(!heard.tail, "speech continued after the bounce's end");
    Ok(())
}

/// Busy-loop processes, killed when dropped.
struct BusyLoops(Vec<std::process::Child>);

impl Drop for BusyLoops {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_long_sentence_streams_without_a_gap_while_two_busy_loops_share_the_cores() -> Result<()> {
    // The bounce first, unloaded; then the live render while two processes spin on the two
    // cores. The start gate measures how fast the speech thread decodes with what CPU it gets
    // and starts the phrase late enough that no window arrives after its audio is due.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bounce = render_phrase(TEXT, true)?;
    let mut busy = BusyLoops(Vec::new());
    for _ in 0..2 {
        busy.0.push(
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .context("could not start a busy loop")?,
        );
    }
    let live = render_phrase(TEXT, false)?;
    drop(busy);
    let heard = live_vs_bounce(&live, &bounce)?;
    eprintln!(
        "loaded: first audio {:.3} s after the press; {:.1} dB against the bounce",
        heard.latency, heard.snr_db
    );
    ensure!(
        heard.snr_db > 60.0,
        "under load the real-time speech differs from the bounce ({:.1} dB SNR): a gap",
        heard.snr_db
    );
    ensure!(!heard.tail, "speech continued after the bounce's end");
    Ok(())
}

//! The built VST3 bundle in a VST3 host of our own (`harness/vst3.rs`): loaded as a DAW loads it,
//! processing at several rates, speaking a project's saved text where Speak is automated (as
//! the CLAP bundle speaks it, sample for sample), its state round trip, and load/unload cycles.
//! The same tests run on Linux and, built for Windows, under Wine against the Windows bundle.

use anyhow::{Context, Result, ensure};
use orator_tests::signal::{all_clean, rms, sine};
use orator_tests::vst3::{Point, Vst3Plugin, bundle_path};
use orator_tests::{bundle_path as clap_bundle_path, render_phrase};

const TEXT: &str = "A VST3 host speaks this line.";

/// A DAW makes and drops plugin instances on its main thread, one at a time; the tests do
/// too. nice-plug's Windows event loop gives each instance a window on the thread that made
/// it, and with the tests making and dropping instances at once, 4 runs in 6 hung under Wine.
static MAIN_THREAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn main_thread() -> std::sync::MutexGuard<'static, ()> {
    MAIN_THREAD.lock().unwrap_or_else(|e| e.into_inner())
}

/// The VST3 state with the saved session's text replaced (the component state is nice-plug's
/// JSON, the session a JSON string inside it).
fn with_text(state: &[u8], text: &str) -> Result<Vec<u8>> {
    let mut json: serde_json::Value =
        serde_json::from_slice(state).context("the VST3 state is not JSON")?;
    json["fields"]["session"] =
        serde_json::Value::String(serde_json::json!({ "schema": 2, "text": text }).to_string());
    Ok(serde_json::to_vec(&json)?)
}

#[test]
fn the_bundle_loads_and_passes_audio_at_every_common_rate() -> Result<()> {
    let _main = main_thread();
    let mut plugin = Vst3Plugin::load(&bundle_path())?;
    for rate in [22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
        plugin.activate(rate, 1024, false)?;
        let tone = sine(1000.0, 0.5, rate, 1024);
        let mut last = [Vec::new(), Vec::new()];
        for _ in 0..(rate as usize / 1024).max(8) {
            last = plugin.process([&tone, &tone], &[])?;
            ensure!(
                all_clean(&last[0]) && all_clean(&last[1]),
                "NaN or denormal output at {rate} Hz"
            );
        }
        // Nothing is spoken: after its gain ramps, the input passes unchanged.
        for channel in &last {
            let error: Vec<f32> = channel.iter().zip(&tone).map(|(a, b)| a - b).collect();
            ensure!(
                rms(&error) < 1e-4 * rms(&tone),
                "at {rate} Hz the input does not pass through: error {}",
                rms(&error)
            );
        }
    }
    Ok(())
}

/// The block Speak is pressed in: past the first second. nice-plug's VST3 wrapper gives the
/// plugin the process mode of the previous `setupProcessing` call, so a host's first
/// "offline" reaches it as "realtime" and the render is recognised by its pace, after one
/// second (`playback/render_clock.rs`).
const SPEAK_BLOCK: usize = 100;

/// Renders `TEXT` from the saved state offline at 48 kHz in 512-frame blocks with Speak
/// pressed at the start of [`SPEAK_BLOCK`], for `frames` frames from the press.
fn render(frames: usize) -> Result<Vec<f32>> {
    let mut plugin = Vst3Plugin::load(&bundle_path())?;
    plugin.set_state(&with_text(&plugin.state()?, TEXT)?)?;
    let speak = plugin.param("Speak")?;
    plugin.activate(48_000.0, 512, true)?;
    let silence = vec![0.0f32; 512];
    let mut out = Vec::with_capacity(frames);
    for block in 0..SPEAK_BLOCK + frames.div_ceil(512) {
        let points: Vec<Point> = match block.checked_sub(SPEAK_BLOCK) {
            Some(0) => vec![Point {
                id: speak,
                at: 0,
                value: 1.0,
            }],
            Some(1) => vec![Point {
                id: speak,
                at: 0,
                value: 0.0,
            }],
            _ => Vec::new(),
        };
        let [left, _] = plugin.process([&silence, &silence], &points)?;
        ensure!(all_clean(&left), "unclean output in block {block}");
        if block < SPEAK_BLOCK {
            ensure!(
                left.iter().all(|&x| x == 0.0),
                "sound before Speak, block {block}"
            );
        } else {
            out.extend_from_slice(&left);
        }
    }
    out.truncate(frames);
    Ok(out)
}

#[test]
fn automated_speak_renders_the_saved_text_as_the_clap_bundle_does() -> Result<()> {
    let _main = main_thread();
    ensure!(
        clap_bundle_path().exists(),
        "no CLAP bundle at {}",
        clap_bundle_path().display()
    );
    let reference = render_phrase(TEXT, true)?;
    let heard = reference.iter().filter(|x| x.abs() > 1e-3).count();
    ensure!(
        heard > 48_000 / 2,
        "the CLAP reference has only {heard} audible samples"
    );
    let first = render(reference.len())?;
    let second = render(reference.len())?;
    ensure!(first == second, "two offline VST3 renders differ");
    let error: Vec<f32> = first.iter().zip(&reference).map(|(a, b)| a - b).collect();
    let snr = 20.0 * (rms(&reference) / rms(&error).max(1e-30)).log10();
    ensure!(
        snr >= 100.0,
        "the VST3 render differs from the CLAP one: SNR {snr:.1} dB"
    );
    Ok(())
}

#[test]
fn state_round_trips_and_garbage_state_is_refused_without_harm() -> Result<()> {
    let _main = main_thread();
    let plugin = Vst3Plugin::load(&bundle_path())?;
    let saved = with_text(&plugin.state()?, "Saved through VST3 state.")?;
    plugin.set_state(&saved)?;
    let again = plugin.state()?;
    let json: serde_json::Value = serde_json::from_slice(&again)?;
    let session: serde_json::Value = serde_json::from_str(
        json["fields"]["session"]
            .as_str()
            .context("no session in the state")?,
    )?;
    ensure!(
        session["text"] == "Saved through VST3 state.",
        "the text did not survive a round trip: {session}"
    );
    ensure!(
        plugin.set_state(b"\xff\xfenot a state").is_err(),
        "a garbage state was accepted"
    );
    ensure!(
        plugin.state()? == again,
        "a refused state changed the plugin's state"
    );
    Ok(())
}

#[test]
fn instances_load_and_unload_repeatedly() -> Result<()> {
    let _main = main_thread();
    for round in 0..4 {
        let mut plugin = Vst3Plugin::load(&bundle_path())?;
        plugin.activate(48_000.0, 256, false)?;
        let silence = vec![0.0f32; 256];
        let out = plugin.process([&silence, &silence], &[])?;
        ensure!(
            out[0].iter().all(|&x| x == 0.0),
            "round {round}: silence in, sound out"
        );
    }
    Ok(())
}

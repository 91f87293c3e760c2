//! The editor in a real CLAP host, on a virtual X display: the harness embeds it in a window of
//! its own (as a DAW does), runs audio at real-time pace, and a user (xdotool, through XTEST)
//! types a line and presses Ctrl+Enter, then clicks Speak. Speech must reach the host's output
//! both times, the typed text must be in the saved state, and a screenshot must show the
//! window drawn with its status line saying the voice is ready.
//!
//! Screenshots are kept in `target/test-artifacts/` (not in git).

use anyhow::{Context, Result, ensure};
use orator_tests::display::{Display, Image, X, artifacts_dir};
use orator_tests::signal::{all_clean, rms};
use orator_tests::{LoadedPlugin, bundle_path, saved_text};
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;
/// Block level above which the output counts as speech (the input is silent).
const SPEECH_RMS: f64 = 0.005;
/// The editor's Speak button, in the editor's coordinates: the first button of the toolbar
/// above the text (egui's default spacing puts its centre here at zoom 1).
const SPEAK_BUTTON: (u32, u32) = (40, 18);

/// Audio at real-time pace plus the host's main-thread duties, for as long as a test step
/// takes.
struct Session {
    plugin: LoadedPlugin,
    silence: Vec<f32>,
    left: Vec<f32>,
    right: Vec<f32>,
    next_block: Instant,
}

impl Session {
    /// Processes one block (waiting for its time first) and returns its output level.
    fn block(&mut self) -> Result<f64> {
        let now = Instant::now();
        if self.next_block > now {
            std::thread::sleep(self.next_block - now);
        }
        self.next_block += Duration::from_secs_f64(BLOCK as f64 / RATE);
        self.plugin.pump();
        self.plugin.process(
            &[&self.silence, &self.silence],
            None,
            &mut [&mut self.left, &mut self.right],
            &[],
        )?;
        ensure!(all_clean(&self.left) && all_clean(&self.right));
        Ok(rms(&self.left))
    }

    /// Runs audio for `seconds`.
    fn run(&mut self, seconds: f64) -> Result<()> {
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < end {
            self.block()?;
        }
        Ok(())
    }

    /// Runs audio until speech has been heard and has ended (half a second of quiet); returns
    /// the seconds from the call to the first speech.
    fn until_spoken(&mut self, what: &str) -> Result<f64> {
        let started = Instant::now();
        let mut first = None;
        let mut quiet_blocks = 0;
        while started.elapsed() < Duration::from_secs(30) {
            if self.block()? > SPEECH_RMS {
                first.get_or_insert(started.elapsed().as_secs_f64());
                quiet_blocks = 0;
            } else if first.is_some() {
                quiet_blocks += 1;
                if quiet_blocks as f64 * BLOCK as f64 / RATE > 0.5 {
                    return first.context("unreachable");
                }
            }
        }
        anyhow::bail!("{what}: no speech reached the output within 30 s (first: {first:?})")
    }
}

/// Reads the window until tesseract finds `wanted` (the voice loads while audio runs), up to
/// 30 s. Returns the screenshot and its text.
fn wait_for_text(
    session: &mut Session,
    x: &X,
    window: u32,
    wanted: &str,
) -> Result<(Image, String)> {
    let started = Instant::now();
    loop {
        session.run(0.5)?;
        let shot = x.screenshot(window)?;
        let text = shot.read_text(&artifacts_dir().join("editor-clap-ocr.png"))?;
        if text.contains(wanted) {
            return Ok((shot, text));
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the editor never showed {wanted:?}; it reads:\n{text}"
        );
    }
}

#[test]
fn typing_and_clicking_in_the_editor_speaks_through_the_host() -> Result<()> {
    let display = Display::start(90)?;
    // SAFETY: set before the plugin is loaded and before this test binary (one test) starts
    // any other thread that reads the environment; the plugin's windowing reads DISPLAY.
    unsafe { std::env::set_var("DISPLAY", &display.name) };
    let x = X::connect(&display.name)?;

    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let parent = x.create_window(1100, 760)?;
    let (width, height) = plugin.open_editor(parent)?;
    ensure!(
        width >= 700 && height >= 450,
        "the editor is {width}×{height}, smaller than its layout"
    );
    let mut session = Session {
        plugin,
        silence: vec![0.0; BLOCK],
        left: vec![0.0; BLOCK],
        right: vec![0.0; BLOCK],
        next_block: Instant::now(),
    };

    // The editor draws, and its status line turns to "Ready" once the voice is loaded.
    let (shot, text) = wait_for_text(&mut session, &x, parent, "Ready")?;
    shot.save_png(&artifacts_dir().join("editor-clap-ready.png"))?;
    ensure!(
        shot.distinct_colors() > 20,
        "the editor window looks blank ({} colours)",
        shot.distinct_colors()
    );
    ensure!(
        text.contains("joe"),
        "the status line does not name the voice:\n{text}"
    );

    // Type a line into the text box (it has the focus when the editor opens) and speak it with
    // Ctrl+Enter.
    let editor = *x
        .children(parent)?
        .first()
        .context("the editor did not embed a window in the host's")?;
    x.focus(editor)?;
    let line = "Hello from the editor.";
    display.xdotool(&["type", "--delay", "30", line])?;
    session.run(0.3)?;
    display.xdotool(&["key", "ctrl+Return"])?;
    let after_keys = session.until_spoken("Ctrl+Enter")?;
    eprintln!("Ctrl+Enter: speech after {after_keys:.2} s");
    let saved = saved_text(&session.plugin.save_state()?)?;
    ensure!(
        saved == line,
        "the typed text is not in the plugin's state: {saved:?}"
    );

    // Click Speak with the mouse.
    let (bx, by) = SPEAK_BUTTON;
    display.xdotool(&[
        "mousemove",
        "--window",
        &parent.to_string(),
        &bx.to_string(),
        &by.to_string(),
    ])?;
    session.run(0.2)?;
    display.xdotool(&["click", "1"])?;
    let after_click = session.until_spoken("the Speak button")?;
    eprintln!("Speak button: speech after {after_click:.2} s");

    // Both phrases are in the history; the status line counts no underruns or faults.
    session.run(0.5)?;
    let shot = x.screenshot(parent)?;
    shot.save_png(&artifacts_dir().join("editor-clap-spoken.png"))?;
    let text = shot.read_text(&artifacts_dir().join("editor-clap-ocr.png"))?;
    ensure!(text.contains("Ready"), "status line lost:\n{text}");
    ensure!(
        // (Case-blind: the OCR reads "from" as "From" in some layouts.)
        text.to_lowercase().contains("hello from the editor"),
        "the spoken line is not shown:\n{text}"
    );

    session.plugin.close_editor()?;
    session.run(0.2)?;
    Ok(())
}

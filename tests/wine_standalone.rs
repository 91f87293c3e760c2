//! The Windows standalone app under Wine on a virtual X display, with nice-plug's dummy audio
//! backend (real-time `process()` calls, no sound card) and its API on: the editor window opens
//! and draws (a screenshot is kept as `target/test-artifacts/standalone-wine.png`), says the
//! voice is ready, a line typed into it and spoken with Ctrl+Enter is played into the history, and a
//! Speaker.bot client on the Linux side hears a phrase through to `Playing` and `Finished`.
//!
//! Ignored in a plain `cargo test`: it needs the Windows build and the test Wine prefix, which
//! `cargo xtask test` makes before it runs this with `--ignored`.

use anyhow::{Context, Result, ensure};
use orator_tests::display::{Display, Image, X, artifacts_dir};
use orator_tests::speakerbot::Client;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Windows standalone app: `$ORATOR_WINDOWS/orator-standalone.exe`.
fn app() -> Result<PathBuf> {
    let dir = std::env::var_os("ORATOR_WINDOWS")
        .context("ORATOR_WINDOWS must name the Windows bundles' folder")?;
    Ok(PathBuf::from(dir).join("orator-standalone.exe"))
}

/// The Wine process, ended (with everything in its prefix) when dropped.
struct Wine(Child, std::ffi::OsString);

impl Drop for Wine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = Command::new("wineserver")
            .arg("--kill")
            .env("WINEPREFIX", &self.1)
            .status();
    }
}

/// The right half of a screenshot: the Queue tab, where a spoken line is listed.
fn right_half(shot: &Image) -> Image {
    let (width, height) = (shot.width as usize, shot.height as usize);
    let from = width / 2;
    let rgb = (0..height)
        .flat_map(|y| {
            shot.rgb[(y * width + from) * 3..(y * width + width) * 3]
                .iter()
                .copied()
        })
        .collect();
    Image {
        width: (width - from) as u32,
        height: shot.height,
        rgb,
    }
}

/// Whether the Queue tab's history lists the typed line (it does once the line was heard).
/// OCR of the small editor font misreads a letter now and then ("Orater"), and misses the
/// light grey hints, so only the line's first and last words are looked for, under History.
fn heard(queue_tab: &str) -> bool {
    queue_tab.split_once("History").is_some_and(|(_, history)| {
        history
            .lines()
            .any(|line| line.contains("Typed") && line.contains("Windows"))
    })
}

#[test]
#[ignore = "needs the Windows build and Wine; `cargo xtask test` runs it"]
fn the_windows_standalone_app_opens_speaks_and_serves_under_wine() -> Result<()> {
    let app = app()?;
    ensure!(
        app.is_file(),
        "no {}: run `cargo xtask build-windows`",
        app.display()
    );
    let prefix = std::env::var_os("ORATOR_WINEPREFIX")
        .context("ORATOR_WINEPREFIX must name the test Wine prefix")?;
    let display = Display::start(220)?;
    let x = X::connect(&display.name)?;
    let port = 17_595;
    let wine = Wine(
        Command::new("/usr/lib/wine/wine64")
            .arg(&app)
            .args(orator_tests::DUMMY_BACKEND)
            .env("DISPLAY", &display.name)
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .env("ORATOR_API", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("could not start Wine")?,
        prefix.clone(),
    );

    // The editor's window (Wine makes each top-level Windows window an X window of that title).
    let started = Instant::now();
    let window: u32 = loop {
        let found = display.xdotool(&["search", "--name", "^Orator$"]);
        if let Some(id) = found
            .ok()
            .and_then(|out| out.lines().next()?.trim().parse().ok())
        {
            break id;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the app opened no window named Orator in 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let ocr = artifacts_dir().join("standalone-wine-ocr.png");
    let started = Instant::now();
    let ready = loop {
        std::thread::sleep(Duration::from_millis(500));
        let shot = x.screenshot(window)?;
        let text = shot.read_text(&ocr)?;
        if text.contains("Ready") {
            ensure!(
                shot.distinct_colors() > 20,
                "the window is not drawn ({} colours)",
                shot.distinct_colors()
            );
            shot.save_png(&artifacts_dir().join("standalone-wine.png"))?;
            break text;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the app never showed Ready under Wine; it reads:\n{text}"
        );
    };
    ensure!(ready.contains("joe"), "no voice named:\n{ready}");
    let queue = right_half(&x.screenshot(window)?).read_text(&ocr)?;
    ensure!(
        !heard(&queue),
        "the line is listed before anything was spoken:\n{queue}"
    );

    // Typed into the editor and spoken with Ctrl+Enter: the line goes through the queue into
    // the history, which lists it once it has been heard.
    x.focus(window)?;
    display.xdotool(&["type", "--delay", "30", "Typed into Orator on Windows."])?;
    std::thread::sleep(Duration::from_millis(300));
    display.xdotool(&["key", "ctrl+Return"])?;
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let shot = x.screenshot(window)?;
        let text = right_half(&shot).read_text(&ocr)?;
        if heard(&text) {
            shot.save_png(&artifacts_dir().join("standalone-wine-spoken.png"))?;
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the typed line never reached the history; the queue tab reads:\n{text}"
        );
    }

    // A bot on the Linux side speaks through the app's API and hears it to the end.
    let mut client =
        Client::connect_within(&format!("ws://127.0.0.1:{port}/"), Duration::from_secs(30))?;
    client.request(json!({"request": "Subscribe", "events": {"TextToSpeech": ["*"]}}))?;
    let speech = client.speak("Hello from the Windows app.")?;
    client.event("Playing", &speech, Duration::from_secs(30))?;
    let done = client.event("Finished", &speech, Duration::from_secs(30))?;
    let duration = done["data"]["duration"].as_f64().context("no duration")?;
    ensure!(
        (800.0..4000.0).contains(&duration),
        "the phrase lasted {duration} ms"
    );
    drop(wine);
    Ok(())
}

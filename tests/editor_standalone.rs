//! The standalone app on a virtual X display and a JACK server (the dummy driver keeps real
//! time without a sound card): a user types a line into its editor and presses Ctrl+Enter, and
//! the speech must reach another JACK client connected to the app's outputs, the way a
//! streamer routes Orator into OBS. A screenshot must show the window drawn, with its status
//! line saying the voice is ready.
//!
//! Screenshots are kept in `target/test-artifacts/` (not in git).
//!
//! Linux only: it starts the Linux app and JACK (`wine_standalone.rs` runs the Windows app).
#![cfg(target_os = "linux")]

use anyhow::{Context, Result, bail, ensure};
use orator_tests::display::{Display, X, artifacts_dir};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The standalone app: `$ORATOR_STANDALONE`, else the one `cargo xtask build` puts in
/// `target/bundled/`.
fn standalone_path() -> PathBuf {
    std::env::var_os("ORATOR_STANDALONE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bundled/orator-standalone"),
        PathBuf::from,
    )
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    /// Asks the process to stop (SIGTERM), then kills it if it has not within 5 s (jackd
    /// sometimes hangs on SIGTERM after its clients are gone: 2 of 5 runs here).
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.0.id()) {
            // SAFETY: signals our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a JACK client hears on its two inputs (relaxed atomics written in its process
/// callback).
#[derive(Default)]
struct Counters {
    /// Periods heard.
    periods: AtomicU64,
    /// Periods whose RMS was above the speech threshold.
    loud: AtomicU64,
    /// Non-finite samples heard.
    garbage: AtomicU64,
}

impl Counters {
    fn get(&self) -> (u64, u64, u64) {
        (
            self.periods.load(Relaxed),
            self.loud.load(Relaxed),
            self.garbage.load(Relaxed),
        )
    }
}

/// The editor's Speak button, in the window's coordinates (see `tests/editor_clap.rs`).
const SPEAK_BUTTON: (u32, u32) = (40, 18);

/// Waits until a second passes with no loud period (the phrase has ended).
fn wait_quiet(counters: &Counters) -> Result<()> {
    let started = Instant::now();
    loop {
        let before = counters.get().1;
        std::thread::sleep(Duration::from_secs(1));
        if counters.get().1 == before {
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the speech never ended"
        );
    }
}

#[test]
fn the_standalone_app_speaks_typed_text_into_jack() -> Result<()> {
    let app = standalone_path();
    ensure!(
        app.exists(),
        "no standalone app at {} — run `cargo xtask build`",
        app.display()
    );
    let display = Display::start(120)?;
    let x = X::connect(&display.name)?;

    // A JACK server of our own, so no other client can collide with the app's name. Its name is
    // fixed: a server that did not stop cleanly stays in JACK's shared registry, which holds 8,
    // and only a server of the same name reclaims a dead one's entry. With a name per run, 8
    // unclean stops made every later run fail ("Too many servers already active").
    let server = "orator-test";
    // SAFETY: set before any thread of this test binary (one test) reads the environment; the
    // JACK client library reads it when the capture client opens below.
    unsafe { std::env::set_var("JACK_DEFAULT_SERVER", server) };
    let _jackd = Killed(
        Command::new("jackd")
            .args([
                "--no-realtime",
                "-n",
                server,
                "-d",
                "dummy",
                "-r",
                "48000",
                "-p",
                "512",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("could not start jackd (Debian package `jackd2`)")?,
    );
    let started = Instant::now();
    let (client, _) = loop {
        match jack::Client::new("orator-tap", jack::ClientOptions::NO_START_SERVER) {
            Ok(client) => break client,
            Err(err) if started.elapsed() > Duration::from_secs(10) => {
                bail!(
                    "the JACK server {server:?} did not come up: {err} (is another test run \
                     using it?)"
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let inputs = [
        client.register_port("in_1", jack::AudioIn::default())?,
        client.register_port("in_2", jack::AudioIn::default())?,
    ];
    let counters = Arc::new(Counters::default());
    let heard = counters.clone();
    let tap = client.activate_async(
        (),
        jack::contrib::ClosureProcessHandler::new(move |_, scope| {
            let (mut sum, mut count) = (0.0f64, 0usize);
            for port in &inputs {
                for &s in port.as_slice(scope) {
                    if !s.is_finite() {
                        heard.garbage.fetch_add(1, Relaxed);
                    }
                    sum += f64::from(s) * f64::from(s);
                    count += 1;
                }
            }
            heard.periods.fetch_add(1, Relaxed);
            if count > 0 && (sum / count as f64).sqrt() > 0.005 {
                heard.loud.fetch_add(1, Relaxed);
            }
            jack::Control::Continue
        }),
    )?;

    let mut app = Killed(
        Command::new(&app)
            .args([
                "--backend",
                "jack",
                "--sample-rate",
                "48000",
                "--period-size",
                "512",
            ])
            .env("DISPLAY", &display.name)
            .env("JACK_DEFAULT_SERVER", server)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("could not start the standalone app")?,
    );
    let window = display
        .xdotool(&["search", "--sync", "--name", "^Orator$"])
        .context("the standalone app opened no window")?;
    let window: u32 = window
        .lines()
        .next()
        .context("no window id")?
        .trim()
        .parse()?;
    // Its outputs to our inputs, as OBS's JACK capture would be connected.
    let started = Instant::now();
    loop {
        let connected = ["1", "2"].iter().all(|n| {
            tap.as_client()
                .connect_ports_by_name(&format!("orator:output_{n}"), &format!("orator-tap:in_{n}"))
                .is_ok()
        });
        if connected {
            break;
        }
        ensure!(app.0.try_wait()?.is_none(), "the standalone app exited");
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "the app's JACK ports never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The voice loads; the status line says so.
    let started = Instant::now();
    let ocr = artifacts_dir().join("standalone-ocr.png");
    let text = loop {
        std::thread::sleep(Duration::from_millis(500));
        let text = x.screenshot(window)?.read_text(&ocr)?;
        if text.contains("Ready") {
            break text;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the standalone never showed Ready; it reads:\n{text}"
        );
    };
    ensure!(
        text.contains("joe"),
        "the status line does not name the voice:\n{text}"
    );
    let (_, loud_before, _) = counters.get();
    ensure!(loud_before == 0, "speech before anything was asked for");

    x.focus(window)?;
    display.xdotool(&[
        "type",
        "--delay",
        "30",
        "Streaming from the standalone app.",
    ])?;
    std::thread::sleep(Duration::from_millis(300));
    display.xdotool(&["key", "ctrl+Return"])?;
    let started = Instant::now();
    while counters.get().1 < 20 {
        ensure!(app.0.try_wait()?.is_none(), "the standalone app exited");
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "no speech reached JACK within 30 s ({:?} periods, loud, garbage)",
            counters.get()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "speech reached JACK {:.2} s after Ctrl+Enter",
        started.elapsed().as_secs_f64()
    );
    // Then a click on Speak says it again, from the phrase cache.
    wait_quiet(&counters)?;
    let loud_before_click = counters.get().1;
    let (bx, by) = SPEAK_BUTTON;
    display.xdotool(&[
        "mousemove",
        "--window",
        &window.to_string(),
        &bx.to_string(),
        &by.to_string(),
    ])?;
    std::thread::sleep(Duration::from_millis(200));
    display.xdotool(&["click", "1"])?;
    let started = Instant::now();
    while counters.get().1 < loud_before_click + 20 {
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the Speak button brought no speech to JACK within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "speech reached JACK {:.2} s after the click",
        started.elapsed().as_secs_f64()
    );
    wait_quiet(&counters)?;
    let shot = x.screenshot(window)?;
    shot.save_png(&artifacts_dir().join("standalone.png"))?;
    ensure!(
        shot.distinct_colors() > 20,
        "the window looks blank ({} colours)",
        shot.distinct_colors()
    );
    let text = shot.read_text(&ocr)?;
    ensure!(
        text.contains("Streaming from the standalone"),
        "the typed line is not shown:\n{text}"
    );
    let (periods, loud, garbage) = counters.get();
    ensure!(garbage == 0, "{garbage} non-finite samples reached JACK");
    eprintln!("JACK periods {periods}, with speech {loud}");
    tap.deactivate()?;
    Ok(())
}

//! The project's subtitles through a real CLAP host, on a virtual X display. The host exports a
//! project (offline, its transport playing) whose notes speak three phrases, one cut short by
//! its note-off; then it plays one passage again with a note moved. A user (xdotool) clicks
//! "Export subtitles…" and "Export here" in the editor. The SRT and WebVTT it writes, read by
//! ffprobe (an independent parser), must hold each phrase's cue at its place in the project:
//! `orator say --srt` of the same line at the host's rate, moved to the note's sample, to the
//! millisecond; the cut phrase's cue ends at its note-off without its later words; the moved
//! note's phrase is only at its new place.
//!
//! Screenshots are kept in `target/test-artifacts/` (not in git).

use anyhow::{Context, Result, ensure};
use orator_tests::display::{Display, X, artifacts_dir};
use orator_tests::{LoadedPlugin, Note, ParamChange, Transport, bundle_path, cli_path};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;
const TEXT: &str = "Take one.\nThe second phrase is a little longer.\nThree.";

/// A note of the project: its key (60: phrase 1), where it starts and, if it is let go while
/// its phrase speaks, where.
struct Placed {
    key: u8,
    on: usize,
    off: Option<usize>,
}

fn seconds(s: f64) -> usize {
    (s * RATE) as usize
}

/// Plays the project from `from` to `to` (samples) with `notes`, the transport playing, then
/// one block stopped.
fn play(
    plugin: &mut LoadedPlugin,
    from: usize,
    to: usize,
    notes: &[Placed],
    first: &[ParamChange],
) -> Result<()> {
    let silence = vec![0.0f32; BLOCK];
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut position = from;
    while position < to {
        let end = position + BLOCK;
        let mut events = Vec::new();
        for note in notes {
            for (at, on) in [(Some(note.on), true), (note.off, false)] {
                if let Some(at) = at.filter(|&at| (position..end).contains(&at)) {
                    events.push(Note {
                        time: (at - position) as u32,
                        key: note.key,
                        velocity: 1.0,
                        on,
                    });
                }
            }
        }
        let changes = if position == from { first } else { &[] };
        plugin.process_with(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            changes,
            &events,
            Some(Transport {
                playing: true,
                position: position as i64,
            }),
        )?;
        position = end;
    }
    plugin.process_with(
        &[&silence, &silence],
        None,
        &mut [&mut left, &mut right],
        &[],
        &[],
        Some(Transport {
            playing: false,
            position: position as i64,
        }),
    )?;
    Ok(())
}

/// Keeps the host's main thread and audio going (stopped) for `seconds`.
fn idle(plugin: &mut LoadedPlugin, seconds: f64) -> Result<()> {
    let silence = vec![0.0f32; BLOCK];
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        plugin.pump();
        plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &[],
        )?;
        std::thread::sleep(Duration::from_secs_f64(BLOCK as f64 / RATE));
    }
    Ok(())
}

/// Clicks `text` (a button's words) in `window` once the editor shows it (up to 20 s).
fn click_text(
    plugin: &mut LoadedPlugin,
    display: &Display,
    x: &X,
    window: u32,
    text: &str,
) -> Result<()> {
    let started = Instant::now();
    let scratch = artifacts_dir().join("subtitles-clap-ocr.png");
    loop {
        idle(plugin, 0.5)?;
        let shot = x.screenshot(window)?;
        if let Some((cx, cy)) = shot.find_text(text, &scratch)? {
            display.xdotool(&[
                "mousemove",
                "--window",
                &window.to_string(),
                &cx.to_string(),
                &cy.to_string(),
            ])?;
            idle(plugin, 0.2)?;
            display.xdotool(&["click", "1"])?;
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(20) {
            shot.save_png(&artifacts_dir().join("subtitles-clap-missing.png"))?;
            anyhow::bail!(
                "the editor never showed {text:?}; it reads:\n{}",
                shot.read_text(&scratch)?
            );
        }
    }
}

/// Each cue's (start, end) in seconds, as ffprobe reads the file.
fn cue_times(file: &Path) -> Result<Cues> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=pts_time,duration_time",
        ])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .context("could not run ffprobe (Debian package `ffmpeg`)")?;
    ensure!(
        out.status.success(),
        "ffprobe could not read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split(',').map(|c| c.trim().parse::<f64>());
            match (cols.next(), cols.next()) {
                (Some(Ok(start)), Some(Ok(length))) => Ok((start, start + length)),
                _ => anyhow::bail!("ffprobe printed {line:?}"),
            }
        })
        .collect()
}

/// Cues as (start, end) seconds.
type Cues = Vec<(f64, f64)>;

/// Words as (start, end) samples.
type Words = Vec<(u64, u64)>;

/// The cues `orator say` writes for `line` alone at the host's rate, and its words' spans in
/// samples of its output.
fn said(line: &str, dir: &Path) -> Result<(Cues, Words)> {
    let srt = dir.join("said.srt");
    let timings = dir.join("said.json");
    let out = Command::new(cli_path())
        .arg("say")
        .args(["--sample-rate", "48000", "--out"])
        .arg(dir.join("said.wav"))
        .arg("--srt")
        .arg(&srt)
        .arg("--timings")
        .arg(&timings)
        .arg(line)
        .output()
        .with_context(|| format!("could not run {}", cli_path().display()))?;
    ensure!(
        out.status.success(),
        "orator say failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&timings)?)?;
    let words = json["words"]
        .as_array()
        .context("no words in the timings")?
        .iter()
        .map(|w| {
            let n = |k: &str| w[k].as_u64().context("a word without its samples");
            Ok((n("start_sample")?, n("end_sample")?))
        })
        .collect::<Result<_>>()?;
    Ok((cue_times(&srt)?, words))
}

/// The virtual desktop a user clicks in, and the home folder the editor's picker opens in.
struct Desktop<'a> {
    display: &'a Display,
    x: &'a X,
    home: &'a Path,
}

impl Desktop<'_> {
    /// Opens `plugin`'s editor, clicks "Export subtitles…" and "Export here", waits for the
    /// files and closes the editor; returns the SRT and WebVTT paths (`subtitles.*` in the
    /// home folder). `shot` names the screenshot kept.
    fn export(&self, plugin: &mut LoadedPlugin, shot: &str) -> Result<(PathBuf, PathBuf)> {
        let (srt, vtt) = (
            self.home.join("subtitles.srt"),
            self.home.join("subtitles.vtt"),
        );
        for file in [&srt, &vtt] {
            let _ = std::fs::remove_file(file);
        }
        let parent = self.x.create_window(1100, 760)?;
        plugin.open_editor(parent)?;
        click_text(plugin, self.display, self.x, parent, "Export subtitles")?;
        click_text(plugin, self.display, self.x, parent, "Export here")?;
        let started = Instant::now();
        while !(srt.exists() && vtt.exists()) {
            if started.elapsed() > Duration::from_secs(10) {
                let shot = self.x.screenshot(parent)?;
                shot.save_png(&artifacts_dir().join("subtitles-clap-missing.png"))?;
                anyhow::bail!(
                    "no subtitles were written to {}; the editor reads:\n{}",
                    self.home.display(),
                    shot.read_text(&artifacts_dir().join("subtitles-clap-ocr.png"))?
                );
            }
            idle(plugin, 0.2)?;
        }
        self.x
            .screenshot(parent)?
            .save_png(&artifacts_dir().join(format!("subtitles-clap-{shot}.png")))?;
        plugin.close_editor()?;
        Ok((srt, vtt))
    }
}

#[test]
fn exported_subtitles_put_each_phrase_at_its_place_in_the_project() -> Result<()> {
    let home = std::env::temp_dir().join(format!("orator-subtitles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home)?;
    let display = Display::start(92)?;
    // SAFETY: set before the plugin is loaded and before this test binary (one test) starts
    // any other thread that reads the environment; the editor's picker opens in HOME.
    unsafe {
        std::env::set_var("DISPLAY", &display.name);
        std::env::set_var("HOME", &home);
    }
    let x = X::connect(&display.name)?;

    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text(TEXT)?;
    plugin.set_offline(true)?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let note_off = plugin.param("Note Off")?.id;
    let stop = plugin.value_from_text(note_off, "Stop the phrase")?;
    let first = [ParamChange {
        id: note_off,
        value: stop,
        time: 0,
    }];

    // The export: phrase 1 at 1 s, phrase 2 at 3 s let go at 4.2 s, phrase 3 at 6 s.
    let (one, two, cut, three) = (
        seconds(1.0) + 100,
        seconds(3.0) + 7,
        seconds(4.2),
        seconds(6.0),
    );
    let exported = [
        Placed {
            key: 60,
            on: one,
            off: None,
        },
        Placed {
            key: 61,
            on: two,
            off: Some(cut),
        },
        Placed {
            key: 62,
            on: three,
            off: None,
        },
    ];
    play(&mut plugin, 0, seconds(8.0), &exported, &first)?;
    // Phrase 3's note moved to 7.5 s; the passage from 5 s played again.
    let moved = seconds(7.5) + 300;
    play(
        &mut plugin,
        seconds(5.0),
        seconds(9.0),
        &[Placed {
            key: 62,
            on: moved,
            off: None,
        }],
        &[],
    )?;

    // The user exports the subtitles from the editor.
    let desktop = Desktop {
        display: &display,
        x: &x,
        home: &home,
    };
    let (srt, vtt) = desktop.export(&mut plugin, "exported")?;

    let srt_text = std::fs::read_to_string(&srt)?;
    eprintln!("{srt_text}");
    let cues = cue_times(&srt)?;
    ensure!(
        cues == cue_times(&vtt)?,
        "the SRT and the WebVTT differ: {cues:?}"
    );

    // Each phrase's cue where `orator say` puts it, moved to its note.
    let lines: Vec<&str> = TEXT.lines().collect();
    let at = |sample: usize| sample as f64 / RATE;
    let shifted = |line: &str, start: usize| -> Result<Cues> {
        Ok(said(line, &home)?
            .0
            .into_iter()
            .map(|(s, e)| (s + at(start), e + at(start)))
            .collect())
    };
    let first_line = shifted(lines[0], one)?;
    let third = shifted(lines[2], moved)?;
    ensure!(
        cues.len() == first_line.len() + 1 + third.len(),
        "{} cues, expected {} + 1 + {}: {cues:?}",
        cues.len(),
        first_line.len(),
        third.len()
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 0.0015;
    let mut expected: Cues = first_line.clone();
    // The cut phrase: its words that started before the note-off, the last ending there.
    let (_, words) = said(lines[1], &home)?;
    let cut_in = (cut - two) as u64;
    let heard: Words = words.into_iter().filter(|w| w.0 < cut_in).collect();
    let (first_word, last_word) = (
        heard.first().context("no word before the cut")?,
        heard.last().context("no word before the cut")?,
    );
    let start = at(two) + first_word.0 as f64 / RATE;
    let end = at(two) + last_word.1.min(cut_in) as f64 / RATE;
    expected.push((start, end.max(start + 0.7)));
    expected.extend(&third);
    for (got, want) in cues.iter().zip(&expected) {
        ensure!(
            close(got.0, want.0) && close(got.1, want.1),
            "cue {got:?}, expected {want:?}\nall: {cues:?}\nexpected: {expected:?}"
        );
    }
    ensure!(
        srt_text.contains("Take one.") && srt_text.contains("Three."),
        "the phrases' words are missing:\n{srt_text}"
    );
    ensure!(
        srt_text.contains("The second") && !srt_text.contains("longer"),
        "the cut phrase should show only the words before its note-off:\n{srt_text}"
    );
    ensure!(
        !cues.iter().any(|&(s, _)| (s - at(three)).abs() < 0.5),
        "phrase 3 is still at its old place: {cues:?}"
    );
    eprintln!(
        "{} cues; phrase 1 at {:.3} s, phrase 2 {:.3}–{:.3} s, phrase 3 at {:.3} s",
        cues.len(),
        cues[0].0,
        cues[1].0,
        cues[1].1,
        cues[2].0
    );

    // The placements are saved with the project: a fresh instance that loads the state (and
    // renders its phrases again) exports the same subtitles.
    let state = plugin.save_state()?;
    let mut reopened = LoadedPlugin::load(&bundle_path())?;
    reopened.load_state(&state)?;
    reopened.activate(RATE, 1, BLOCK as u32)?;
    let mut again = String::new();
    for _ in 0..3 {
        // Time for the bank to render the three phrases (their words come with them).
        idle(&mut reopened, 4.0)?;
        let (srt, _) = desktop.export(&mut reopened, "reopened")?;
        again = std::fs::read_to_string(&srt)?;
        if again == srt_text {
            break;
        }
    }
    ensure!(
        again == srt_text,
        "the reopened project exports other subtitles:\n{again}"
    );
    eprintln!("the reopened project exports the same subtitles");
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}

//! Memory bounds for text built to be expensive: each input the API or the editor accepts is
//! rendered by the release CLI as shipped (`orator say`, the same engine the plugin and the
//! server run), in a child process whose peak RSS the kernel reports when it ends (`wait4`).
//! The bound holds for the default voice, whatever the text, the rate or `--whole-sentences`.
//! The CLI keeps its whole output to write the WAV (a client of the server gets it as it is
//! made); that copy, its size known from the file, is not the engine's and is left out.
//!
//! Linux only: the peak comes from `wait4`'s resource usage.
#![cfg(target_os = "linux")]

use anyhow::{Context, Result, ensure};
use std::path::PathBuf;
use std::process::Command;

/// The most any render may take, MiB of peak RSS (the whole process: runtime, voice, audio).
const PEAK_MIB: u64 = 250;

fn cli() -> PathBuf {
    std::env::var_os("ORATOR_CLI").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bundled/orator"),
        PathBuf::from,
    )
}

/// `n` characters (at most) of comma-grouped nine-digit numbers, counting down: they pass the
/// chat filter and read as long runs of words with no clause end.
fn digit_groups(chars: usize) -> String {
    let mut text = String::new();
    for n in (0..999_999_300u64).rev() {
        let group = format!("{},{:03},{:03} ", n / 1_000_000, n / 1000 % 1000, n % 1000);
        if text.len() + group.len() > chars {
            break;
        }
        text.push_str(&group);
    }
    text.trim_end().to_owned()
}

/// What a render cost: the child's peak RSS and its output's size, MiB, and the audio's
/// length, seconds.
struct Cost {
    peak: u64,
    output: u64,
    seconds: f64,
}

/// Renders `text` with `args` to a WAV in a child process.
fn render(text: &str, args: &[&str]) -> Result<Cost> {
    let out = std::env::temp_dir().join(format!("orator-memory-{}.wav", std::process::id()));
    let child = Command::new(cli())
        .arg("say")
        .arg("--out")
        .arg(&out)
        .args(args)
        .arg(text)
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("could not start {}", cli().display()))?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with valid out-pointers; `child` is not waited on again.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    ensure!(waited == pid, "wait4 failed");
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "orator say {args:?} failed (status {status})"
    );
    let reader = hound::WavReader::open(&out)?;
    let spec = reader.spec();
    let seconds = f64::from(reader.duration()) / f64::from(spec.sample_rate);
    let output = (u64::from(reader.duration())
        * u64::from(spec.channels)
        * u64::from(spec.bits_per_sample / 8))
        >> 20;
    drop(reader);
    let _ = std::fs::remove_file(&out);
    Ok(Cost {
        // ru_maxrss is in KiB on Linux.
        peak: u64::try_from(usage.ru_maxrss)? / 1024,
        output,
        seconds,
    })
}

#[test]
fn no_text_takes_the_process_past_its_bound() -> Result<()> {
    let prose = "The river bends twice before the mill, and every spring the water rises \
                 over the lower path, so walkers take the long way round by the old chapel. "
        .repeat(30);
    let prose: String = prose.chars().take(4096).collect();
    let clause = "and the next word follows the last one without a pause ".repeat(20);
    let clause: String = clause.chars().take(1000).collect();
    let cases: [(&str, String, &[&str]); 5] = [
        ("500 characters of digit groups", digit_groups(500), &[]),
        // At rate 0.25 a run holds four times the frames per phoneme; 150 characters of
        // groups (over three minutes of speech) took 1.1 GB when read in one run.
        (
            "150 characters of digit groups at rate 0.25",
            digit_groups(150),
            &["--rate", "0.25"],
        ),
        (
            "150 characters of digit groups, whole sentences, rate 0.25",
            digit_groups(150),
            &["--whole-sentences", "--rate", "0.25"],
        ),
        ("4096 characters of prose", prose, &[]),
        (
            "a 1000-character clause, whole sentences, rate 0.25",
            clause,
            &["--whole-sentences", "--rate", "0.25"],
        ),
    ];
    let mut report = Vec::new();
    for (name, text, args) in &cases {
        let cost = render(text, args)?;
        eprintln!(
            "{name}: peak {} MiB, of which the CLI's output {} MiB; {:.1} s of audio",
            cost.peak, cost.output, cost.seconds
        );
        report.push((name, cost));
    }
    for (name, cost) in &report {
        let engine = cost.peak.saturating_sub(cost.output);
        ensure!(
            engine <= PEAK_MIB,
            "{name}: peak RSS {engine} MiB without the output, bound {PEAK_MIB} MiB"
        );
    }
    Ok(())
}

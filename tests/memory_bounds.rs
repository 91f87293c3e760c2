//! Memory bounds for text built to be expensive: each input the API or the editor accepts is
//! rendered by the release CLI as shipped (`orator say`, the same engine the plugin and the
//! server run), in a child process whose peak RSS the kernel reports when it ends (`wait4`).
//! The bound holds for the default voice, whatever the text, the rate or `--whole-sentences`.
//! The CLI keeps its whole output to write the WAV; that copy, its size known from the file,
//! is not the engine's and is left out. The server sends its responses as it makes them.
//!
//! A voice's first load on a machine builds its voice cache; every later process maps it. The
//! renders run on a voice cache of their own, so the first of them is such a first load, and
//! it is given the most expensive text: the bound holds for the first load as for every later
//! one.
//!
//! A long-lived process must also give the memory back: `orator serve` renders the same inputs
//! over HTTP one after another, and its resident size (`/proc/<pid>/status`) after each is
//! within [`RETURN_MIB`] of its idle size (after a first line), and its peak stays within the
//! same bound.
//!
//! Linux only: the peak comes from `wait4`'s resource usage, the resident size from `/proc`.
#![cfg(target_os = "linux")]

use anyhow::{Context, Result, ensure};
use std::path::PathBuf;
use std::process::Command;

/// The most any render may take, MiB of peak RSS (the whole process: runtime, voice, audio):
/// 250 MB.
const PEAK_MIB: u64 = 238;

/// How far above its idle size a server may stay after a render, MiB: 20 MB.
const RETURN_MIB: u64 = 19;

fn cli() -> PathBuf {
    orator_tests::cli_path()
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

/// A voice cache folder of the test's own (`ORATOR_VOICE_CACHE` for the children), removed
/// when dropped.
struct Cache(PathBuf);

impl Cache {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("orator-memory-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Renders `text` with `args` to a WAV in a child process whose voice cache is `cache`.
fn render(cache: &Cache, text: &str, args: &[&str]) -> Result<Cost> {
    let out = std::env::temp_dir().join(format!("orator-memory-{}.wav", std::process::id()));
    let child = Command::new(cli())
        .env("ORATOR_VOICE_CACHE", &cache.0)
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

/// 4096 characters of prose.
fn prose() -> String {
    "The river bends twice before the mill, and every spring the water rises over the lower \
     path, so walkers take the long way round by the old chapel. "
        .repeat(30)
        .chars()
        .take(4096)
        .collect()
}

#[test]
fn no_text_takes_the_process_past_its_bound() -> Result<()> {
    let prose = prose();
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
    let cache = Cache::new()?;
    let mut report = Vec::new();
    for (n, (name, text, args)) in cases.iter().enumerate() {
        let cost = render(&cache, text, args)?;
        let load = if n == 0 {
            " (the voice's first load)"
        } else {
            ""
        };
        eprintln!(
            "{name}{load}: peak {} MiB, of which the CLI's output {} MiB; {:.1} s of audio",
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

/// A field of `/proc/<pid>/status` in MiB (`VmRSS`, `VmHWM`).
fn status_mib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kib / 1024)
}

/// One OpenAI speech request to the server on `port`; the HTTP status and the response's
/// length.
fn speech(port: u16, input: &str, speed: f64) -> Result<(u16, usize)> {
    use orator_tests::http;
    let body = serde_json::json!({"model": "tts-1", "input": input, "speed": speed});
    let response = http::read_response(&mut http::send_speech(port, &body)?);
    let code = http::status(&response).context("no HTTP status in the response")?;
    Ok((code, response.len()))
}

/// A server child, killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_server_gives_the_memory_back_after_each_large_render() -> Result<()> {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(cli())
        .args(["serve", "--udp-port", "0", "--port", &port.to_string()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", cli().display()))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let server = Server(child);
    let mut line = String::new();
    std::io::BufReader::new(stderr).read_line(&mut line)?;
    ensure!(line.contains("listening"), "the server said {line:?}");
    let pid = server.0.id();
    // Idle: the voice loaded and the decoder's largest window decoded once (a phrase of a few
    // seconds reaches it), as in any session after its first lines.
    let warm = "A first line loads the voice. The river bends twice before the mill, and every \
                spring the water rises over the lower path.";
    ensure!(speech(port, warm, 1.0)?.0 == 200);
    let idle = status_mib(pid, "VmRSS")?;
    let cases = [
        ("500 characters of digit groups", digit_groups(500), 1.0),
        ("4096 characters of prose", prose(), 1.0),
        (
            "150 characters of digit groups at speed 0.25",
            digit_groups(150),
            0.25,
        ),
    ];
    let mut report = Vec::new();
    for (name, text, speed) in &cases {
        let (code, bytes) = speech(port, text, *speed)?;
        ensure!(code == 200, "{name}: HTTP {code}");
        let after = status_mib(pid, "VmRSS")?;
        let peak = status_mib(pid, "VmHWM")?;
        eprintln!(
            "{name}: {} MiB of response; resident {after} MiB after it (idle {idle} MiB), \
             peak so far {peak} MiB",
            bytes >> 20
        );
        report.push((name, after, peak));
    }
    for (name, after, peak) in report {
        ensure!(
            after <= idle + RETURN_MIB,
            "{name}: resident {after} MiB after the render, idle {idle} MiB (bound +{RETURN_MIB})"
        );
        ensure!(
            peak <= PEAK_MIB,
            "{name}: the server's peak RSS {peak} MiB, bound {PEAK_MIB} MiB"
        );
    }
    Ok(())
}

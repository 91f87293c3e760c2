//! The local API through the built plugin in a real CLAP host, driven by a real WebSocket client
//! (tungstenite) while the host calls `process()` at real-time pace: a Streamer.bot session
//! (GetInfo, Subscribe, Speak and its events, Pause/Resume, Stop, Clear), refusals that speak
//! nothing, and a flood of clients against the allocation-checking build.
//!
//! One server per process: the scenarios sharing a bundle run one at a time.

use anyhow::{Context, Result, bail, ensure};
use orator_tests::signal::all_clean;
use orator_tests::speakerbot::{Client, EPOCH};
use orator_tests::{LoadedPlugin, alloc_check_bundle_path, bundle_path, with_session};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::Message;

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A plugin with the API enabled on `port` (and `token`), activated.
fn plugin_with_api(bundle: &std::path::Path, port: u16, token: &str) -> Result<LoadedPlugin> {
    let mut plugin = LoadedPlugin::load(bundle)?;
    let session = json!({
        "schema": 3,
        "text": "",
        "api": {"enabled": true, "port": port, "udp_port": 0, "token": token},
    });
    let state = with_session(&plugin.save_state()?, &session.to_string())?;
    plugin.load_state(&state)?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    Ok(plugin)
}

/// Runs the plugin at real-time pace until `client` ends; returns the left output channel and
/// what the client returned.
fn run_with<T: Send + 'static>(
    plugin: &mut LoadedPlugin,
    limit: Duration,
    client: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<(Vec<f32>, T)> {
    run_timed(plugin, limit, client).map(|(out, t, _, _)| (out, t))
}

/// What [`run_timed`] gives: the output, the client's result, when the first sound came out,
/// and when each block's `process()` returned (ms from `EPOCH`).
type Timed<T> = (Vec<f32>, T, Option<Instant>, Vec<f64>);

/// [`run_with`], also returning when `process()` first put out a sound and when each block
/// was played.
fn run_timed<T: Send + 'static>(
    plugin: &mut LoadedPlugin,
    limit: Duration,
    client: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<Timed<T>> {
    let handle: JoinHandle<Result<T>> = std::thread::spawn(client);
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let mut out = Vec::new();
    let block_time = Duration::from_secs_f64(BLOCK as f64 / RATE);
    let started = Instant::now();
    let mut next = started;
    let mut first_sound = None;
    // When each block's `process()` returned, in ms from `EPOCH`.
    let mut blocks = Vec::new();
    while !handle.is_finished() {
        ensure!(
            started.elapsed() < limit,
            "the client did not finish in {limit:?}"
        );
        plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &[],
        )?;
        ensure!(all_clean(&left), "the output holds NaN or subnormals");
        if first_sound.is_none() && left.iter().any(|&x| x != 0.0) {
            first_sound = Some(Instant::now());
        }
        out.extend_from_slice(&left);
        blocks.push(
            Instant::now()
                .saturating_duration_since(*EPOCH)
                .as_secs_f64()
                * 1e3,
        );
        next += block_time;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let result = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the client thread panicked"))??;
    Ok((out, result, first_sound, blocks))
}

/// The non-silent stretches of `x` (gaps shorter than `gap` samples join).
fn spans(x: &[f32], gap: usize) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, v) in x.iter().enumerate() {
        if v.abs() > 1e-4 {
            match spans.last_mut() {
                Some(last) if i - last.1 <= gap => last.1 = i,
                _ => spans.push((i, i)),
            }
        }
    }
    spans
}

#[test]
fn a_streamer_bot_session_speaks_pauses_stops_and_clears() -> Result<()> {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port = 17_581;
    let mut plugin = plugin_with_api(&bundle_path(), port, "")?;
    let spoke_at = Arc::new(Mutex::new(None::<Instant>));
    let spoke = spoke_at.clone();
    let (out, (durations, first_event), first_sound, blocks) = run_timed(
        &mut plugin,
        Duration::from_secs(120),
        move || {
            let mut c = Client::connect(&format!("ws://127.0.0.1:{port}/"))?;
            let info = c.request(json!({"request": "GetInfo"}))?;
            ensure!(
                info["status"] == "ok" && info["info"]["name"] == "Orator",
                "{info}"
            );
            let sub =
                c.request(json!({"request": "Subscribe", "events": {"TextToSpeech": ["*"]}}))?;
            ensure!(
                sub["events"]["TextToSpeech"]
                    .as_array()
                    .is_some_and(|a| a.len() == 6),
                "{sub}"
            );

            // Speak and its events; the duration is the phrase as heard.
            *spoke.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            let sent = Instant::now();
            let first = c.speak("Thanks for the follow!")?;
            c.event("TextQueued", &first, Duration::from_secs(5))?;
            c.event("Playing", &first, Duration::from_secs(10))?;
            let playing_after = sent.elapsed();
            // Its words, each as it starts being heard.
            let mut words = Vec::new();
            for _ in 0..4 {
                words.push(c.event("Word", &first, Duration::from_secs(10))?);
            }
            let done = c.event("Finished", &first, Duration::from_secs(20))?;
            let plain = done["data"]["duration"].as_f64().context("no duration")?;
            let texts: Vec<&str> = words
                .iter()
                .filter_map(|w| w["data"]["word"]["text"].as_str())
                .collect();
            ensure!(texts == ["Thanks", "for", "the", "follow"], "{texts:?}");
            let arrivals: Vec<f64> = words
                .iter()
                .map(|w| w["arrived"].as_f64().unwrap_or(f64::NAN))
                .collect();
            let spans: Vec<(f64, f64)> = words
                .iter()
                .map(|w| {
                    let word = &w["data"]["word"];
                    (
                        word["start"].as_f64().unwrap_or(f64::NAN),
                        word["end"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect();

            // The same phrase with a one-second pause in it lasts a second longer. (A moment
            // of silence first keeps the first phrase apart in what was heard.)
            std::thread::sleep(Duration::from_millis(600));
            let second = c.speak("Thanks for the follow!")?;
            c.event("Playing", &second, Duration::from_secs(10))?;
            std::thread::sleep(Duration::from_millis(300));
            ensure!(c.request(json!({"request": "Pause"}))?["status"] == "ok");
            std::thread::sleep(Duration::from_millis(1000));
            ensure!(c.request(json!({"request": "Resume"}))?["status"] == "ok");
            let done = c.event("Finished", &second, Duration::from_secs(20))?;
            let paused = done["data"]["duration"].as_f64().context("no duration")?;

            // Stop ends the phrase heard.
            let long = c.speak("This is a much longer message that would take several seconds to read aloud in full, so it gets stopped.")?;
            c.event("Playing", &long, Duration::from_secs(10))?;
            ensure!(c.request(json!({"request": "Stop"}))?["status"] == "ok");
            c.event("Deleted", &long, Duration::from_secs(5))?;

            // Clear drops what waits; the phrase heard plays on.
            let a = c.speak("First in line, and this one plays to the end.")?;
            let b = c.speak("Second in line.")?;
            let d = c.speak("Third in line.")?;
            c.event("Playing", &a, Duration::from_secs(10))?;
            ensure!(c.request(json!({"request": "Clear"}))?["status"] == "ok");
            c.event("Deleted", &b, Duration::from_secs(5))?;
            c.event("Deleted", &d, Duration::from_secs(5))?;
            c.event("Finished", &a, Duration::from_secs(20))?;

            // Malformed and unknown requests get an error reply and speak nothing.
            c.ws.send(Message::text("{not json"))?;
            let bad = c
                .read(Duration::from_secs(5))?
                .context("no reply to malformed JSON")?;
            ensure!(
                bad["status"] == "error"
                    && bad["error"].as_str().is_some_and(|e| e.contains("JSON")),
                "{bad}"
            );
            let unknown = c.request(json!({"request": "FormatDisk"}))?;
            ensure!(unknown["status"] == "error", "{unknown}");
            ensure!(
                c.read(Duration::from_millis(1500))?.is_none(),
                "something was queued"
            );
            Ok(((plain, paused, spans, arrivals), playing_after))
        },
    )?;
    let (plain, paused, word_spans, arrivals) = durations;
    // The first phrase as heard: its samples from the first to the last that sound.
    let first_span = spans(&out, (0.25 * RATE) as usize);
    let (start, end) = *first_span.first().context("nothing was heard")?;
    let heard_ms = (end - start) as f64 / RATE * 1e3;
    // The words' times against the output samples: placed by the first word's onset, the
    // phrase's energy lies inside the words' spans (to within 10 ms).
    let phrase_start = start as f64 - word_spans[0].0 / 1e3 * RATE;
    let sample = |ms: f64| (phrase_start + ms / 1e3 * RATE).max(0.0) as usize;
    let energy = |a: usize, b: usize| {
        out[a.min(out.len())..b.min(out.len())]
            .iter()
            .map(|&x| f64::from(x).powi(2))
            .sum::<f64>()
    };
    let slack = (0.010 * RATE) as usize;
    let whole = energy(start, end + 1);
    // The spans widened by the slack, overlaps merged so no sample counts twice.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for &(a, b) in &word_spans {
        let (a, b) = (sample(a).saturating_sub(slack), sample(b) + slack);
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let inside: f64 = merged.iter().map(|&(a, b)| energy(a, b)).sum();
    eprintln!(
        "{:.2} % of the first phrase's energy inside its words' spans",
        inside / whole * 100.0
    );
    // Sent as heard, never before: each Word event arrived after `process()` had played the
    // block holding its word's start (less one block, for placing the phrase by the first
    // word's onset). How late it came depends on the machine's load; it is printed only.
    let mut late = Vec::new();
    for (&(start_ms, _), &arrived) in word_spans.iter().zip(&arrivals) {
        let block = sample(start_ms) / BLOCK;
        let played = *blocks.get(block).context("a word past the end")?;
        let before = blocks[block.saturating_sub(1)];
        ensure!(
            arrived >= before,
            "a Word event came {:.1} ms before its word was played",
            before - arrived
        );
        late.push(arrived - played);
    }
    eprintln!("Word events after the block holding the word's start: {late:.1?} ms");
    ensure!(
        inside / whole > 0.97,
        "only {:.3} of the energy inside the words' spans",
        inside / whole
    );
    let sent = spoke_at
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .context("Speak was never sent")?;
    let to_sound = first_sound
        .context("no sound")?
        .saturating_duration_since(sent);
    eprintln!(
        "Finished duration {plain:.0} ms, heard {heard_ms:.0} ms; paused {paused:.0} ms; \
         Speak request to first sample out of process() {:.1} ms, to the Playing event {:.1} ms",
        to_sound.as_secs_f64() * 1e3,
        first_event.as_secs_f64() * 1e3
    );
    ensure!(
        plain >= heard_ms && plain - heard_ms < 400.0,
        "duration {plain} ms against {heard_ms} ms heard"
    );
    ensure!(
        (800.0..1600.0).contains(&(paused - plain)),
        "the pause added {} ms",
        paused - plain
    );
    Ok(())
}

#[test]
fn refusals_are_clear_and_speak_nothing() -> Result<()> {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port = 17_582;
    let mut plugin = plugin_with_api(&bundle_path(), port, "s3cret")?;
    let (out, ()) = run_with(&mut plugin, Duration::from_secs(60), move || {
        let url = format!("ws://127.0.0.1:{port}/");
        // Wait for the server.
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(started.elapsed() < Duration::from_secs(10), "no server");
            std::thread::sleep(Duration::from_millis(50));
        }
        // No token, a wrong token: 401.
        for url in [url.clone(), format!("{url}?token=wrong")] {
            match tungstenite::connect(url.as_str()) {
                Err(tungstenite::Error::Http(r)) => ensure!(r.status() == 401, "{:?}", r.status()),
                other => bail!("{url}: expected 401, got {:?}", other.map(|_| ())),
            }
        }
        // A web page's Origin: 403, even with the token.
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(
            format!("{url}?token=s3cret").as_str(),
        )?;
        request
            .headers_mut()
            .insert("Origin", "https://evil.example".parse()?);
        match tungstenite::connect(request) {
            Err(tungstenite::Error::Http(r)) => ensure!(r.status() == 403, "{:?}", r.status()),
            other => bail!("cross-site: expected 403, got {:?}", other.map(|_| ())),
        }
        // A non-JSON POST (what a form on a web page can send): 415.
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        std::io::Write::write_all(
            &mut s,
            format!(
                "POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer s3cret\r\n\
                 Content-Type: text/plain\r\nContent-Length: 15\r\n\r\n{{\"input\":\"hi\"}}"
            )
            .as_bytes(),
        )?;
        let mut reply = String::new();
        std::io::Read::read_to_string(&mut s, &mut reply)?;
        ensure!(reply.starts_with("HTTP/1.1 415"), "{reply}");
        // With the token: an oversize message closes the connection; nothing is spoken.
        let mut c = Client::connect(&format!("{url}?token=s3cret"))?;
        let sub = c.request(json!({"request": "Subscribe", "events": {"TextToSpeech": ["*"]}}))?;
        ensure!(sub["status"] == "ok");
        let huge = json!({"id": "big", "request": "Speak", "message": "a".repeat(100_000)});
        let _ = c.ws.send(Message::text(huge.to_string()));
        ensure!(
            c.read(Duration::from_secs(3)).is_err(),
            "an oversize message must close the connection"
        );
        let mut c = Client::connect(&format!("{url}?token=s3cret"))?;
        let long = c.request(json!({"request": "Speak", "message": "b".repeat(5000)}))?;
        ensure!(long["status"] == "error", "{long}");
        let empty = c.request(json!({"request": "Speak", "message": "ｺﾝﾆﾁﾊ 世界 !!!"}))?;
        ensure!(
            empty["status"] == "error"
                && empty["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("nothing readable")),
            "{empty}"
        );
        std::thread::sleep(Duration::from_millis(1500));
        Ok(())
    })?;
    ensure!(
        out.iter().all(|&x| x == 0.0),
        "a refused request made a sound"
    );
    Ok(())
}

/// One flooding client: the ids it got accepted and how many requests were refused.
type FloodClient = JoinHandle<Result<(Vec<Value>, usize)>>;

/// Several clients flood the server while the plugin plays at real-time pace. Every accepted
/// phrase must be heard to its end; the rest must be refused for the queue or the rate.
fn flood(bundle: &std::path::Path, port: u16, clients: usize, each: usize) -> Result<Value> {
    let mut plugin = plugin_with_api(bundle, port, "")?;
    let (_, (accepted, refused, info)) = run_with(
        &mut plugin,
        Duration::from_secs(300),
        move || {
            let url = format!("ws://127.0.0.1:{port}/");
            let mut watcher = Client::connect(&url)?;
            watcher.request(json!({"request": "Subscribe", "events": {"TextToSpeech": ["Finished", "Deleted", "Error"]}}))?;
            let floods: Vec<FloodClient> = (0..clients)
            .map(|n| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let mut c = Client::connect(&url)?;
                    let mut accepted = Vec::new();
                    let mut refused = 0;
                    for i in 0..each {
                        let reply = c.request(json!({"request": "Speak", "message": format!("Client {n}, number {i}.")}))?;
                        match reply["status"].as_str() {
                            Some("ok") => accepted.push(reply["result"]["speechId"].clone()),
                            Some("error") => {
                                let why = reply["error"].as_str().unwrap_or_default();
                                ensure!(why.contains("queue full") || why.contains("too many"), "{why}");
                                refused += 1;
                            }
                            _ => bail!("{reply}"),
                        }
                    }
                    // Garbage after the flood is refused too, and speaks nothing.
                    for _ in 0..20 {
                        c.ws.send(Message::text("\u{0}\u{1}garbage"))?;
                    }
                    Ok((accepted, refused))
                })
            })
            .collect();
            let mut accepted = Vec::new();
            let mut refused = 0;
            for flood in floods {
                let (a, r) = flood
                    .join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??;
                accepted.extend(a);
                refused += r;
            }
            ensure!(!accepted.is_empty(), "nothing was accepted");
            for speech in &accepted {
                watcher.event("Finished", speech, Duration::from_secs(150))?;
            }
            let info = watcher.request(json!({"request": "GetInfo"}))?;
            Ok((accepted.len(), refused, info))
        },
    )?;
    eprintln!("flood: {accepted} accepted and every one heard, {refused} refused; {info}");
    ensure!(refused > 0, "the flood never hit a limit");
    Ok(info)
}

#[test]
fn a_flood_of_clients_loses_no_accepted_phrase_and_never_underruns() -> Result<()> {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let info = flood(&bundle_path(), 17_583, 4, 60)?;
    ensure!(
        info["info"]["underruns"] == 0,
        "underruns during the flood: {info}"
    );
    Ok(())
}

#[test]
fn a_flood_never_makes_process_allocate() -> Result<()> {
    // The allocation-checking build aborts the process on any allocation in process().
    flood(&alloc_check_bundle_path(), 17_584, 2, 50).map(|_| ())
}

#[test]
fn orator_serve_says_plainly_when_the_port_is_taken() -> Result<()> {
    let cli = std::env::var_os("ORATOR_CLI").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bundled/orator"),
        std::path::PathBuf::from,
    );
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = taken.local_addr()?.port();
    let output = std::process::Command::new(&cli)
        .args([
            "serve",
            "--port",
            &port.to_string(),
            "--udp-port",
            "0",
            "--seconds",
            "5",
        ])
        .output()
        .with_context(|| format!("could not run {}", cli.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        !output.status.success(),
        "serve ran on a taken port: {stderr}"
    );
    ensure!(
        stderr.contains(&format!("port {port} is taken by another program")),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn the_standalone_app_serves_the_api_from_the_environment() -> Result<()> {
    let app = std::env::var_os("ORATOR_STANDALONE").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/bundled/orator-standalone")
        },
        std::path::PathBuf::from,
    );
    let display = orator_tests::display::Display::start(160)?;
    let port = 17_585;
    // The dummy backend calls process() at real-time pace with no sound card.
    let mut child = std::process::Command::new(&app)
        .args(orator_tests::DUMMY_BACKEND)
        .env("DISPLAY", &display.name)
        .env("ORATOR_API", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("could not start {}", app.display()))?;
    let session = (|| -> Result<f64> {
        // The app opens its window and loads the voice before it serves: slow on a loaded
        // machine, never minutes.
        let mut c =
            Client::connect_within(&format!("ws://127.0.0.1:{port}/"), Duration::from_secs(60))?;
        c.request(json!({"request": "Subscribe", "events": {"TextToSpeech": ["*"]}}))?;
        let speech = c.speak("Hello from the standalone app.")?;
        c.event("Playing", &speech, Duration::from_secs(30))?;
        let done = c.event("Finished", &speech, Duration::from_secs(30))?;
        done["data"]["duration"].as_f64().context("no duration")
    })();
    let _ = child.kill();
    let _ = child.wait();
    let duration = session?;
    ensure!(
        (1000.0..4000.0).contains(&duration),
        "the phrase lasted {duration} ms"
    );
    Ok(())
}

#[test]
fn removing_the_plugin_mid_render_does_not_wait_for_the_render() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port();
    let plugin = plugin_with_api(&bundle_path(), port, "")?;
    // About 160 s of speech: ten seconds and more of synthesis on one core.
    let text = "The streamer reads the whole of chat aloud tonight, one line after another. "
        .repeat(30)
        .chars()
        .take(2400)
        .collect::<String>();
    let client = std::thread::spawn(move || -> Result<Vec<u8>> {
        let mut stream =
            orator_tests::http::send_speech(port, &json!({"model": "tts-1", "input": text}))?;
        Ok(orator_tests::http::read_response(&mut stream))
    });
    // The render is under way (the renderer's voice loads in well under a second).
    std::thread::sleep(Duration::from_secs(2));
    ensure!(
        !client.is_finished(),
        "the render ended before the plugin was removed"
    );
    let removing = Instant::now();
    drop(plugin);
    let took = removing.elapsed();
    let response = client
        .join()
        .map_err(|_| anyhow::anyhow!("the client panicked"))??;
    let answer = orator_tests::http::status(&response);
    // The response streams: stopped after its head, it ends without its last chunk.
    let whole = answer == Some(200) && response.ends_with(b"\r\n0\r\n\r\n");
    eprintln!(
        "removing the plugin mid-render took {took:?}; the client got {answer:?}, {} bytes",
        response.len()
    );
    ensure!(!whole, "the render was finished, not stopped");
    // The whole render needs ten seconds and more; removal waits for one model run at most.
    ensure!(
        took < Duration::from_secs(3),
        "removing the plugin waited {took:?} for the render"
    );
    Ok(())
}

/// The output samples of a phrase `ms` milliseconds long at the test's rate.
fn samples_of(ms: f64) -> usize {
    (ms / 1e3 * RATE).round() as usize
}

/// Where `window` (taken at `from` in `out`) comes again, searching lags in `lags`: the first
/// lag at which every sample matches to within 1e-4.
fn repeats_at(out: &[f32], from: usize, len: usize, lags: std::ops::Range<usize>) -> Option<usize> {
    let window = out.get(from..from + len)?;
    lags.into_iter().find(|&lag| {
        out.get(from + lag..from + lag + len)
            .is_some_and(|again| again.iter().zip(window).all(|(a, b)| (a - b).abs() < 1e-4))
    })
}

#[test]
fn voice_aliases_alternate_through_one_queue_without_a_gap() -> Result<()> {
    use orator_tests::synthetic_voice::{MEDIUM, Shape, write_voice};
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A four-speaker voice of the test's own making beside the bundled one.
    let dir = std::env::temp_dir().join(format!("orator-aliases-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let joe = bundle_path()
        .with_file_name("Orator-resources")
        .join("voices/en_US-joe-medium.onnx");
    let shape = Shape {
        name: "multi-22k",
        speakers: 4,
        ..MEDIUM
    };
    let multi = write_voice(&shape, &dir, &joe);
    let port = 17_591;
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    let session = json!({
        "schema": 3,
        "text": "",
        "api": {
            "enabled": true, "port": port, "udp_port": 0,
            "voices": {
                "aliases": [{"name": "Robot", "voice": multi, "speaker": "speaker 2"}],
                "chatters": {"Anna": "Robot"},
            },
        },
    });
    let state = with_session(&plugin.save_state()?, &session.to_string())?;
    plugin.load_state(&state)?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    const LINE: &str = "Every chatter can have a voice of their own.";
    let (out, (durations, voices)) = run_with(&mut plugin, Duration::from_secs(120), move || {
        let mut c = Client::connect(&format!("ws://127.0.0.1:{port}/"))?;
        let listed = c.request(json!({"request": "GetVoices"}))?;
        ensure!(
            listed["voices"][0]["name"] == "Robot" && listed["voices"][0]["voice"] == "multi-22k",
            "{listed}"
        );
        c.request(json!({"request": "Subscribe", "events": {"TextToSpeech": ["*"]}}))?;
        // Both voices speak once first (the alias's loads while the instance's speaks).
        for voice in [json!(null), json!("robot")] {
            let r =
                c.request(json!({"request": "Speak", "message": "Warming up.", "voice": voice}))?;
            c.event(
                "Finished",
                &r["result"]["speechId"],
                Duration::from_secs(30),
            )?;
        }
        std::thread::sleep(Duration::from_secs(2));
        // Instance, alias, an unknown alias (the instance's voice), and the alias the chatter
        // table gives Anna: all queued at once.
        let asks = [
            json!({"request": "Speak", "message": LINE}),
            json!({"request": "Speak", "message": LINE, "voice": "Robot"}),
            json!({"request": "Speak", "message": LINE, "voice": "Brian"}),
            json!({"request": "Speak", "message": LINE, "user": "@anna"}),
        ];
        let mut ids = Vec::new();
        let mut voices = Vec::new();
        for ask in asks {
            let reply = c.request(ask)?;
            ensure!(reply["status"] == "ok", "{reply}");
            voices.push((
                reply["result"]["voice"].clone(),
                reply["result"]["warning"].clone(),
            ));
            ids.push(reply["result"]["speechId"].clone());
        }
        let mut durations = Vec::new();
        for id in &ids {
            let done = c.event("Finished", id, Duration::from_secs(30))?;
            durations.push(done["data"]["duration"].as_f64().context("no duration")?);
        }
        Ok((durations, voices))
    })?;
    std::fs::remove_dir_all(&dir).ok();
    let names: Vec<&Value> = voices.iter().map(|(v, _)| v).collect();
    ensure!(
        names
            == [
                &json!("default"),
                &json!("Robot"),
                &json!("default"),
                &json!("Robot")
            ],
        "{voices:?}"
    );
    ensure!(
        voices[2]
            .1
            .as_str()
            .is_some_and(|w| w.contains("no voice alias named `Brian`")),
        "{voices:?}"
    );
    let (instance, alias) = (durations[0], durations[1]);
    eprintln!(
        "the line lasts {instance:.0} ms in the instance's voice, {alias:.0} ms in the alias's"
    );
    ensure!(
        (durations[2] - instance).abs() < 1.0 && (durations[3] - alias).abs() < 1.0,
        "each voice speaks the line the same every time: {durations:?}"
    );
    ensure!(
        (instance - alias).abs() > 100.0,
        "the alias speaks with another voice: {durations:?}"
    );
    // The four phrases are the last sound. The instance's first phrase comes again exactly one
    // instance phrase and one alias phrase later, and the alias's first phrase one alias and
    // one instance phrase later: nothing was played between any two of them.
    let spans_heard = spans(&out, (0.8 * RATE) as usize);
    let (onset, _) = *spans_heard.last().context("nothing was heard")?;
    let cycle = samples_of(instance) + samples_of(alias);
    let window = (0.3 * RATE) as usize;
    for (what, from) in [
        ("the instance's phrase", onset),
        ("the alias's phrase", onset + samples_of(instance)),
    ] {
        let heard = out
            .get(from..from + window)
            .context("the output ends early")?;
        ensure!(
            heard.iter().any(|x| x.abs() > 1e-3),
            "{what}: the window compared is silent"
        );
        let lags = cycle.saturating_sub(2 * BLOCK)..cycle + (2.0 * RATE) as usize;
        let lag = repeats_at(&out, from, window, lags)
            .with_context(|| format!("{what} never came again"))?;
        let gap = lag as i64 - cycle as i64;
        eprintln!("{what} came again {lag} samples later, {gap} more than the two phrases");
        ensure!(
            gap.abs() <= 48,
            "{what}: {gap} samples between phrases (1 ms allowed for rounding)"
        );
    }
    Ok(())
}

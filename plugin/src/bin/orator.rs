//! `orator`: Orator from the command line.
//!
//! `orator say "text" --out file.wav|.flac|.mp3|.opus [--input music.wav]` renders speech through the
//! plugin's own realtime path: its speech thread, rings and streaming resampler feed its signal path
//! (voice chain, ducking, strip mixer) block by block, exactly as `process()` does in a host
//! rendering offline. With `--input`, the file is the host signal: a podcast bed or a music
//! track voiced over and ducked under the speech.
//!
//! `orator serve` runs the local API headless (no host): WebSocket and UDP speech plays through
//! the same realtime path at real-time pace (into `--record`'s WAV file if given; no sound
//! device is opened), and the HTTP endpoint renders speech for its clients.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use orator::api::formats::Format;
use orator::api::{self, ApiSettings, ServerState, Target, render};
use orator::dsp::gain::db_to_gain;
use orator::dsp::path::{PathSettings, SignalPath, strip};
use orator::meters::Meters;
use orator::params::MAX_GAIN_DB;
use orator::playback::service::{SpeechService, State};
use orator::state::{Session, SharedSession};
use orator::tts::resources::Resources;
use orator::tts::text::lexicon::Lexicon;
use orator::tts::voice::config::Delivery;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "orator", version, about = "Speak text with Orator's engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render text to a WAV file.
    Say(SayArgs),
    /// Run the local API (Speaker.bot WebSocket and UDP, OpenAI HTTP) without a host.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TCP port of the WebSocket and HTTP endpoints (127.0.0.1 and ::1 only).
    #[arg(long, default_value_t = api::DEFAULT_PORT)]
    port: u16,
    /// UDP port (0: no UDP).
    #[arg(long, default_value_t = api::DEFAULT_UDP_PORT)]
    udp_port: u16,
    /// A token every client must send (default: none). Also read from `ORATOR_TOKEN`.
    #[arg(long, env = "ORATOR_TOKEN", default_value = "")]
    token: String,
    /// A Piper voice model (default: the bundled voice).
    #[arg(long)]
    voice: Option<PathBuf>,
    /// A word list: `word = replacement`, `word = !bleep` or `word = !drop` per line.
    #[arg(long)]
    word_list: Option<PathBuf>,
    /// Emoji are read as their name, once per run (`name`), or not at all (`drop`).
    #[arg(long, default_value = "name")]
    emoji: String,
    /// A chat lexicon file added to the built-in one (its format: the file the API tab saves).
    #[arg(long)]
    chat_lexicon: Option<PathBuf>,
    /// Emoticons and kaomoji are read by meaning (`read`) or not at all (`drop`).
    #[arg(long, default_value = "read")]
    emoticons: String,
    /// Honour inline phonemes (`[[ ]]`) in API messages (otherwise they are taken out).
    #[arg(long)]
    api_phonemes: bool,
    /// Voice aliases and chatters' voices, a JSON file (its format in the README).
    #[arg(long, value_name = "FILE.json")]
    aliases: Option<PathBuf>,
    /// The most characters spoken of one message.
    #[arg(long, default_value_t = 500)]
    max_chars: usize,
    /// Write what is spoken (WebSocket and UDP speech, at real-time pace) to this WAV file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// The rate speech plays at, Hz.
    #[arg(long, default_value_t = 48_000)]
    sample_rate: u32,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<f64>,
    /// Orator's resources folder (default: found next to this program).
    #[arg(long, env = "ORATOR_RESOURCES")]
    resources: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SayArgs {
    /// The text to speak.
    text: String,
    /// Where to write the audio: a WAV file (32-bit float), with `.flac` a FLAC file (16-bit),
    /// with `.mp3` an MP3 (192 kbit/s stereo over 24 kHz, 128 at 24 kHz and under), with
    /// `.opus` Ogg Opus (64 kbit/s stereo, 48 kHz unless --sample-rate says); stereo, or the
    /// input's channels.
    #[arg(long)]
    out: PathBuf,
    /// A WAV file to play as the host signal, mixed with the speech and ducked under it. The
    /// output keeps its rate and length (longer if the speech runs past its end).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Also write the words' timings as JSON: each word's start and end as samples of the
    /// output file and as milliseconds from the phrase's start, with its phonemes.
    #[arg(long, value_name = "FILE.json")]
    timings: Option<PathBuf>,
    /// Also write subtitles as SRT, cues from the words' timings (rules in the README).
    #[arg(long, value_name = "FILE.srt")]
    srt: Option<PathBuf>,
    /// Also write subtitles as WebVTT, the same cues.
    #[arg(long, value_name = "FILE.vtt")]
    vtt: Option<PathBuf>,
    /// A Piper voice model (`.onnx`, with its `.onnx.json` beside it). Default: the bundled
    /// voice.
    #[arg(long)]
    voice: Option<PathBuf>,
    /// Speaking rate: 1 is the voice's own pace, 2 twice as fast, 0.5 half as fast.
    #[arg(long, default_value_t = 1.0)]
    rate: f32,
    /// Variation of timbre and timing: 1 is the voice's own, 0 none, up to 2.
    #[arg(long, default_value_t = 1.0)]
    variation: f32,
    /// Speak every sentence in one piece, exactly as Piper does (by default sentences over
    /// about 25 words are cut at clause ends, and the text's first sentence, or one after a
    /// short sentence, from about 17 words, at a word boundary if it has no clause end, so
    /// speech starts sooner). A sentence too long for one run of the voice (300 phonemes at
    /// rate 1, fewer when slower) is still cut at a word boundary.
    #[arg(long)]
    whole_sentences: bool,
    /// Speaker id of a multi-speaker voice (default: the voice's first).
    #[arg(long)]
    speaker: Option<i64>,
    /// A pronunciation dictionary: one `word = respelling` or `word = [[ phonemes ]]` per
    /// line (`#` starts a comment).
    #[arg(long)]
    dict: Option<PathBuf>,
    /// Output sample rate in Hz (default: the input's rate, else the voice's own).
    #[arg(long)]
    sample_rate: Option<u32>,
    /// Voice level, dB.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    voice_db: f32,
    /// Input (host signal) level, dB.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    dry_db: f32,
    /// How far the input dips under the voice, dB (0: no ducking).
    #[arg(long, default_value_t = -12.0, allow_negative_numbers = true)]
    duck_db: f32,
    /// Voice pan, -1 (left) to 1 (right).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pan: f32,
    /// Bring the whole output to this integrated loudness, LUFS (ITU-R BS.1770), for example
    /// -16 (podcasts), -23 (EBU R 128 broadcast) or -14 (streaming services); peaks that the
    /// gain would lift over --true-peak are limited.
    #[arg(long, value_name = "LUFS", allow_negative_numbers = true)]
    loudness: Option<f64>,
    /// The true-peak ceiling for --loudness, dBTP.
    #[arg(long, value_name = "DBTP", default_value_t = -1.0, allow_negative_numbers = true)]
    true_peak: f64,
    /// Orator's resources folder (default: found next to this program).
    #[arg(long, env = "ORATOR_RESOURCES")]
    resources: Option<PathBuf>,
}

fn main() -> Result<()> {
    orator::platform::tune_own_process_allocator();
    match Cli::parse().command {
        Command::Say(args) => say(args),
        Command::Serve(args) => serve(args),
    }
}

/// The encoded format `out`'s name asks for: `.flac`, `.mp3` or `.opus` (else a float WAV).
fn encoded_format(out: &Path) -> Option<Format> {
    let format = Format::named(out.extension()?.to_str()?)?;
    matches!(format, Format::Flac | Format::Mp3 | Format::Opus).then_some(format)
}

/// Writes `channels` at `rate` to `out`: FLAC (16-bit), MP3 or Ogg Opus by its name's
/// extension, else a 32-bit float WAV.
fn write_audio(out: &Path, channels: &[Vec<f32>], rate: u32) -> Result<()> {
    let length = channels.first().map_or(0, Vec::len);
    if let Some(format) = encoded_format(out) {
        let interleaved: Vec<f32> = (0..length)
            .flat_map(|i| channels.iter().map(move |c| c[i]))
            .collect();
        let samples = api::openai::to_i16(&interleaved);
        let file =
            api::formats::encode_file(&samples, channels.len(), rate, format)?.unwrap_or_default();
        return std::fs::write(out, file)
            .with_context(|| format!("could not write {}", out.display()));
    }
    let spec = hound::WavSpec {
        channels: u16::try_from(channels.len())?,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut wav = hound::WavWriter::create(out, spec)
        .with_context(|| format!("could not create {}", out.display()))?;
    for i in 0..length {
        for channel in channels {
            wav.write_sample(channel[i])?;
        }
    }
    wav.finalize()?;
    Ok(())
}

/// Why a dictionary file cannot be used.
#[derive(Debug, thiserror::Error)]
enum DictionaryError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("could not read the dictionary {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line is not `word = replacement`.
    #[error("{}:{line}: expected `word = replacement`", path.display())]
    Line { path: PathBuf, line: usize },
    /// An entry the lexicon refuses.
    #[error("in the dictionary {}: {source}", path.display())]
    Entry {
        path: PathBuf,
        source: orator::tts::text::lexicon::LexiconError,
    },
}

/// Reads a dictionary file: `word = replacement` lines, `#` comments, blank lines ignored.
fn read_dictionary(path: &Path) -> Result<BTreeMap<String, String>, DictionaryError> {
    let text = std::fs::read_to_string(path).map_err(|source| DictionaryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut entries = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((word, replacement)) = line.split_once('=') else {
            return Err(DictionaryError::Line {
                path: path.to_path_buf(),
                line: number + 1,
            });
        };
        entries.insert(word.trim().to_owned(), replacement.trim().to_owned());
    }
    Lexicon::new(&entries).map_err(|source| DictionaryError::Entry {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(entries)
}

/// The host signal for `--input`: the file's samples per channel (at most two) and its rate.
#[derive(Debug)]
struct HostInput {
    channels: Vec<Vec<f32>>,
    sample_rate: u32,
}

/// Reads a WAV file (16/24/32-bit integer or 32-bit float, any channel count; channels past
/// the second are dropped with a warning).
/// The longest host signal `--input` takes: 12 hours at 48 kHz, per channel.
const MAX_INPUT_FRAMES: u64 = 12 * 3600 * 48_000;

/// The most channels `--input` may declare (a WAV header can say up to 65535).
const MAX_INPUT_CHANNELS: u16 = 64;

fn read_input(path: &Path) -> Result<HostInput> {
    let file_len = std::fs::metadata(path)
        .with_context(|| format!("could not open {}", path.display()))?
        .len();
    let mut reader = hound::WavReader::open(path)
        .with_context(|| format!("could not open {} as a WAV file", path.display()))?;
    let spec = reader.spec();
    // The header is checked before anything is sized from it: a damaged or forged one can
    // claim any rate, channel count and length.
    if !(8000..=768_000).contains(&spec.sample_rate) {
        bail!(
            "{} is at {} Hz; Orator takes 8000 to 768000 Hz",
            path.display(),
            spec.sample_rate
        );
    }
    if spec.channels == 0 || spec.channels > MAX_INPUT_CHANNELS {
        bail!(
            "{} has {} channels; Orator takes 1 to {MAX_INPUT_CHANNELS}",
            path.display(),
            spec.channels
        );
    }
    let count = usize::from(spec.channels);
    let declared = u64::from(reader.len());
    let bytes = declared * u64::from(spec.bits_per_sample.div_ceil(8));
    if bytes > file_len {
        bail!(
            "{} is damaged: its header announces {bytes} bytes of samples in a {file_len}-byte \
             file",
            path.display()
        );
    }
    if declared / count as u64 > MAX_INPUT_FRAMES {
        bail!(
            "{} is longer than Orator takes as --input (12 hours at 48 kHz)",
            path.display()
        );
    }
    if count > 2 {
        eprintln!("{}: {count} channels; using the first two", path.display());
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
        }
    }
    .with_context(|| format!("could not read the samples of {}", path.display()))?;
    let kept = count.min(2);
    let channels = (0..kept)
        .map(|c| samples.iter().skip(c).step_by(count).copied().collect())
        .collect();
    Ok(HostInput {
        channels,
        sample_rate: spec.sample_rate,
    })
}

fn say(args: SayArgs) -> Result<()> {
    let SayArgs {
        text,
        out,
        input,
        timings,
        srt,
        vtt,
        voice,
        rate,
        variation,
        whole_sentences,
        speaker,
        dict,
        sample_rate,
        voice_db,
        dry_db,
        duck_db,
        pan,
        loudness,
        true_peak,
        resources,
    } = args;
    let loudness = loudness
        .map(|lufs| orator::loudness::Target::new(lufs, true_peak))
        .transpose()?;
    if !(rate.is_finite() && (0.25..=4.0).contains(&rate)) {
        bail!("--rate must be between 0.25 and 4 (got {rate})");
    }
    if !(variation.is_finite() && (0.0..=2.0).contains(&variation)) {
        bail!("--variation must be between 0 and 2 (got {variation})");
    }
    if !(pan.is_finite() && (-1.0..=1.0).contains(&pan)) {
        bail!("--pan must be between -1 and 1 (got {pan})");
    }
    for (name, db) in [("--voice-db", voice_db), ("--dry-db", dry_db)] {
        if !(db.is_finite() && db <= MAX_GAIN_DB) {
            bail!("{name} must be at most {MAX_GAIN_DB} dB (got {db})");
        }
    }
    if !(duck_db.is_finite() && (-40.0..=0.0).contains(&duck_db)) {
        bail!("--duck-db must be between -40 and 0 (got {duck_db})");
    }
    if let Some(sr) = sample_rate
        && !(8000..=768_000).contains(&sr)
    {
        bail!("--sample-rate must be between 8000 and 768000 Hz (got {sr})");
    }
    let host = input.as_deref().map(read_input).transpose()?;
    if let (Some(host), Some(sr)) = (&host, sample_rate)
        && host.sample_rate != sr
    {
        bail!(
            "--sample-rate {sr} differs from the input's {} Hz; the output keeps the input's rate",
            host.sample_rate
        );
    }
    let resources = match resources {
        Some(dir) => Resources::first_valid(&[dir])?,
        None => Resources::locate()?,
    };
    let dictionary = match &dict {
        Some(path) => read_dictionary(path)?,
        None => BTreeMap::new(),
    };
    let session = SharedSession::default();
    session
        .try_replace(Session {
            text: String::new(),
            dictionary,
            ..Session::default()
        })
        .context("the dictionary is not valid")?;

    // The plugin's speech service: its own thread, rings and streaming resampler.
    let service = SpeechService::start(Arc::new(session), Some(resources.clone()))
        .context("could not start the speech thread")?;
    let started = Instant::now();
    service.load_voice(voice);
    let voice_rate = loop {
        match service.status.state() {
            State::Ready => break service.status.voice_rate(),
            State::Failed => bail!("{}", service.status.message()),
            State::Idle | State::Loading => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let load_time = started.elapsed();
    service.set_delivery(Delivery {
        rate,
        variation,
        whole_sentences,
        speaker,
    });
    let output_rate = host
        .as_ref()
        .map(|h| h.sample_rate)
        .or(sample_rate)
        // Opus takes five rates and its decoders play 48 kHz: a voice's own rate (22.05 kHz
        // for most) becomes 48 kHz for it.
        .or((encoded_format(&out) == Some(Format::Opus)).then_some(48_000))
        .or(voice_rate)
        .unwrap_or(22_050);
    let channels = host.as_ref().map_or(2, |h| h.channels.len());
    if let Some(format) = encoded_format(&out) {
        // A rate or layout the encoder cannot take is refused before the render.
        api::formats::StreamEncoder::new(format, output_rate, channels)?;
    }

    // The plugin's signal path, fed block by block as a host renders offline.
    let mut settings = PathSettings::default();
    settings.strips[strip::HOST].gain = db_to_gain(dry_db);
    settings.strips[strip::VOICE].gain = db_to_gain(voice_db);
    settings.strips[strip::VOICE].pan = pan;
    settings.duck.depth_db = duck_db;
    let mut rendered = render::render(
        &service,
        &text,
        output_rate,
        channels,
        &settings,
        host.as_ref().map(|h| &h.channels[..]),
        render::Limits::default(),
    );
    let length = rendered.channels.first().map_or(0, Vec::len);
    let normalized = match loudness {
        Some(target) if rendered.failure.is_none() => Some(
            orator::loudness::normalize(&mut rendered.channels, output_rate, target)
                .context("could not reach the loudness target")?,
        ),
        _ => None,
    };
    write_audio(&out, &rendered.channels, output_rate)?;
    if let Some(path) = &timings {
        let json = render::timings_json(&rendered, &text, output_rate);
        if json["complete"] != serde_json::Value::Bool(true) && rendered.failure.is_none() {
            eprintln!(
                "orator: the voice gives no phoneme durations for all of the speech: {} lists \
                 only the words it could time",
                path.display()
            );
        }
        let bytes = serde_json::to_vec_pretty(&json)?;
        std::fs::write(path, bytes)
            .with_context(|| format!("could not write {}", path.display()))?;
    }
    if srt.is_some() || vtt.is_some() {
        let cues = render::subtitle_cues(&rendered, &text);
        for (path, body) in [
            (&srt, api::subtitles::srt(&cues)),
            (&vtt, api::subtitles::vtt(&cues)),
        ] {
            if let Some(path) = path {
                std::fs::write(path, body)
                    .with_context(|| format!("could not write {}", path.display()))?;
            }
        }
    }
    let synthesis_time = rendered.total;
    let first_audio = rendered.first_audio;
    if let Some(why) = &rendered.failure {
        bail!("could not speak: {why}");
    }
    if rendered.voice_samples == 0 && host.is_none() {
        bail!("the text has nothing to speak");
    }
    let underruns = rendered.underruns;
    let seconds = length as f64 / f64::from(output_rate);
    eprintln!(
        "{}: {seconds:.2} s at {output_rate} Hz, {channels} channel(s){}. Voice load {:.0} ms, \
         first audio {:.0} ms, done in {:.0} ms.",
        out.display(),
        if host.is_some() {
            ", voiced over the input"
        } else {
            ""
        },
        load_time.as_secs_f64() * 1e3,
        first_audio.unwrap_or_default().as_secs_f64() * 1e3,
        synthesis_time.as_secs_f64() * 1e3,
    );
    if let Some(n) = normalized {
        eprintln!(
            "Loudness {:.1} LUFS (was {:.1}; gain {:+.1} dB, limited by up to {:.1} dB), true \
             peak {:.1} dBTP.",
            n.lufs,
            n.before_lufs,
            n.gain_db,
            n.limited_db.abs(),
            n.true_peak_dbtp
        );
    }
    if underruns > 0 {
        bail!("{underruns} voice samples arrived late (the speech thread could not keep up)");
    }
    Ok(())
}

/// What `orator serve` offers the server: its own session and speech service.
struct Headless {
    session: Arc<SharedSession>,
    speech: SpeechService,
    resources: Resources,
}

impl Target for Headless {
    fn session(&self) -> &Arc<SharedSession> {
        &self.session
    }

    fn speech(&self) -> Option<&SpeechService> {
        Some(&self.speech)
    }

    fn resources(&self) -> Option<Resources> {
        Some(self.resources.clone())
    }
}

/// Set by SIGINT or SIGTERM.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn serve(args: ServeArgs) -> Result<()> {
    let emoji = match args.emoji.as_str() {
        "name" => api::filter::EmojiMode::FirstName,
        "drop" => api::filter::EmojiMode::Drop,
        other => bail!("--emoji must be `name` or `drop` (got `{other}`)"),
    };
    if !(8000..=768_000).contains(&args.sample_rate) {
        bail!("--sample-rate must be between 8000 and 768000 Hz");
    }
    if let Some(path) = &args.word_list {
        api::filter::WordList::load(path)
            .with_context(|| format!("in the word list {}", path.display()))?;
    }
    if let Some(path) = &args.chat_lexicon {
        api::chat::lexicon::Lexicon::with_file(path)
            .with_context(|| format!("in the chat lexicon {}", path.display()))?;
    }
    let emoticons = match args.emoticons.as_str() {
        "read" => api::filter::EmoticonMode::Read,
        "drop" => api::filter::EmoticonMode::Drop,
        other => bail!("--emoticons must be `read` or `drop` (got `{other}`)"),
    };
    let settings = ApiSettings {
        enabled: true,
        port: args.port,
        udp_port: args.udp_port,
        token: args.token.clone(),
        emoji,
        max_chars: args.max_chars,
        word_list: args.word_list.clone(),
        chat_lexicon: args.chat_lexicon.clone(),
        emoticons,
        api_phonemes: args.api_phonemes,
        voices: match &args.aliases {
            Some(path) => api::aliases::VoiceAliases::load(path)?,
            None => Default::default(),
        },
        ..ApiSettings::default()
    };
    settings.validate().map_err(anyhow::Error::msg)?;
    let resources = match args.resources {
        Some(dir) => Resources::first_valid(&[dir])?,
        None => Resources::locate()?,
    };
    let session = Arc::new(SharedSession::default());
    session.update(|s| {
        s.api = settings.clone();
        s.voice = args.voice.clone();
    });
    let speech = SpeechService::start(session.clone(), Some(resources.clone()))
        .context("could not start the speech thread")?;
    speech.reload_voice();
    loop {
        match speech.status.state() {
            State::Ready => break,
            State::Failed => bail!("{}", speech.status.message()),
            State::Idle | State::Loading => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let rate = args.sample_rate;
    const BLOCK: usize = 512;
    let mut path = SignalPath::default();
    path.prepare(rate as f32, BLOCK);
    let path_settings = PathSettings::default();
    path.reset(&path_settings, 2, false);
    let (mut stream, _bank) = speech.attach(rate as f32, BLOCK);
    let target = Arc::new(Headless {
        session,
        speech,
        resources,
    });
    let as_target: Arc<dyn Target> = target.clone();
    let registration = api::register(Arc::downgrade(&as_target));
    match api::status().state() {
        ServerState::Listening(port) => eprintln!(
            "Orator is listening on ws://127.0.0.1:{port}/ and http://127.0.0.1:{port}/v1{}",
            if args.udp_port != 0 {
                format!(", UDP 127.0.0.1:{}", args.udp_port)
            } else {
                String::new()
            }
        ),
        ServerState::Failed(why) => bail!("{why}"),
        ServerState::Off => bail!("the server did not start"),
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let mut wav = match &args.record {
        Some(out) => Some(
            hound::WavWriter::create(
                out,
                hound::WavSpec {
                    channels: 2,
                    sample_rate: rate,
                    bits_per_sample: 32,
                    sample_format: hound::SampleFormat::Float,
                },
            )
            .with_context(|| format!("could not create {}", out.display()))?,
        ),
        None => None,
    };
    let meters = Meters::default();
    let mut bus = vec![vec![0.0f32; BLOCK]; 2];
    let no_sidechain: [&[f32]; 0] = [];
    let block_time = Duration::from_secs_f64(BLOCK as f64 / f64::from(rate));
    let started = Instant::now();
    let mut next = started;
    let mut blocks = 0u64;
    while !INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
        && args
            .seconds
            .is_none_or(|s| started.elapsed().as_secs_f64() < s)
    {
        for channel in &mut bus {
            channel.fill(0.0);
        }
        let voice = stream.read_voice(BLOCK);
        let mut outs: Vec<&mut [f32]> = bus.iter_mut().map(|c| &mut c[..]).collect();
        path.process(
            &path_settings,
            &mut outs,
            &no_sidechain,
            voice,
            &[],
            &meters,
        );
        if let Some(wav) = wav.as_mut() {
            for (left, right) in bus[0].iter().zip(&bus[1]) {
                wav.write_sample(*left)?;
                wav.write_sample(*right)?;
            }
        }
        blocks += 1;
        next += block_time;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_millis(200) {
            // Far behind (the machine was suspended): catch up by dropping the debt.
            next = now;
        }
    }
    drop(registration);
    api::refresh();
    if let Some(wav) = wav {
        wav.finalize()?;
    }
    eprintln!(
        "Orator stopped after {:.1} s ({} late voice samples).",
        blocks as f64 * block_time.as_secs_f64(),
        stream.underruns()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV header (16-bit PCM) declaring `channels`, `rate` and `data_bytes`, followed by
    /// `actual` bytes of samples.
    fn wav(channels: u16, rate: u32, data_bytes: u32, actual: usize) -> Vec<u8> {
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + data_bytes).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&channels.to_le_bytes());
        w.extend_from_slice(&rate.to_le_bytes());
        w.extend_from_slice(&rate.wrapping_mul(2 * u32::from(channels)).to_le_bytes());
        w.extend_from_slice(&channels.wrapping_mul(2).to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&data_bytes.to_le_bytes());
        w.extend(std::iter::repeat_n(0u8, actual));
        w
    }

    fn read(bytes: &[u8]) -> Result<HostInput> {
        let dir = std::env::temp_dir().join(format!("orator-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{n}.wav"));
        std::fs::write(&path, bytes)?;
        let result = read_input(&path);
        std::fs::remove_file(&path)?;
        result
    }

    #[test]
    fn input_headers_are_checked_before_anything_is_sized_from_them() {
        let ok = read(&wav(2, 48_000, 400, 400)).expect("a plain stereo file");
        assert_eq!(
            (ok.channels.len(), ok.channels[0].len(), ok.sample_rate),
            (2, 100, 48_000)
        );
        // A 4 GB data chunk announced in a small file.
        let err = read(&wav(1, 48_000, u32::MAX - 65, 64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is damaged"), "{err}");
        let err = read(&wav(1, 1, 64, 64)).unwrap_err().to_string();
        assert!(err.contains("1 Hz"), "{err}");
        let err = read(&wav(1, 4_000_000_000, 64, 64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Hz") || err.contains("WAV"), "{err}");
        // hound may refuse such a header itself; either way it is an error, not a crash.
        let err = read(&wav(65_535, 48_000, 64, 64)).unwrap_err().to_string();
        assert!(err.contains("channels") || err.contains("WAV"), "{err}");
    }
}

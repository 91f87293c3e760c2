//! `orator`: Orator from the command line.
//!
//! `orator say "text" --out file.wav` renders speech with the plugin's own engine (the same
//! voice, phonemizer and settings code) and its own output mixer, so what you hear is what the
//! plugin plays.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use orator::dsp::mix::{MixGains, Mixer};
use orator::tts::engine::Engine;
use orator::tts::lexicon::Lexicon;
use orator::tts::onnx::Voice;
use orator::tts::resample::resample_mono;
use orator::tts::resources::Resources;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

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
}

#[derive(clap::Args)]
struct SayArgs {
    /// The text to speak.
    text: String,
    /// Where to write the WAV file (32-bit float, stereo).
    #[arg(long)]
    out: PathBuf,
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
    /// about 25 words are cut at clause ends so speech starts sooner).
    #[arg(long)]
    whole_sentences: bool,
    /// A pronunciation dictionary: one `word = respelling` or `word = [[ phonemes ]]` per
    /// line (`#` starts a comment).
    #[arg(long)]
    dict: Option<PathBuf>,
    /// Output sample rate in Hz (default: the voice's own rate).
    #[arg(long)]
    sample_rate: Option<u32>,
    /// Orator's resources folder (default: found next to this program).
    #[arg(long, env = "ORATOR_RESOURCES")]
    resources: Option<PathBuf>,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Say(args) => say(args),
    }
}

/// Reads a dictionary file: `word = replacement` lines, `#` comments, blank lines ignored.
fn read_dictionary(path: &std::path::Path) -> Result<Lexicon> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the dictionary {}", path.display()))?;
    let mut entries = std::collections::BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((word, replacement)) = line.split_once('=') else {
            bail!(
                "{}:{}: expected `word = replacement`",
                path.display(),
                number + 1
            );
        };
        entries.insert(word.trim().to_owned(), replacement.trim().to_owned());
    }
    Lexicon::new(&entries).with_context(|| format!("in the dictionary {}", path.display()))
}

fn say(args: SayArgs) -> Result<()> {
    let SayArgs {
        text,
        out,
        voice,
        rate,
        variation,
        whole_sentences,
        dict,
        sample_rate,
        resources,
    } = args;
    let (text, out) = (text.as_str(), out.as_path());
    if !(rate.is_finite() && (0.25..=4.0).contains(&rate)) {
        bail!("--rate must be between 0.25 and 4 (got {rate})");
    }
    if let Some(sr) = sample_rate
        && !(8000..=768_000).contains(&sr)
    {
        bail!("--sample-rate must be between 8000 and 768000 Hz (got {sr})");
    }
    let resources = match resources {
        Some(dir) => Resources::first_valid(&[dir])?,
        None => Resources::locate()?,
    };
    let model = voice.unwrap_or_else(|| resources.default_voice());
    let started = Instant::now();
    let voice = Voice::load(&model, &resources.onnxruntime())
        .with_context(|| format!("could not load the voice {}", model.display()))?;
    let load_time = started.elapsed();
    let mut engine = Engine::new(voice.clone(), resources.espeak_data());
    if whole_sentences {
        engine = engine.whole_sentences();
    }
    if let Some(path) = &dict {
        engine = engine.with_lexicon(std::sync::Arc::new(read_dictionary(path)?));
    }
    let mut settings = voice.config.defaults;
    settings.length_scale /= rate;
    settings.noise_scale *= variation;
    settings.noise_w *= variation;

    let started = Instant::now();
    let mut first_audio = None;
    let mut speech = Vec::new();
    engine.speak(text, &settings, &mut |chunk| {
        first_audio.get_or_insert_with(|| started.elapsed());
        speech.extend_from_slice(&chunk.samples);
        ControlFlow::Continue(())
    })?;
    let synthesis_time = started.elapsed();
    if speech.is_empty() {
        bail!("the text has nothing to speak");
    }
    let voice_rate = voice.config.sample_rate;
    let output_rate = sample_rate.unwrap_or(voice_rate);
    let speech = resample_mono(&speech, voice_rate, output_rate)?;

    // The plugin's output mix, as in process(): silent host input plus the voice bus.
    const BLOCK: usize = 512;
    let mut mixer = Mixer::new(MixGains::default());
    mixer.prepare(output_rate as f32, BLOCK);
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: output_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut wav = hound::WavWriter::create(out, spec)
        .with_context(|| format!("could not create {}", out.display()))?;
    for voice_block in speech.chunks(BLOCK) {
        let n = voice_block.len();
        left[..n].fill(0.0);
        right[..n].fill(0.0);
        mixer.process(&mut [&mut left[..n], &mut right[..n]], voice_block);
        for i in 0..n {
            wav.write_sample(left[i])?;
            wav.write_sample(right[i])?;
        }
    }
    wav.finalize()?;

    let seconds = speech.len() as f64 / f64::from(output_rate);
    eprintln!(
        "{}: {seconds:.2} s of speech at {output_rate} Hz. Voice load {:.0} ms, first audio \
         {:.0} ms, synthesis {:.0} ms (real-time factor {:.3}).",
        out.display(),
        load_time.as_secs_f64() * 1e3,
        first_audio.unwrap_or_default().as_secs_f64() * 1e3,
        synthesis_time.as_secs_f64() * 1e3,
        synthesis_time.as_secs_f64() / seconds,
    );
    Ok(())
}

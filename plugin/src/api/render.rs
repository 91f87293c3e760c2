//! Speech rendered whole, through the plugin's own realtime path: the speech thread, the rings,
//! the streaming resampler and the signal path (voice chain, ducking, strip mixer), block by
//! block as a host renders offline. `orator say` and the HTTP speech endpoint both render
//! here, so the two give the same samples for the same text and settings.

use crate::dsp::path::{PathSettings, SignalPath};
use crate::meters::Meters;
use crate::playback::service::SpeechService;
use crate::playback::stream::PhraseEventKind;
use crate::playback::timing_log::PhraseWords;
use crate::playback::voicing::Voicing;
use std::time::{Duration, Instant};

/// The block size renders run at.
pub const BLOCK: usize = 512;

/// How often a render asks whether it should go on.
const LOOK_EVERY_BLOCKS: usize = 8;

/// What may end a render before its speech does.
#[derive(Default)]
pub struct Limits<'a> {
    /// The most samples (per channel) it may produce.
    pub max_samples: Option<usize>,
    /// Asked every few blocks: true when the render is no longer wanted (its client left).
    pub abandoned: Option<&'a mut dyn FnMut() -> bool>,
}

/// How a render ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ended {
    /// The speech (and the host signal) ended.
    #[default]
    Complete,
    /// It reached [`Limits::max_samples`]; its phrase was cancelled.
    TooLong,
    /// [`Limits::abandoned`] said so; its phrase was cancelled.
    Abandoned,
}

/// A finished render.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// How it ended.
    pub ended: Ended,
    /// Samples per channel (as long as the host signal, or to the end of the speech).
    pub channels: Vec<Vec<f32>>,
    /// Voice samples that were not silent.
    pub voice_samples: u64,
    /// From the request to the first voice sample out.
    pub first_audio: Option<Duration>,
    /// When the first voice sample came out.
    pub first_audio_at: Option<Instant>,
    /// From the request to the end.
    pub total: Duration,
    /// Voice samples that arrived late.
    pub underruns: u64,
    /// Why the phrase could not be spoken, if it could not.
    pub failure: Option<String>,
    /// The output sample the phrase started at.
    pub phrase_start: Option<u64>,
    /// The phrase's word timings (spans from `phrase_start`), if the speech thread has them.
    pub words: Option<PhraseWords>,
}

/// What a render speaks: a text, voiced by the service's voice and delivery or its own.
pub struct Phrase<'a> {
    /// The text.
    pub text: &'a str,
    /// Its voice and delivery (`None`: the service's).
    pub voicing: Option<Voicing>,
}

impl<'a> From<&'a str> for Phrase<'a> {
    fn from(text: &'a str) -> Self {
        Self {
            text,
            voicing: None,
        }
    }
}

impl<'a> From<&'a String> for Phrase<'a> {
    fn from(text: &'a String) -> Self {
        Self::from(text.as_str())
    }
}

/// Speaks `phrase` through `service` at `output_rate` into `channels` channels, with `host`
/// (per channel) as the host signal if given, stopping early (its phrase cancelled) at
/// `limits`.
/// The service's voice should be loaded first (a phrase spoken while it loads waits for it;
/// one spoken without a voice renders silence).
pub fn render<'a>(
    service: &SpeechService,
    phrase: impl Into<Phrase<'a>>,
    output_rate: u32,
    channels: usize,
    settings: &PathSettings,
    host: Option<&[Vec<f32>]>,
    limits: Limits<'_>,
) -> Rendered {
    let channels = channels.max(1);
    let mut all: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut keep = |bus: &[Vec<f32>]| {
        for (all, block) in all.iter_mut().zip(bus) {
            all.extend_from_slice(block);
        }
        true
    };
    let (mut rendered, length) = run(
        service,
        phrase.into(),
        output_rate,
        (channels, host),
        settings,
        limits,
        &mut keep,
    );
    for channel in &mut all {
        channel.truncate(length);
        channel.resize(length, 0.0);
    }
    rendered.channels = all;
    rendered
}

/// Speaks `phrase` as [`render`] does, in mono with no host signal, handing the samples to
/// `write` as they are made instead of keeping them: the same samples [`render`] returns, in
/// pieces. A stretch of silence is handed on only once sound follows it or the phrase ends
/// (so the output ends where [`render`]'s does). `write` returning false (its reader is gone)
/// ends the render as [`Ended::Abandoned`]. The returned [`Rendered`] has no channels.
pub fn render_streamed<'a>(
    service: &SpeechService,
    phrase: impl Into<Phrase<'a>>,
    output_rate: u32,
    settings: &PathSettings,
    limits: Limits<'_>,
    write: Write<'_>,
) -> Rendered {
    let mut silence = Silence::default();
    let mut open = true;
    let mut pass = |bus: &[Vec<f32>]| {
        let block = bus.first().map_or(&[][..], Vec::as_slice);
        open = open && silence.pass(block, write);
        open
    };
    let (rendered, length) = run(
        service,
        phrase.into(),
        output_rate,
        (1, None),
        settings,
        limits,
        &mut pass,
    );
    if rendered.ended == Ended::Complete && open {
        silence.finish(length, write);
    }
    rendered
}

/// Where [`render_streamed`] hands its samples: false when nothing more can be taken.
pub type Write<'a> = &'a mut dyn FnMut(&[f32]) -> bool;

/// Holds back silence until sound follows it, counting what was handed on.
#[derive(Default)]
struct Silence {
    /// Samples handed on.
    written: usize,
    /// Silent samples held back after them.
    held: usize,
}

impl Silence {
    /// Hands on `block` up to its last sound (and the silence held before it).
    fn pass(&mut self, block: &[f32], write: &mut dyn FnMut(&[f32]) -> bool) -> bool {
        let Some(last) = block.iter().rposition(|&x| x != 0.0) else {
            self.held += block.len();
            return true;
        };
        let open = self.zeros(self.held, write) && write(&block[..=last]);
        self.written += last + 1;
        self.held = block.len() - last - 1;
        open
    }

    /// Hands on the silence that ends the output at `length` samples.
    fn finish(&mut self, length: usize, write: &mut dyn FnMut(&[f32]) -> bool) {
        let _ = self.zeros(length.saturating_sub(self.written), write);
    }

    /// Hands on `n` zeros.
    fn zeros(&mut self, mut n: usize, write: &mut dyn FnMut(&[f32]) -> bool) -> bool {
        const ZEROS: [f32; BLOCK] = [0.0; BLOCK];
        self.written += n;
        while n > 0 {
            let piece = n.min(BLOCK);
            if !write(&ZEROS[..piece]) {
                return false;
            }
            n -= piece;
        }
        true
    }
}

/// The render loop both renders share: each block (per channel) goes to `emit` (false: stop,
/// as abandoned). Returns the render without its channels, and the output's length in samples.
fn run(
    service: &SpeechService,
    phrase: Phrase<'_>,
    output_rate: u32,
    (channels, host): (usize, Option<&[Vec<f32>]>),
    settings: &PathSettings,
    mut limits: Limits<'_>,
    emit: &mut dyn FnMut(&[Vec<f32>]) -> bool,
) -> (Rendered, usize) {
    let host_len = host.and_then(|h| h.first()).map_or(0, Vec::len);
    let mut path = SignalPath::default();
    path.prepare(output_rate as f32, BLOCK);
    path.reset(settings, channels, false);
    let meters = Meters::default();
    // The phrase bank stays empty: this speaks through the queue, not the session text.
    let (mut stream, _bank) = service.attach(output_rate as f32, BLOCK);
    stream.set_waiting(true);
    let mut cursor = service.event_cursor();
    let spoken_at = Instant::now();
    let Phrase { text, voicing } = phrase;
    let phrase = service.speak_as(text.to_owned(), voicing);

    let mut bus = vec![vec![0.0f32; BLOCK]; channels];
    let mut position = 0;
    let mut first_audio = None;
    let mut voice_samples = 0u64;
    let mut voice_end = 0u64;
    let mut phrase_start = None;
    let no_sidechain: [&[f32]; 0] = [];
    let mut ended = Ended::Complete;
    while position < host_len || stream.is_active() {
        for (c, channel) in bus.iter_mut().enumerate() {
            let from = host
                .and_then(|h| h.get(c))
                .map_or(&[][..], |h| h.get(position..).unwrap_or(&[]));
            let n = from.len().min(BLOCK);
            channel[..n].copy_from_slice(&from[..n]);
            channel[n..].fill(0.0);
        }
        let voice = stream.read_voice(BLOCK);
        let heard = voice.iter().filter(|&&x| x != 0.0).count() as u64;
        if heard > 0 {
            first_audio.get_or_insert_with(|| spoken_at.elapsed());
        }
        voice_samples += heard;
        let mut outs: Vec<&mut [f32]> = bus.iter_mut().map(|c| &mut c[..]).collect();
        path.process(settings, &mut outs, &no_sidechain, voice, &[], &meters);
        service.events_since(&mut cursor, &mut |event| {
            if event.kind != PhraseEventKind::Started {
                voice_end = voice_end.max(event.at);
            } else if event.id == phrase {
                phrase_start.get_or_insert(event.at);
            }
        });
        let open = emit(&bus);
        position += BLOCK;
        let too_long = limits.max_samples.is_some_and(|max| position >= max);
        let abandoned = !open
            || (position % (BLOCK * LOOK_EVERY_BLOCKS) == 0
                && limits.abandoned.as_mut().is_some_and(|gone| gone()));
        if too_long || abandoned {
            ended = if too_long {
                Ended::TooLong
            } else {
                Ended::Abandoned
            };
            service.control().cancel(phrase);
            break;
        }
    }
    // As long as the host signal, or to the end of the speech if it runs past it; cut short,
    // what was rendered.
    let length = match ended {
        Ended::Complete => host_len.max(usize::try_from(voice_end).unwrap_or(usize::MAX)),
        Ended::TooLong | Ended::Abandoned => position,
    };
    let rendered = Rendered {
        ended,
        channels: Vec::new(),
        voice_samples,
        first_audio,
        first_audio_at: first_audio.map(|d| spoken_at + d),
        total: spoken_at.elapsed(),
        underruns: stream.underruns(),
        failure: service.failure(phrase).map(|why| why.to_string()),
        phrase_start,
        words: service.word_timings(phrase),
    };
    (rendered, length)
}

/// The word timings of a render as JSON: each word's span in samples of the rendered output
/// (`start_sample`, `end_sample`: the phrase's start plus the word's place in it) and in
/// milliseconds from the phrase's first sample, its place in `text` (bytes, `char_start` and
/// `char_end` in characters), and its phonemes with their spans. `complete` is false when the
/// voice gives no timings for some or all of the speech (its words are then missing).
pub fn timings_json(rendered: &Rendered, text: &str, sample_rate: u32) -> serde_json::Value {
    let start = rendered.phrase_start.unwrap_or(0);
    let ms = |samples: u64| samples as f64 * 1000.0 / f64::from(sample_rate.max(1));
    let chars = |byte: usize| text.get(..byte).map(|t| t.chars().count());
    let words: Vec<serde_json::Value> = rendered
        .words
        .as_ref()
        .map(|w| &w.words[..])
        .unwrap_or_default()
        .iter()
        .map(|w| {
            let phonemes: Vec<serde_json::Value> = w
                .phonemes
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "phoneme": p.phoneme.to_string(),
                        "start_sample": start + p.span.start,
                        "end_sample": start + p.span.end,
                        "start_ms": ms(p.span.start),
                        "end_ms": ms(p.span.end),
                    })
                })
                .collect();
            serde_json::json!({
                "index": w.index,
                "text": w.text,
                "char_start": w.range.and_then(|(a, _)| chars(a)),
                "char_end": w.range.and_then(|(_, b)| chars(b)),
                "start_sample": start + w.span.start,
                "end_sample": start + w.span.end,
                "start_ms": ms(w.span.start),
                "end_ms": ms(w.span.end),
                "phonemes": phonemes,
            })
        })
        .collect();
    serde_json::json!({
        "text": text,
        "sample_rate": sample_rate,
        "phrase_start_sample": start,
        "complete": rendered.words.as_ref().is_some_and(|w| w.complete && w.finished),
        "words": words,
    })
}

/// The subtitle cues of a render ([`super::subtitles`]), times from the output's first sample.
pub fn subtitle_cues(rendered: &Rendered, text: &str) -> Vec<super::subtitles::Cue> {
    let Some(words) = rendered.words.as_ref() else {
        return Vec::new();
    };
    super::subtitles::cues(
        &words.words,
        text,
        words.sample_rate,
        rendered.phrase_start.unwrap_or(0),
    )
}

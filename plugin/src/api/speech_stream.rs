//! A speech response sent as it is made: HTTP chunked transfer of the audio itself
//! (`stream_format` `audio`), or server-sent events as OpenAI sends them (`sse`: one
//! `speech.audio.delta` per piece, its audio in base64, then `speech.audio.done`).
//!
//! The head goes out with the first audio, not before: a request that fails before any sound
//! (its voice cannot load, nothing readable is spoken, the render is refused) still gets its
//! error status. Once the head is out, a render that fails or is cut ends the response
//! without its last chunk, which every HTTP client reports as an incomplete body.
//!
//! `flac` is not streamed (the routes send it whole). A `wav` stream starts with a header whose
//! sizes read "to the end" (0xFFFFFFFF), as OpenAI's streamed WAV does; the samples after it are
//! those of the whole file. An `mp3` or `opus` stream is the encoder's output as it comes, the
//! same bytes as the whole file (what an encoder holds back for its next frame or page waits
//! for the next piece).
//!
//! Thread model: the connection's thread, which also runs the render; the socket's write
//! timeout bounds each write, [`STREAM_DEADLINE`] the whole response.

use super::formats::{EncodeError, StreamEncoder};
use super::http::{self, Deadline};
use super::openai::{self, Format, StreamFormat};
use std::io::Write;
use std::time::Duration;

/// The longest a streamed response may take, render included (a render stops at
/// [`openai::MAX_RENDER_SECONDS`] of audio, made many times faster than real time).
pub const STREAM_DEADLINE: Duration = Duration::from_secs(120);

/// A response being streamed to one client.
pub struct Streamed<W: Write> {
    out: Deadline<W>,
    format: Format,
    stream: StreamFormat,
    /// Whether the head went out.
    started: bool,
    /// Whether a write failed (the client is gone or too slow): nothing more is sent.
    failed: bool,
    /// The piece being sent, reused.
    bytes: Vec<u8>,
    /// The encoder of an `mp3` or `opus` response, and its samples, reused.
    encoder: Option<StreamEncoder>,
    samples: Vec<i16>,
    /// When the first audio bytes went out.
    first_piece: Option<std::time::Instant>,
}

impl<W: Write> Streamed<W> {
    /// A response to `out` in `format`, sent as `stream` says.
    pub fn new(out: W, format: Format, stream: StreamFormat) -> Result<Self, EncodeError> {
        let encoder = StreamEncoder::new(format, openai::RATE, 1)?;
        Ok(Self {
            out: Deadline::new(out, STREAM_DEADLINE),
            format,
            stream,
            started: false,
            failed: false,
            bytes: Vec::new(),
            encoder,
            samples: Vec::new(),
            first_piece: None,
        })
    }

    /// Whether the head went out (an error can then no longer be told by its status).
    pub fn started(&self) -> bool {
        self.started
    }

    /// When the first audio bytes were written (the head alone does not count).
    pub fn first_piece(&self) -> Option<std::time::Instant> {
        self.first_piece
    }

    /// Sends `samples` (the head first, with the first piece). False once the client can no
    /// longer be written to.
    pub fn send(&mut self, samples: &[f32]) -> bool {
        if self.failed {
            return false;
        }
        self.start_piece();
        if let Some(encoder) = &mut self.encoder {
            self.samples.clear();
            self.samples
                .extend(samples.iter().map(|&x| openai::sample_i16(x)));
            if encoder.encode(&self.samples, &mut self.bytes).is_err() {
                self.failed = true;
                return false;
            }
        } else {
            for &x in samples {
                self.bytes
                    .extend_from_slice(&openai::sample_i16(x).to_le_bytes());
            }
        }
        let sent = self.head().and_then(|()| self.piece());
        self.failed = sent.is_err();
        !self.failed
    }

    /// Ends the response: the `speech.audio.done` event for SSE, then the last chunk.
    pub fn finish(mut self) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client stopped reading",
            ));
        }
        self.start_piece();
        if let Some(encoder) = self.encoder.take() {
            encoder
                .finish(&mut self.bytes)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        self.head()?;
        self.piece()?;
        if self.stream == StreamFormat::Sse {
            chunk(&mut self.out, b"data: {\"type\":\"speech.audio.done\"}\n\n")?;
        }
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()
    }

    /// Empties the piece being built, and starts it with a streamed WAV's header when it is
    /// the response's first.
    fn start_piece(&mut self) {
        self.bytes.clear();
        if !self.started && self.format == Format::Wav {
            self.bytes.extend_from_slice(&openai::wav_header(None));
        }
    }

    /// Sends the head if it has not gone out.
    fn head(&mut self) -> std::io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let content_type = match self.stream {
            StreamFormat::Audio => self.format.content_type(),
            StreamFormat::Sse => "text/event-stream",
        };
        self.out
            .write_all(http::head(200, content_type, None).as_bytes())
    }

    /// Sends `self.bytes` as one chunk (audio) or one delta event (SSE); nothing when it is
    /// empty (an empty chunk would end the response).
    fn piece(&mut self) -> std::io::Result<()> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        self.first_piece.get_or_insert_with(std::time::Instant::now);
        match self.stream {
            StreamFormat::Audio => chunk(&mut self.out, &self.bytes)?,
            StreamFormat::Sse => {
                let event = format!(
                    "data: {{\"type\":\"speech.audio.delta\",\"audio\":\"{}\"}}\n\n",
                    http::base64(&self.bytes)
                );
                chunk(&mut self.out, event.as_bytes())?;
            }
        }
        self.out.flush()
    }
}

/// Writes `data` as one HTTP chunk.
fn chunk(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(data)?;
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of a chunked response, its chunks joined; `None` if it is not whole.
    fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let line_end = body.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&body[..line_end]).ok()?, 16).ok()?;
            body = &body[line_end + 2..];
            if size == 0 {
                return (body == b"\r\n").then_some(out);
            }
            out.extend_from_slice(body.get(..size)?);
            body = body.get(size + 2..)?;
        }
    }

    fn split(response: &[u8]) -> (String, &[u8]) {
        let at = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        (
            String::from_utf8_lossy(&response[..at]).into_owned(),
            &response[at + 4..],
        )
    }

    #[test]
    fn streamed_audio_is_the_whole_files_bytes_in_chunks() {
        let samples: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        for format in [Format::Pcm, Format::Wav, Format::Mp3, Format::Opus] {
            let mut response = Vec::new();
            let mut streamed =
                Streamed::new(&mut response, format, StreamFormat::Audio).expect("an encoder");
            for piece in samples.chunks(300) {
                assert!(streamed.send(piece));
            }
            streamed.finish().expect("written");
            let (head, body) = split(&response);
            assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
            assert!(head.contains(format.content_type()), "{head}");
            let body = dechunk(body).expect("a whole chunked body");
            let whole = openai::encode(&openai::to_i16(&samples), format).expect("encoded");
            match format {
                Format::Pcm | Format::Mp3 | Format::Opus => assert_eq!(body, whole),
                // The same samples after a header that reads "to the end".
                Format::Wav | Format::Flac => {
                    assert_eq!(body[44..], whole[44..]);
                    assert_eq!(body[40..44], [0xff; 4]);
                }
            }
        }
    }

    #[test]
    fn sse_sends_deltas_then_done() {
        let mut response = Vec::new();
        let mut streamed =
            Streamed::new(&mut response, Format::Pcm, StreamFormat::Sse).expect("a stream");
        assert!(streamed.send(&[0.5, -0.5]));
        assert!(streamed.send(&[0.25]));
        streamed.finish().expect("written");
        let (head, body) = split(&response);
        assert!(head.contains("text/event-stream"), "{head}");
        let text = String::from_utf8(dechunk(body).expect("whole")).expect("text");
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 3, "{text}");
        let first = openai::pcm_bytes(&openai::to_i16(&[0.5, -0.5]));
        assert_eq!(
            events[0],
            format!(
                "data: {{\"type\":\"speech.audio.delta\",\"audio\":\"{}\"}}",
                http::base64(&first)
            )
        );
        assert_eq!(events[2], "data: {\"type\":\"speech.audio.done\"}");
    }

    #[test]
    fn a_client_that_stops_reading_ends_the_stream_without_its_last_chunk() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut streamed =
            Streamed::new(Closed, Format::Pcm, StreamFormat::Audio).expect("a stream");
        assert!(!streamed.send(&[0.5]));
        assert!(!streamed.send(&[0.5]), "nothing more is tried");
        assert!(streamed.finish().is_err());
    }
}

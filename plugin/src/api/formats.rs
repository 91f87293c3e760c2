//! The response formats and their encoders behind one face: [`Format`] names what a client
//! asked for; [`StreamEncoder`] encodes `mp3` and `opus` piece by piece as a render makes its
//! samples; [`encode_file`] encodes a whole file in any compressed format (`flac` is only ever
//! encoded whole). `pcm` and `wav` need no encoder (see [`super::openai`]).
//!
//! Thread model: whichever thread renders (an HTTP connection's, the CLI's main thread).

use super::flac::{self, FlacError};
use super::mp3::{Mp3Error, Mp3Stream};
use super::opus::{OpusError, OpusStream};

/// A response's (or an output file's) format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A WAV file of 16-bit samples.
    Wav,
    /// Raw 16-bit signed little-endian samples.
    Pcm,
    /// A FLAC file of the same samples, encoded whole ([`super::flac`]).
    Flac,
    /// An MP3, constant bit rate ([`super::mp3`]).
    Mp3,
    /// Ogg Opus ([`super::opus`]).
    Opus,
}

impl Format {
    /// The format a name asks for (`response_format`, a file's extension), any case.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "wav" => Self::Wav,
            "pcm" => Self::Pcm,
            "flac" => Self::Flac,
            "mp3" => Self::Mp3,
            "opus" => Self::Opus,
            _ => return None,
        })
    }

    /// Its name, as `response_format` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Pcm => "pcm",
            Self::Flac => "flac",
            Self::Mp3 => "mp3",
            Self::Opus => "opus",
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Pcm => "audio/pcm",
            Self::Flac => "audio/flac",
            Self::Mp3 => "audio/mpeg",
            Self::Opus => "audio/ogg",
        }
    }
}

/// Why audio could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Flac(#[from] FlacError),
    #[error(transparent)]
    Mp3(#[from] Mp3Error),
    #[error(transparent)]
    Opus(#[from] OpusError),
}

/// An encoder fed piece by piece.
pub enum StreamEncoder {
    Mp3(Mp3Stream),
    Opus(OpusStream),
}

impl StreamEncoder {
    /// The encoder `format` streams with at `rate` for `channels`; None for a format that
    /// streams without one (`pcm`, `wav`) or is encoded whole (`flac`).
    pub fn new(format: Format, rate: u32, channels: usize) -> Result<Option<Self>, EncodeError> {
        Ok(match format {
            Format::Mp3 => Some(Self::Mp3(Mp3Stream::new(rate, channels)?)),
            Format::Opus => Some(Self::Opus(OpusStream::new(rate, channels)?)),
            Format::Wav | Format::Pcm | Format::Flac => None,
        })
    }

    /// Encodes `interleaved` samples, appending what is ready to `out`.
    pub fn encode(&mut self, interleaved: &[i16], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Mp3(s) => s.encode(interleaved, out)?,
            Self::Opus(s) => s.encode(interleaved, out)?,
        }
        Ok(())
    }

    /// Ends the file, appending its last bytes to `out`.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Mp3(s) => s.finish(out)?,
            Self::Opus(s) => s.finish(out)?,
        }
        Ok(())
    }
}

/// A whole file in a compressed `format` (`flac`, `mp3`, `opus`) of `interleaved` 16-bit
/// samples, `channels` per frame, at `rate`; None for `pcm` and `wav`, which need no encoder.
pub fn encode_file(
    interleaved: &[i16],
    channels: usize,
    rate: u32,
    format: Format,
) -> Result<Option<Vec<u8>>, EncodeError> {
    if format == Format::Flac {
        return Ok(Some(flac::encode(interleaved, channels, rate)?));
    }
    let Some(mut encoder) = StreamEncoder::new(format, rate, channels)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    encoder.encode(interleaved, &mut out)?;
    encoder.finish(&mut out)?;
    Ok(Some(out))
}

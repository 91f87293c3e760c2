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

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, step: f32, level: f32) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f32 * step).sin() * level) as i16)
            .collect()
    }

    fn file(samples: &[i16], channels: usize, rate: u32, format: Format) -> Vec<u8> {
        encode_file(samples, channels, rate, format)
            .expect("encoded")
            .expect("a compressed format")
    }

    #[test]
    fn an_mp3_is_whole_frames_at_its_bit_rate() {
        // Two seconds of a tone, mono at 24 kHz: MPEG-2 layer III frames, 64 kbit/s.
        let mp3 = file(&tone(48_000, 0.05, 8000.0), 1, 24_000, Format::Mp3);
        assert_eq!(&mp3[..2], &[0xff, 0xf3], "an MPEG-2 layer III frame first");
        let seconds = mp3.len() as f64 * 8.0 / 64_000.0;
        assert!((1.9..2.3).contains(&seconds), "{} bytes", mp3.len());
    }

    #[test]
    fn an_opus_file_starts_with_its_headers_and_ends_at_its_last_sample() {
        let opus = file(&tone(24_100, 0.05, 8000.0), 1, 24_000, Format::Opus);
        assert_eq!(&opus[..4], b"OggS");
        assert_eq!(&opus[28..36], b"OpusHead");
        // The last page: its granule position is the pre-skip plus the samples at 48 kHz.
        let last = opus.windows(4).rposition(|w| w == b"OggS").expect("pages");
        assert_eq!(opus[last + 5] & 4, 4, "the last page ends the stream");
        let granule = u64::from_le_bytes(opus[last + 6..last + 14].try_into().expect("8 bytes"));
        let pre_skip = u64::from(u16::from_le_bytes([opus[38], opus[39]]));
        assert_eq!(granule, pre_skip + 24_100 * 2);
    }

    #[test]
    fn streamed_pieces_make_the_same_file_as_the_whole() {
        let samples = tone(20_000, 0.031, 6000.0);
        for format in [Format::Mp3, Format::Opus] {
            let whole = file(&samples, 2, 48_000, format);
            let mut encoder = StreamEncoder::new(format, 48_000, 2)
                .expect("an encoder")
                .expect("a streaming format");
            let mut pieces = Vec::new();
            for piece in samples.chunks(1000) {
                encoder.encode(piece, &mut pieces).expect("encoded");
            }
            encoder.finish(&mut pieces).expect("finished");
            assert_eq!(pieces, whole, "{format:?}");
        }
    }

    #[test]
    fn formats_are_named_as_clients_name_them() {
        for format in [
            Format::Wav,
            Format::Pcm,
            Format::Flac,
            Format::Mp3,
            Format::Opus,
        ] {
            assert_eq!(Format::named(format.name()), Some(format));
        }
        assert_eq!(Format::named("MP3"), Some(Format::Mp3));
        assert_eq!(Format::named("aac"), None);
    }
}

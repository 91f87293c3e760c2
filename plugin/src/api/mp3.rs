//! MP3 for the API's `mp3` (OpenAI's default format) and `orator say --out x.mp3`, encoded by
//! LAME (`mp3lame-encoder`, LAME 3.100 built from source for each platform; LGPL-3.0, which
//! Orator's GPL-3.0 allows). Constant bit rate, so a file cut short still plays and a stream
//! can be read as it arrives: 64 kbit/s a channel at 24 kHz and under, 96 above (a mono 24 kHz
//! response is 64 kbit/s, a stereo 48 kHz file 192), LAME's quality 2 (its "near best").
//!
//! [`Mp3Stream`] encodes piece by piece (a whole file: [`super::formats::encode_file`]).
//!
//! Thread model: whichever thread renders (an HTTP connection's, the CLI's main thread).

use mp3lame_encoder::{Bitrate, Builder, Encoder, FlushGap, InterleavedPcm, MonoPcm, Quality};

/// The rates MP3 (MPEG-1, 2 and 2.5 layer III) carries.
pub const RATES: [u32; 9] = [
    8000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// Why an MP3 could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mp3Error {
    /// A rate MP3 cannot carry.
    #[error(
        "MP3 carries 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 or 48 kHz audio, not {0} Hz: choose \
         one of those rates"
    )]
    Rate(u32),
    /// A channel count other than 1 or 2.
    #[error("MP3 carries 1 or 2 channels, not {0}")]
    Channels(usize),
    /// LAME refused its settings.
    #[error("could not set up the MP3 encoder: {0}")]
    Setup(String),
    /// LAME failed while encoding.
    #[error("the MP3 encoder failed: {0}")]
    Encode(String),
}

/// An MP3 being encoded piece by piece.
pub struct Mp3Stream {
    encoder: Encoder,
    channels: usize,
}

impl Mp3Stream {
    /// An encoder for `channels` (1 or 2) at `rate`.
    pub fn new(rate: u32, channels: usize) -> Result<Self, Mp3Error> {
        if !RATES.contains(&rate) {
            return Err(Mp3Error::Rate(rate));
        }
        let (count, bitrate) = match (channels, rate <= 24_000) {
            (1, true) => (1, Bitrate::Kbps64),
            (1, false) => (1, Bitrate::Kbps96),
            (2, true) => (2, Bitrate::Kbps128),
            (2, false) => (2, Bitrate::Kbps192),
            _ => return Err(Mp3Error::Channels(channels)),
        };
        let setup = |e: &dyn std::fmt::Display| Mp3Error::Setup(e.to_string());
        let mut builder = Builder::new().ok_or_else(|| setup(&"LAME could not start"))?;
        builder.set_num_channels(count).map_err(|e| setup(&e))?;
        builder.set_sample_rate(rate).map_err(|e| setup(&e))?;
        builder.set_brate(bitrate).map_err(|e| setup(&e))?;
        builder
            .set_quality(Quality::NearBest)
            .map_err(|e| setup(&e))?;
        // No Xing/LAME tag frame: in a stream it would stay the placeholder LAME writes first
        // (its lengths unknown), which decoders read as wrong gapless trims.
        builder.set_to_write_vbr_tag(false).map_err(|e| setup(&e))?;
        let encoder = builder.build().map_err(|e| setup(&e))?;
        Ok(Self { encoder, channels })
    }

    /// Encodes `interleaved` samples, appending what LAME has ready to `out` (nothing, for a
    /// piece shorter than its frame and look-ahead).
    pub fn encode(&mut self, interleaved: &[i16], out: &mut Vec<u8>) -> Result<(), Mp3Error> {
        let frames = interleaved.len() / self.channels;
        out.reserve(mp3lame_encoder::max_required_buffer_size(frames));
        let encoded = if self.channels == 1 {
            self.encoder.encode_to_vec(MonoPcm(interleaved), out)
        } else {
            self.encoder
                .encode_to_vec(InterleavedPcm(&interleaved[..frames * 2]), out)
        };
        encoded
            .map(|_| ())
            .map_err(|e| Mp3Error::Encode(e.to_string()))
    }

    /// Ends the file: what LAME still holds, its last frame padded.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Mp3Error> {
        out.reserve(mp3lame_encoder::max_required_buffer_size(0));
        self.encoder
            .flush_to_vec::<FlushGap>(out)
            .map(|_| ())
            .map_err(|e| Mp3Error::Encode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_channels_mp3_cannot_carry_are_refused() {
        assert_eq!(
            Mp3Stream::new(96_000, 1).err(),
            Some(Mp3Error::Rate(96_000))
        );
        assert_eq!(Mp3Stream::new(24_000, 3).err(), Some(Mp3Error::Channels(3)));
        assert!(Mp3Stream::new(24_000, 1).is_ok());
    }
}

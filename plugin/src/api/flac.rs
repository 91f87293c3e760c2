//! FLAC files of rendered speech, for the API's `flac` format and `orator say --out x.flac`:
//! 16-bit samples (as `pcm` and `wav` carry them), any channel count and rate, encoded whole by
//! `flacenc` (pure Rust; lossless, so the samples decode back exactly).
//!
//! Thread model: whichever thread renders (an HTTP connection's, the CLI's main thread).

use flacenc::component::BitRepr;
use flacenc::error::Verify;

/// The block size frames are cut at: the reference encoder's default at these rates.
const BLOCK: usize = 4096;

/// Why a FLAC file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FlacError {
    /// The encoder refused the stream's shape (no channels, more than 8, a rate FLAC cannot
    /// carry) or its samples.
    #[error("could not encode FLAC: {0}")]
    Encode(String),
}

/// A FLAC file of `interleaved` 16-bit samples, `channels` of them per frame, at `rate` Hz.
pub fn encode(interleaved: &[i16], channels: usize, rate: u32) -> Result<Vec<u8>, FlacError> {
    let fail = |e: &dyn std::fmt::Debug| FlacError::Encode(format!("{e:?}"));
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| fail(&e))?;
    let samples: Vec<i32> = interleaved.iter().map(|&s| i32::from(s)).collect();
    let source = flacenc::source::MemSource::from_samples(&samples, channels, 16, rate as usize);
    let stream =
        flacenc::encode_with_fixed_block_size(&config, source, BLOCK).map_err(|e| fail(&e))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| fail(&e))?;
    Ok(sink.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The samples of a FLAC file, read by an independent decoder.
    fn decode(file: &[u8]) -> (u32, u32, Vec<i16>) {
        let mut reader = claxon::FlacReader::new(file).expect("a FLAC file");
        let info = reader.streaminfo();
        let samples = reader
            .samples()
            .map(|s| i16::try_from(s.expect("a sample")).expect("16-bit"))
            .collect();
        (info.sample_rate, info.channels, samples)
    }

    #[test]
    fn samples_decode_back_exactly() {
        let mono: Vec<i16> = (0..24_000 + 123)
            .map(|i| ((i as f32 * 0.013).sin() * 20_000.0) as i16)
            .collect();
        let file = encode(&mono, 1, 24_000).expect("encoded");
        assert!(file.len() < mono.len() * 2, "{} bytes", file.len());
        assert_eq!(decode(&file), (24_000, 1, mono.clone()));
        let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s / 3]).collect();
        let file = encode(&stereo, 2, 48_000).expect("encoded");
        assert_eq!(decode(&file), (48_000, 2, stereo));
        assert!(
            decode(&encode(&[], 1, 24_000).expect("encoded"))
                .2
                .is_empty()
        );
    }

    #[test]
    fn a_shape_flac_cannot_carry_is_refused() {
        assert!(encode(&[0; 18], 9, 24_000).is_err());
    }
}

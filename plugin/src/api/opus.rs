//! Ogg Opus for the API's `opus` and `orator say --out x.opus` (RFC 7845): libopus (BSD,
//! built from source for each platform by `opusic-sys`) in 20 ms packets, in Ogg pages written
//! by the `ogg` crate. 32 kbit/s a channel, the "audio" application (speech and music alike),
//! at 8, 12, 16, 24 or 48 kHz (the rates Opus takes).
//!
//! The header gives the encoder's look-ahead as the pre-skip, and the last page's granule
//! position ends the stream at its last real sample, so a decoder gives back exactly the
//! samples encoded: no delay at the start, no padding at the end. A page is closed with the
//! first packet and then every 100 ms (so a stream can be read as it arrives, for 28 bytes a
//! page), and at the end.
//!
//! Thread model: whichever thread renders (an HTTP connection's, the CLI's main thread).

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels, Encoder};

/// The rates Opus takes.
pub const RATES: [u32; 5] = [8000, 12_000, 16_000, 24_000, 48_000];
/// Granule positions count 48 kHz samples, whatever the input's rate.
const GRANULE_RATE: u64 = 48_000;
/// Packets per page after the first.
const PACKETS_PER_PAGE: u64 = 5;
/// The largest packet libopus is given room for.
const MAX_PACKET: usize = 4000;
/// The stream's serial number (one stream per file).
const SERIAL: u32 = 0x4f52_4154;

/// Why an Ogg Opus file could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpusError {
    /// A rate Opus does not take.
    #[error("Opus takes 8, 12, 16, 24 or 48 kHz audio, not {0} Hz: choose one of those rates")]
    Rate(u32),
    /// A channel count other than 1 or 2.
    #[error("Opus here carries 1 or 2 channels, not {0}")]
    Channels(usize),
    /// libopus refused its settings or failed.
    #[error("the Opus encoder failed: {0}")]
    Encode(String),
}

fn failed(e: impl std::fmt::Display) -> OpusError {
    OpusError::Encode(e.to_string())
}

/// An Ogg Opus file being encoded piece by piece.
pub struct OpusStream {
    encoder: Encoder,
    writer: PacketWriter<'static, Vec<u8>>,
    channels: usize,
    /// Samples (interleaved) per 20 ms packet.
    frame: usize,
    /// Samples waiting for a whole packet.
    pending: Vec<i16>,
    packet: Vec<u8>,
    pre_skip: u64,
    /// Real frames (per channel) taken in, and packets written.
    frames_in: u64,
    packets: u64,
}

impl OpusStream {
    /// An encoder for `channels` (1 or 2) at `rate`; its headers are ready for the first
    /// [`Self::encode`].
    pub fn new(rate: u32, channels: usize) -> Result<Self, OpusError> {
        if !RATES.contains(&rate) {
            return Err(OpusError::Rate(rate));
        }
        let layout = match channels {
            1 => Channels::Mono,
            2 => Channels::Stereo,
            _ => return Err(OpusError::Channels(channels)),
        };
        let mut encoder = Encoder::new(rate, layout, Application::Audio).map_err(failed)?;
        encoder
            .set_bitrate(Bitrate::Bits(32_000 * channels as i32))
            .map_err(failed)?;
        let lookahead = u64::try_from(encoder.get_lookahead().map_err(failed)?).unwrap_or(0);
        let pre_skip = lookahead * GRANULE_RATE / u64::from(rate);
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1);
        head.push(channels as u8);
        head.extend_from_slice(&u16::try_from(pre_skip).unwrap_or(u16::MAX).to_le_bytes());
        head.extend_from_slice(&rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        let vendor = b"Orator (libopus)";
        let mut tags = Vec::with_capacity(16 + vendor.len());
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        let mut writer = PacketWriter::new(Vec::new());
        for header in [head, tags] {
            writer
                .write_packet(header, SERIAL, PacketWriteEndInfo::EndPage, 0)
                .map_err(failed)?;
        }
        Ok(Self {
            encoder,
            writer,
            channels,
            frame: rate as usize / 50 * channels,
            pending: Vec::new(),
            packet: vec![0; MAX_PACKET],
            pre_skip,
            frames_in: 0,
            packets: 0,
        })
    }

    /// Encodes `interleaved` samples, appending the pages ready to `out`.
    pub fn encode(&mut self, interleaved: &[i16], out: &mut Vec<u8>) -> Result<(), OpusError> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(interleaved);
        let whole = pending.len() / self.frame * self.frame;
        for frame in pending[..whole].chunks(self.frame) {
            self.frames_in += (self.frame / self.channels) as u64;
            self.write_packet(frame, None)?;
        }
        pending.drain(..whole);
        self.pending = pending;
        out.append(self.writer.inner_mut());
        Ok(())
    }

    /// Ends the file: the last samples padded to a packet, and packets of silence while the
    /// encoder still holds real samples (its look-ahead), the stream's end at the last of them.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), OpusError> {
        self.frames_in += (self.pending.len() / self.channels) as u64;
        let per_packet = self.per_packet();
        // Decoded samples run `pre_skip` behind the input: the stream ends that far past the
        // last real sample's place.
        let end = self.pre_skip + self.frames_in * per_packet / (self.frame / self.channels) as u64;
        let mut packet = std::mem::take(&mut self.pending);
        packet.resize(self.frame, 0);
        loop {
            let last = (self.packets + 1) * per_packet >= end;
            self.write_packet(&packet, last.then_some(end))?;
            if last {
                break;
            }
            packet.fill(0);
        }
        out.append(self.writer.inner_mut());
        Ok(())
    }

    /// Granule positions per packet: 20 ms at 48 kHz.
    fn per_packet(&self) -> u64 {
        GRANULE_RATE / 50
    }

    /// Encodes and writes one packet; `end` (the stream's last granule position) makes it the
    /// stream's last. A packet's granule position counts every sample decoded up to its end,
    /// the pre-skip's included.
    fn write_packet(&mut self, samples: &[i16], end: Option<u64>) -> Result<(), OpusError> {
        let size = self
            .encoder
            .encode(samples, &mut self.packet)
            .map_err(failed)?;
        self.packets += 1;
        let granule = end.unwrap_or(self.packets * self.per_packet());
        let info = if end.is_some() {
            PacketWriteEndInfo::EndStream
        } else if self.packets == 1 || self.packets.is_multiple_of(PACKETS_PER_PAGE) {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        self.writer
            .write_packet(self.packet[..size].to_vec(), SERIAL, info, granule)
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_channels_opus_cannot_take_are_refused() {
        assert_eq!(
            OpusStream::new(22_050, 1).err(),
            Some(OpusError::Rate(22_050))
        );
        assert_eq!(
            OpusStream::new(24_000, 3).err(),
            Some(OpusError::Channels(3))
        );
    }
}

//! The plugin's whole signal path as plain code: voice chain → ducking → the strip mixer.
//! `process()` fills [`PathSettings`] from the parameters and hands the host's buffers here;
//! the command line (`orator say --input`) and the benches drive the very same code.

use super::duck::Ducker;
use super::mix::{Mixer, Source, StripSettings};
use super::voice_chain::{VoiceChain, VoiceChainSettings};
use crate::loudness::live::LiveMeter;
use crate::meters::Meters;
use std::sync::atomic::Ordering;

/// The mixer's strips, in order.
pub mod strip {
    /// The host's own signal (the main input).
    pub const HOST: usize = 0;
    /// Orator's voice.
    pub const VOICE: usize = 1;
    /// The sidechain input, when routed to the output.
    pub const SIDECHAIN: usize = 2;
    /// How many there are.
    pub const COUNT: usize = 3;
}

/// What keys the ducker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuckKey {
    /// Orator's voice as it will be heard.
    #[default]
    Voice,
    /// The sidechain input.
    Sidechain,
    /// Whichever is louder.
    Either,
}

/// Ducking settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuckSettings {
    /// How far the host signal dips, dB (≤ 0).
    pub depth_db: f32,
    pub attack_ms: f32,
    pub release_ms: f32,
    pub key: DuckKey,
}

impl Default for DuckSettings {
    fn default() -> Self {
        Self {
            depth_db: -12.0,
            attack_ms: 10.0,
            release_ms: 400.0,
            key: DuckKey::Voice,
        }
    }
}

/// Every setting of the path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathSettings {
    /// Strips, indexed by [`strip`].
    pub strips: [StripSettings; strip::COUNT],
    /// Output gain, linear.
    pub output: f32,
    pub duck: DuckSettings,
    pub voice_chain: VoiceChainSettings,
}

impl Default for PathSettings {
    fn default() -> Self {
        let mut strips = [StripSettings::default(); strip::COUNT];
        strips[strip::SIDECHAIN].gain = 0.0;
        Self {
            strips,
            output: 1.0,
            duck: DuckSettings::default(),
            voice_chain: VoiceChainSettings::default(),
        }
    }
}

/// The path. Audio-thread state; `prepare` allocates, `process` does not.
#[derive(Debug, Clone)]
pub struct SignalPath {
    mixer: Mixer,
    ducker: Ducker,
    voice_chain: VoiceChain,
    /// The ducking key for the current block (mono).
    key: Vec<f32>,
    /// The ducker's gain per sample of the current block.
    duck_gains: Vec<f32>,
    /// The voice's short-term loudness and true peak, for the editor.
    voice_loudness: LiveMeter,
}

impl Default for SignalPath {
    fn default() -> Self {
        Self::with_extra_strips(0)
    }
}

impl SignalPath {
    /// A path whose mixer has `extra` more strips after the plugin's own three, for sources
    /// passed to [`SignalPath::process`] (up to the mixer's limit of 32 strips in all).
    pub fn with_extra_strips(extra: usize) -> Self {
        Self {
            mixer: Mixer::new(strip::COUNT + extra),
            ducker: Ducker::default(),
            voice_chain: VoiceChain::default(),
            key: Vec::new(),
            duck_gains: Vec::new(),
            voice_loudness: LiveMeter::new(48_000.0),
        }
    }

    /// Sizes everything for this rate and block size. Allocates.
    pub fn prepare(&mut self, sample_rate: f32, max_block: usize) {
        self.mixer.prepare(sample_rate, max_block);
        self.ducker.prepare(sample_rate);
        self.voice_chain.prepare(sample_rate, max_block);
        self.voice_loudness = LiveMeter::new(sample_rate);
        let len = max_block.max(1);
        self.key.clear();
        self.key.resize(len, 0.0);
        self.duck_gains.clear();
        self.duck_gains.resize(len, 1.0);
    }

    /// Applies `settings` at once, without ramps, and clears all state (transport reset).
    pub fn reset(&mut self, settings: &PathSettings, bus_channels: usize, sidechain_stereo: bool) {
        self.set(settings);
        self.mixer
            .settle(bus_channels, &[bus_channels >= 2, false, sidechain_stereo]);
        self.mixer.reset();
        self.ducker.reset();
        self.voice_chain.reset();
        self.voice_loudness.reset();
    }

    fn set(&mut self, s: &PathSettings) {
        for (index, strip) in s.strips.iter().enumerate() {
            self.mixer.set_strip(index, *strip);
        }
        self.mixer.set_output(s.output);
        self.ducker
            .set(s.duck.depth_db, s.duck.attack_ms, s.duck.release_ms);
        self.voice_chain.set(&s.voice_chain);
    }

    /// Runs one block in place on `bus` (the host's main channels): the voice through its
    /// chain, the host signal (and a routed sidechain) ducked under the key, every strip mixed.
    /// `voice` is processed in place; `sidechain` may be empty; `extra` feeds the strips after
    /// the sidechain's, at unity, undducked. Blocks longer than the prepared
    /// size get the ducker's gain for the prepared length and unity after it (hosts must not
    /// send them; this only keeps such a block safe).
    ///
    /// # Realtime safety
    /// No allocation, locking or panicking paths.
    pub fn process<C: AsRef<[f32]>>(
        &mut self,
        settings: &PathSettings,
        bus: &mut [&mut [f32]],
        sidechain: &[C],
        voice: &mut [f32],
        extra: &[Source],
        meters: &Meters,
    ) {
        self.set(settings);
        meters.input.measure(bus);
        meters.sidechain.measure(sidechain);
        // The voice is model output: cleaned like host input before any filter or envelope
        // can keep a NaN in its state.
        for v in voice.iter_mut() {
            *v = super::sanitize::sanitize(*v);
        }
        self.voice_chain.process(voice);
        meters.voice.measure(&[&*voice]);
        self.voice_loudness.process(voice, &meters.voice_loudness);

        // The key: the voice as it will be heard, the sidechain, or the louder of the two.
        let frames = bus.iter().map(|c| c.len()).min().unwrap_or(0);
        let len = frames.min(self.key.len());
        let key = &mut self.key[..len];
        key.fill(0.0);
        let voice_strip = settings.strips[strip::VOICE];
        if matches!(settings.duck.key, DuckKey::Voice | DuckKey::Either) {
            let level = if voice_strip.mute {
                0.0
            } else {
                voice_strip.gain
            };
            for (k, v) in key.iter_mut().zip(voice.iter()) {
                *k = v.abs() * level;
            }
        }
        if matches!(settings.duck.key, DuckKey::Sidechain | DuckKey::Either) {
            for channel in sidechain {
                for (k, x) in key.iter_mut().zip(channel.as_ref()) {
                    *k = k.max(x.abs());
                }
            }
        }
        let gains = &mut self.duck_gains[..len];
        self.ducker.process(key, gains);
        let gains: &[f32] = gains;

        // A routed sidechain is music to duck, unless it is the key itself.
        let sidechain = match settings.duck.key {
            DuckKey::Voice => Source::channels(sidechain).ducked(gains),
            DuckKey::Sidechain | DuckKey::Either => Source::channels(sidechain),
        };
        let mut sources = [Source::mono(&[]); super::mix::MAX_STRIPS];
        sources[0] = Source::mono(voice);
        sources[1] = sidechain;
        let count = (2 + extra.len()).min(sources.len());
        sources[2..count].copy_from_slice(&extra[..count - 2]);
        self.mixer.process(bus, Some(gains), &sources[..count]);
        meters.output.measure(bus);
        meters
            .duck_db
            .store(self.ducker.gain_reduction_db(), Ordering::Relaxed);
        meters.compressor_db.store(
            self.voice_chain.compressor_reduction_db(),
            Ordering::Relaxed,
        );
        meters
            .replaced_inputs
            .store(self.mixer.replaced_inputs(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_in_the_voice_never_sticks_in_a_filter_or_the_ducker() {
        let mut settings = PathSettings::default();
        settings.voice_chain.eq.low_db = -6.0;
        settings.voice_chain.deess_db = 6.0;
        let mut path = SignalPath::default();
        path.prepare(48_000.0, 256);
        path.reset(&settings, 2, false);
        let meters = Meters::default();
        let no_sidechain: [&[f32]; 0] = [];
        let tone =
            |n: usize| -> Vec<f32> { (0..n).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect() };
        for block in 0..4 {
            let mut voice = tone(256);
            if block == 1 {
                voice[10] = f32::NAN;
                voice[20] = f32::INFINITY;
                voice[30] = 1e-42;
            }
            let mut left = vec![0.1f32; 256];
            let mut right = vec![0.1f32; 256];
            path.process(
                &settings,
                &mut [&mut left[..], &mut right[..]],
                &no_sidechain,
                &mut voice,
                &[],
                &meters,
            );
            for x in left.iter().chain(&right) {
                assert!(x.is_finite(), "block {block}: {x}");
            }
            if block == 3 {
                assert!(left.iter().any(|x| x.abs() > 0.05), "the voice is gone");
            }
        }
    }
}

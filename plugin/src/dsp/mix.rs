//! The output mixer: channel strips (gain, constant-power pan, mute, solo) summed onto the
//! output bus, then the output gain.
//!
//! Strip 0 is the bus's own input (the host signal, processed in place); the others are
//! [`Source`]s: the voice, the sidechain, and later more voices. Up to [`MAX_STRIPS`] strips.
//! Every gain ramps ([`GainRamp`]), so automation, mutes and solos never click. A strip may be
//! ducked by a per-sample gain (the ducker's output).
//!
//! Plain code rather than `fundsp`: the whole mixer is multiply-adds over slices, which the
//! compiler vectorises; a node graph would add per-sample dispatch and nothing else.

use super::gain::{DEFAULT_RAMP_MS, GainRamp};
use super::sanitize::sanitize;

/// Most strips a mixer has.
pub const MAX_STRIPS: usize = 32;

/// One strip's controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StripSettings {
    /// Level, linear amplitude.
    pub gain: f32,
    /// −1 hard left, 0 centre, +1 hard right.
    pub pan: f32,
    /// Silences the strip.
    pub mute: bool,
    /// While any strip is soloed, only soloed strips are heard.
    pub solo: bool,
}

impl Default for StripSettings {
    fn default() -> Self {
        Self {
            gain: 1.0,
            pan: 0.0,
            mute: false,
            solo: false,
        }
    }
}

/// The gains a strip's pan gives the left and right bus channels.
///
/// A mono source follows a constant-power law normalised to unity at the centre: both sides at
/// the centre are exactly 1 (so a centred voice keeps its level and a centred host signal passes
/// bit for bit), and the power `l² + r²` stays 2 across the whole range, so a sweep neither dips
/// nor swells. A stereo source is balanced: the side panned towards keeps unity and the other
/// follows the same curve down to silence.
pub fn pan_gains(pan: f32, stereo_source: bool) -> [f32; 2] {
    let pan = if pan.is_finite() {
        pan.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    if pan == 0.0 {
        return [1.0, 1.0];
    }
    let angle = (pan + 1.0) * std::f32::consts::FRAC_PI_4;
    let [l, r] = [
        std::f32::consts::SQRT_2 * angle.cos(),
        std::f32::consts::SQRT_2 * angle.sin(),
    ];
    if stereo_source {
        [l.min(1.0), r.min(1.0)]
    } else {
        [l, r]
    }
}

/// A strip's input: one or two channels, optionally ducked.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    left: &'a [f32],
    right: Option<&'a [f32]>,
    duck: Option<&'a [f32]>,
}

impl<'a> Source<'a> {
    /// A mono source.
    pub fn mono(samples: &'a [f32]) -> Self {
        Self {
            left: samples,
            right: None,
            duck: None,
        }
    }

    /// A stereo source.
    pub fn stereo(left: &'a [f32], right: &'a [f32]) -> Self {
        Self {
            left,
            right: Some(right),
            duck: None,
        }
    }

    /// A source made of the first two of `channels` (one makes it mono; none, silence).
    pub fn channels<C: AsRef<[f32]>>(channels: &'a [C]) -> Self {
        match channels {
            [] => Self::mono(&[]),
            [only] => Self::mono(only.as_ref()),
            [left, right, ..] => Self::stereo(left.as_ref(), right.as_ref()),
        }
    }

    /// The same source multiplied sample by sample by `gains` (missing gains count as 1).
    pub fn ducked(self, gains: &'a [f32]) -> Self {
        Self {
            duck: Some(gains),
            ..self
        }
    }
}

#[derive(Debug, Clone)]
struct Strip {
    settings: StripSettings,
    /// Gain towards the left and right bus channels (only left on a mono bus).
    ramps: [GainRamp; 2],
}

/// The mixer. Owned by the audio thread. `prepare` allocates the per-piece scratch so
/// `process` never does; blocks longer than the prepared size are processed in pieces rather
/// than refused.
#[derive(Debug, Clone)]
pub struct Mixer {
    strips: Vec<Strip>,
    output: GainRamp,
    /// The bus being summed, per channel, for the current piece.
    sum: [Vec<f32>; 2],
    /// One source channel, sanitised, for the current piece.
    input: [Vec<f32>; 2],
    /// Per-sample gains for the current piece.
    curve: Vec<f32>,
    /// Non-finite or subnormal input samples replaced with silence since the last `reset`.
    replaced_inputs: u64,
}

impl Mixer {
    /// A mixer of `strips` strips (1 to [`MAX_STRIPS`]), every one at unity, usable at once in
    /// short pieces; [`Mixer::prepare`] sizes it for the host's blocks and sample rate.
    pub fn new(strips: usize) -> Self {
        let strip = Strip {
            settings: StripSettings::default(),
            ramps: [GainRamp::new(1.0), GainRamp::new(1.0)],
        };
        Self {
            strips: vec![strip; strips.clamp(1, MAX_STRIPS)],
            output: GainRamp::new(1.0),
            sum: [vec![0.0; MIN_PIECE], vec![0.0; MIN_PIECE]],
            input: [vec![0.0; MIN_PIECE], vec![0.0; MIN_PIECE]],
            curve: vec![0.0; MIN_PIECE],
            replaced_inputs: 0,
        }
    }

    /// How many strips there are.
    pub fn strips(&self) -> usize {
        self.strips.len()
    }

    /// Sizes the scratch for blocks of up to `max_block` frames and sets the ramp lengths.
    /// Allocates; call from `activate`, never from `process`.
    pub fn prepare(&mut self, sample_rate_hz: f32, max_block: usize) {
        let len = max_block.clamp(MIN_PIECE, MAX_PIECE);
        for buffer in self
            .sum
            .iter_mut()
            .chain(self.input.iter_mut())
            .chain(std::iter::once(&mut self.curve))
        {
            buffer.clear();
            buffer.resize(len, 0.0);
        }
        for ramp in self.ramps() {
            ramp.prepare(sample_rate_hz, DEFAULT_RAMP_MS);
        }
    }

    /// Snaps every gain to its target and clears the counters.
    pub fn reset(&mut self) {
        for ramp in self.ramps() {
            ramp.reset();
        }
        self.replaced_inputs = 0;
    }

    /// Sets strip `index`'s controls (ignored past the last strip). Takes effect, ramped, from
    /// the next `process`.
    pub fn set_strip(&mut self, index: usize, settings: StripSettings) {
        if let Some(strip) = self.strips.get_mut(index) {
            strip.settings = settings;
        }
    }

    /// Sets the output gain (linear) the next samples ramp towards.
    pub fn set_output(&mut self, gain: f32) {
        self.output.set_target(gain);
    }

    /// Snaps every gain to where the settings put it, as [`Mixer::reset`] would, keeping the
    /// counters: for a mixer that starts at its settings rather than ramping to them.
    pub fn settle(&mut self, bus_channels: usize, stereo_sources: &[bool]) {
        self.retarget(bus_channels, stereo_sources);
        for ramp in self.ramps() {
            ramp.reset();
        }
    }

    /// Every gain ramp: each strip's, then the output's.
    fn ramps(&mut self) -> impl Iterator<Item = &mut GainRamp> {
        self.strips
            .iter_mut()
            .flat_map(|s| s.ramps.iter_mut())
            .chain(std::iter::once(&mut self.output))
    }

    /// How many input samples were NaN, infinite or subnormal and replaced with silence.
    pub fn replaced_inputs(&self) -> u64 {
        self.replaced_inputs
    }

    /// Points every strip's ramps at its gain × pan × mute/solo.
    fn retarget(&mut self, bus_channels: usize, stereo_sources: &[bool]) {
        let any_solo = self.strips.iter().any(|s| s.settings.solo);
        for (index, strip) in self.strips.iter_mut().enumerate() {
            let s = strip.settings;
            let audible = !s.mute && (s.solo || !any_solo);
            let gain = if audible && s.gain.is_finite() {
                s.gain.max(0.0)
            } else {
                0.0
            };
            let stereo = stereo_sources.get(index).copied().unwrap_or(false);
            let pan = if bus_channels >= 2 {
                pan_gains(s.pan, stereo)
            } else if stereo {
                // Both source channels fold into a mono bus.
                [0.5, 0.5]
            } else {
                [1.0, 1.0]
            };
            for (ramp, p) in strip.ramps.iter_mut().zip(pan) {
                ramp.set_target(gain * p);
            }
        }
    }

    /// Mixes in place: each `bus` channel becomes (its own input × strip 0 + every source ×
    /// its strip) × the output gain. `bus_duck` ducks strip 0. Sources past the last strip are
    /// ignored; sources shorter than the block are padded with silence. Every output sample is
    /// finite and never subnormal; non-finite and subnormal inputs become silence and are
    /// counted.
    ///
    /// # Realtime safety
    /// No allocation, locking or panicking paths.
    pub fn process(
        &mut self,
        bus: &mut [&mut [f32]],
        bus_duck: Option<&[f32]>,
        sources: &[Source],
    ) {
        let channels = bus.len().min(2);
        let frames = bus.iter().map(|c| c.len()).min().unwrap_or(0);
        if channels == 0 || frames == 0 {
            return;
        }
        let sources = &sources[..sources.len().min(self.strips.len() - 1)];
        let mut stereo = [false; MAX_STRIPS];
        stereo[0] = bus.len() >= 2;
        for (flag, source) in stereo[1..].iter_mut().zip(sources) {
            *flag = source.right.is_some();
        }
        self.retarget(channels, &stereo[..=sources.len()]);
        let piece = self.curve.len().max(1);
        let mut start = 0;
        while start < frames {
            let end = (start + piece).min(frames);
            self.process_piece(bus, bus_duck, sources, start, end);
            start = end;
        }
    }

    fn process_piece(
        &mut self,
        bus: &mut [&mut [f32]],
        bus_duck: Option<&[f32]>,
        sources: &[Source],
        start: usize,
        end: usize,
    ) {
        let len = end - start;
        let channels = bus.len().min(2);
        // Strip 0: the bus's own input, written (not added) into the sums.
        for (c, channel) in bus.iter().take(channels).enumerate() {
            self.replaced_inputs += load(&mut self.input[c][..len], &channel[start..end]);
        }
        let duck = bus_duck.map(|d| d.get(start..).unwrap_or(&[]));
        for c in 0..channels {
            let gains = gains_for(&mut self.strips[0].ramps[c], duck, &mut self.curve[..len]);
            let (input, sum) = (&self.input[c][..len], &mut self.sum[c][..len]);
            match gains {
                Gains::Steady(g) => {
                    for (s, &x) in sum.iter_mut().zip(input) {
                        *s = x * g;
                    }
                }
                Gains::Ducked(g, duck) => {
                    for ((s, &x), &d) in sum.iter_mut().zip(input).zip(&duck[..len]) {
                        *s = x * (g * d);
                    }
                }
                Gains::Curve => {
                    for ((s, &x), &g) in sum.iter_mut().zip(input).zip(&self.curve[..len]) {
                        *s = x * g;
                    }
                }
            }
        }
        for (strip, source) in self.strips[1..].iter_mut().zip(sources) {
            let silent = strip
                .ramps
                .iter()
                .take(channels)
                .all(|r| !r.is_ramping() && r.current() == 0.0);
            if silent {
                continue;
            }
            let inputs = [Some(source.left), source.right];
            let mut loaded = 0;
            for (scratch, input) in self.input.iter_mut().zip(inputs.iter().flatten()) {
                let available = input.get(start..).unwrap_or(&[]);
                let n = available.len().min(len);
                self.replaced_inputs += load(&mut scratch[..n], &available[..n]);
                scratch[n..len].fill(0.0);
                loaded += 1;
            }
            let duck = source.duck.map(|d| d.get(start..).unwrap_or(&[]));
            for c in 0..channels {
                let gains = gains_for(&mut strip.ramps[c], duck, &mut self.curve[..len]);
                let sum = &mut self.sum[c][..len];
                // Stereo into stereo: channel to channel. Mono: the one channel to both.
                // Stereo into mono: both channels, each at the strip's (halved) gain.
                let feeds: &[usize] = match (loaded, channels) {
                    (2, 2) => std::slice::from_ref(&c),
                    (2, _) => &[0, 1],
                    _ => &[0],
                };
                for &f in feeds {
                    accumulate(sum, &self.input[f][..len], gains, &self.curve[..len]);
                }
            }
        }
        let gains = gains_for(&mut self.output, None, &mut self.curve[..len]);
        for (c, channel) in bus.iter_mut().take(channels).enumerate() {
            let (out, sum) = (&mut channel[start..end], &self.sum[c][..len]);
            match gains {
                Gains::Steady(g) => {
                    for (y, &s) in out.iter_mut().zip(sum) {
                        *y = sanitize(s * g);
                    }
                }
                // The output is never ducked.
                Gains::Ducked(g, _) => out
                    .iter_mut()
                    .zip(sum)
                    .for_each(|(y, &s)| *y = sanitize(s * g)),
                Gains::Curve => {
                    for ((y, &s), &g) in out.iter_mut().zip(sum).zip(&self.curve[..len]) {
                        *y = sanitize(s * g);
                    }
                }
            }
        }
        // Channels past the second (none in this plugin's layouts) are silenced rather than
        // left holding their input.
        for channel in bus.iter_mut().skip(channels) {
            channel[start..end].fill(0.0);
        }
    }
}

/// A piece's gains: one number, one number times a ducking curve, or per sample in the
/// mixer's curve.
#[derive(Debug, Clone, Copy)]
enum Gains<'a> {
    Steady(f32),
    Ducked(f32, &'a [f32]),
    Curve,
}

/// The gains of `ramp` (times `duck`, if any) for the next `curve.len()` samples. Advances the
/// ramp.
fn gains_for<'a>(ramp: &mut GainRamp, duck: Option<&'a [f32]>, curve: &mut [f32]) -> Gains<'a> {
    if !ramp.is_ramping() {
        return match duck {
            Some(duck) if duck.len() >= curve.len() => Gains::Ducked(ramp.current(), duck),
            None => Gains::Steady(ramp.current()),
            // A short ducking curve (never from the plugin): build the per-sample curve.
            Some(_) => {
                ramp.fill(curve);
                apply_duck(curve, duck);
                Gains::Curve
            }
        };
    }
    ramp.fill(curve);
    apply_duck(curve, duck);
    Gains::Curve
}

/// Multiplies the gain curve by the ducking gains (missing ones count as 1).
fn apply_duck(curve: &mut [f32], duck: Option<&[f32]>) {
    if let Some(duck) = duck {
        for (g, &d) in curve.iter_mut().zip(duck) {
            *g *= d;
        }
    }
}

/// `sum += input × gains`.
#[inline]
fn accumulate(sum: &mut [f32], input: &[f32], gains: Gains, curve: &[f32]) {
    match gains {
        Gains::Steady(g) => {
            for (s, &x) in sum.iter_mut().zip(input) {
                *s += x * g;
            }
        }
        Gains::Ducked(g, duck) => {
            for ((s, &x), &d) in sum.iter_mut().zip(input).zip(&duck[..input.len()]) {
                *s += x * (g * d);
            }
        }
        Gains::Curve => {
            for ((s, &x), &g) in sum.iter_mut().zip(input).zip(curve) {
                *s += x * g;
            }
        }
    }
}

/// Copies `input` into `scratch`, replacing non-finite and subnormal samples with silence.
/// Returns how many non-zero samples were replaced.
#[inline]
fn load(scratch: &mut [f32], input: &[f32]) -> u64 {
    let mut replaced = 0u32;
    for (dst, &x) in scratch.iter_mut().zip(input) {
        let clean = sanitize(x);
        replaced += u32::from(clean == 0.0 && x != 0.0);
        *dst = clean;
    }
    u64::from(replaced)
}

/// Shortest piece the scratch covers, allocated in [`Mixer::new`] so that even a mixer that was
/// never prepared processes (with 1-sample ramps) instead of failing.
pub const MIN_PIECE: usize = 64;

/// Longest piece the scratch covers; longer host blocks are processed in pieces so the scratch
/// stays small (5 × 16 KiB) whatever block size a host announces.
pub const MAX_PIECE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::gain::db_to_gain;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    fn max_step(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    /// A dry + voice mixer at these settings, settled (not ramping towards them).
    fn two_strips(dry: StripSettings, voice: StripSettings, output: f32) -> Mixer {
        let mut mixer = Mixer::new(2);
        mixer.prepare(48_000.0, 64);
        mixer.set_strip(0, dry);
        mixer.set_strip(1, voice);
        mixer.set_output(output);
        mixer.settle(2, &[true, false]);
        mixer
    }

    fn gain(gain: f32) -> StripSettings {
        StripSettings {
            gain,
            ..StripSettings::default()
        }
    }

    #[test]
    fn steady_gains_multiply_dry_and_add_voice() {
        let mut mixer = two_strips(gain(0.5), gain(2.0), 0.5);
        let mut left = vec![1.0f32; 8];
        let mut right = vec![-1.0f32; 8];
        let voice = [0.25f32; 8];
        mixer.process(&mut [&mut left, &mut right], None, &[Source::mono(&voice)]);
        assert!(left.iter().all(|&x| (x - 0.5).abs() < 1e-6), "{left:?}");
        assert!(right.iter().all(|&x| x.abs() < 1e-6), "{right:?}");
    }

    #[test]
    fn unity_passes_the_host_signal_bit_for_bit() {
        let mut mixer = Mixer::new(3);
        mixer.prepare(44_100.0, 512);
        let input: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 0.9).collect();
        let (mut l, mut r) = (input.clone(), input.clone());
        mixer.set_strip(2, gain(0.0));
        mixer.settle(2, &[true, false, true]);
        let silence = [0.0f32; 1000];
        mixer.process(
            &mut [&mut l, &mut r],
            None,
            &[Source::mono(&silence), Source::stereo(&input, &input)],
        );
        assert_eq!(l, input);
        assert_eq!(r, input);
    }

    #[test]
    fn gain_change_ramps_without_steps_and_lands_on_target() {
        let mut mixer = Mixer::new(1);
        mixer.prepare(48_000.0, 256);
        mixer.set_strip(0, gain(db_to_gain(-6.0)));
        let mut signal = vec![1.0f32; 48_000 / 10];
        mixer.process(&mut [&mut signal], None, &[]);
        assert!(max_step(&signal) < 1e-3, "step {}", max_step(&signal));
        let tail = &signal[signal.len() - 100..];
        assert!((rms(tail) - db_to_gain(-6.0)).abs() < 1e-6);
    }

    #[test]
    fn blocks_longer_than_prepared_are_processed_in_pieces() {
        let mut mixer = Mixer::new(1);
        mixer.prepare(8_000.0, 1);
        mixer.set_strip(0, gain(0.0));
        let mut signal = vec![1.0f32; 5000];
        mixer.process(&mut [&mut signal], None, &[]);
        assert_eq!(signal[4999], 0.0);
        assert!(signal[0] > 0.9);
    }

    #[test]
    fn unprepared_mixer_still_processes_without_panicking() {
        let mut mixer = Mixer::new(2);
        mixer.set_output(0.0);
        let mut signal = vec![1.0f32; 300];
        mixer.process(&mut [&mut signal], None, &[Source::mono(&[1.0])]);
        assert!(
            signal.iter().all(|&x| x == 0.0),
            "output gain 0 must silence"
        );
    }

    #[test]
    fn bad_input_becomes_silence_and_is_counted() {
        let mut mixer = Mixer::new(2);
        mixer.prepare(44_100.0, 8);
        let mut signal = vec![f32::NAN, f32::INFINITY, 1e-42, 0.5];
        mixer.process(&mut [&mut signal], None, &[Source::mono(&[f32::NAN])]);
        assert_eq!(signal, vec![0.0, 0.0, 0.0, 0.5]);
        assert_eq!(mixer.replaced_inputs(), 4);
    }

    #[test]
    fn short_sources_are_padded_with_silence_and_ducking_applies() {
        let mut mixer = two_strips(gain(1.0), gain(1.0), 1.0);
        let mut signal = vec![1.0f32; 4];
        let duck = [0.5f32, 0.25];
        let voice = [0.5f32, 0.5];
        mixer.process(&mut [&mut signal], Some(&duck), &[Source::mono(&voice)]);
        assert_eq!(signal, vec![1.0, 0.75, 1.0, 1.0]);
    }

    #[test]
    fn pan_is_constant_power_with_unity_at_the_centre() {
        assert_eq!(pan_gains(0.0, false), [1.0, 1.0]);
        assert_eq!(pan_gains(f32::NAN, false), [1.0, 1.0]);
        for i in -100..=100 {
            let [l, r] = pan_gains(i as f32 / 100.0, false);
            assert!((l * l + r * r - 2.0).abs() < 1e-5, "{i}: {l} {r}");
        }
        let [l, r] = pan_gains(-1.0, false);
        assert!((l - std::f32::consts::SQRT_2).abs() < 1e-6 && r.abs() < 1e-6);
        // Balance for a stereo source: the near side stays at unity.
        let [l, r] = pan_gains(0.5, true);
        assert_eq!(l.max(r), 1.0);
        assert!(l < 1.0 && l > 0.0);
        assert!(pan_gains(1.0, true)[0].abs() < 1e-6);
        // Through the mixer: a voice panned hard right leaves the left channel silent.
        let mut mixer = two_strips(
            gain(0.0),
            StripSettings {
                pan: 1.0,
                ..StripSettings::default()
            },
            1.0,
        );
        let (mut l, mut r) = (vec![0.3f32; 16], vec![0.3f32; 16]);
        mixer.process(&mut [&mut l, &mut r], None, &[Source::mono(&[0.5; 16])]);
        assert!(l.iter().all(|x| x.abs() < 1e-6), "{l:?}");
        assert!(
            r.iter()
                .all(|x| (x - 0.5 * std::f32::consts::SQRT_2).abs() < 1e-6)
        );
    }

    #[test]
    fn solo_and_mute_switch_strips_off_without_a_click() {
        let mut mixer = two_strips(gain(1.0), gain(1.0), 1.0);
        let voice = vec![0.25f32; 4800];
        let mut signal = vec![0.5f32; 4800];
        mixer.set_strip(
            1,
            StripSettings {
                solo: true,
                ..StripSettings::default()
            },
        );
        mixer.process(&mut [&mut signal], None, &[Source::mono(&voice)]);
        assert!(max_step(&signal) < 1e-3, "a solo ramps");
        assert_eq!(signal[4799], 0.25, "solo voice: the host signal is gone");
        mixer.set_strip(
            1,
            StripSettings {
                solo: true,
                mute: true,
                ..StripSettings::default()
            },
        );
        let mut signal = vec![0.5f32; 4800];
        mixer.process(&mut [&mut signal], None, &[Source::mono(&voice)]);
        assert_eq!(
            signal[4799], 0.0,
            "a muted solo is silent, and so is the rest"
        );
    }

    #[test]
    fn thirty_two_strips_sum_and_stereo_folds_into_mono() {
        let mut mixer = Mixer::new(40);
        assert_eq!(mixer.strips(), MAX_STRIPS);
        mixer.prepare(48_000.0, 128);
        let ones = vec![1.0f32; 128];
        let sources: Vec<Source> = (1..MAX_STRIPS).map(|_| Source::mono(&ones)).collect();
        let (mut l, mut r) = (vec![0.0f32; 128], vec![0.0f32; 128]);
        mixer.process(&mut [&mut l, &mut r], None, &sources);
        assert!(l.iter().chain(&r).all(|&x| x == 31.0), "{l:?}");

        let mut mixer = Mixer::new(2);
        mixer.prepare(48_000.0, 128);
        mixer.settle(1, &[false, true]);
        let mut mono = vec![0.0f32; 4];
        let (a, b) = ([1.0f32; 4], [0.5f32; 4]);
        mixer.process(&mut [&mut mono], None, &[Source::stereo(&a, &b)]);
        assert_eq!(mono, vec![0.75; 4]);
    }
}

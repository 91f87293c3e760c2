//! Offline rendering (a DAW's bounce) through a real CLAP host with the real voice: the host
//! calls `process()` as fast as it can, and the speech must still land exactly where it was
//! triggered, whole, and identically in two bounces.

use anyhow::{Context, Result};
use orator_tests::{LoadedPlugin, ParamChange, bundle_path, press};

const BLOCK: usize = 512;
const TRIGGER_BLOCK: usize = 10;
const TEXT: &str = "Bounce me. The same words land in the same place every time.";

/// Renders 5 s at 48 kHz offline with Speak triggered at block 10; returns the left channel.
fn bounce() -> Result<Vec<f32>> {
    bounce_with(&[])
}

/// Like [`bounce`], with parameters set (by name, as text) before it starts.
fn bounce_with(settings: &[(&str, &str)]) -> Result<Vec<f32>> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text(TEXT)?;
    let speak = plugin.param("Speak")?.id;
    let mut first_changes = Vec::new();
    for (name, text) in settings {
        let id = plugin.param(name)?.id;
        let value = plugin.value_from_text(id, text)?;
        first_changes.push(ParamChange { id, value, time: 0 });
    }
    plugin.set_offline(true)?;
    plugin.activate(48000.0, 1, BLOCK as u32)?;
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let mut out = Vec::new();
    for block in 0..470 {
        let changes = if block == 0 {
            first_changes.clone()
        } else {
            press(speak, block, TRIGGER_BLOCK)
        };
        let changes = &changes;
        plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            changes,
        )?;
        out.extend_from_slice(&left);
    }
    Ok(out)
}

#[test]
fn a_bounce_has_the_speech_at_the_trigger_whole_and_identical_every_time() -> Result<()> {
    let first = bounce()?;
    let second = bounce()?;
    assert!(first == second, "two bounces of the same project differ");

    let trigger = TRIGGER_BLOCK * BLOCK;
    assert!(
        first[..trigger].iter().all(|&x| x == 0.0),
        "nothing before the trigger"
    );
    // The first sample the voice contributes (Piper's audio is not exactly zero from its first
    // sample, though its first audible sound comes ~48 ms in): it must be in the trigger block
    // itself, not blocks later as synthesis latency would make it in real time.
    let onset = first
        .iter()
        .position(|&x| x != 0.0)
        .context("no speech in the bounce")?;
    assert!(
        (trigger..trigger + BLOCK).contains(&onset),
        "speech starts at sample {onset}, trigger at {trigger}"
    );
    let audible = first.iter().position(|x| x.abs() > 1e-3).unwrap_or(onset);
    let last = first.iter().rposition(|x| x.abs() > 1e-3).unwrap_or(0);
    let seconds = (last - audible) as f64 / 48000.0;
    assert!(
        seconds > 2.0,
        "only {seconds:.2} s of speech for two sentences"
    );
    assert!(
        last + 4800 < first.len(),
        "the bounce ends with silence: the speech is whole"
    );
    Ok(())
}

fn rms_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).log10()
}

#[test]
fn the_voice_chain_shapes_the_voice_in_a_bounce() -> Result<()> {
    let plain = bounce()?;
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));

    // Limiter: a -12 dBFS ceiling holds on every sample.
    let limited = bounce_with(&[("Limiter Ceiling", "-12")])?;
    let ceiling = 10f32.powf(-12.0 / 20.0);
    assert!(
        peak(&plain) > ceiling,
        "the plain voice goes above -12 dBFS ({})",
        peak(&plain)
    );
    assert!(
        peak(&limited) <= ceiling * 1.0001,
        "limited peak {}",
        peak(&limited)
    );

    // EQ: a -15 dB high shelf at 4 kHz (slope 1: half its gain at the corner, nearly all of it
    // an octave up) takes the band above 6 kHz down by well over 9 dB (measured 11.3) and
    // leaves the band below 1 kHz nearly alone (bands measured with steep filters).
    let dull = bounce_with(&[("EQ High", "-15"), ("EQ High Freq", "4000")])?;
    let high_drop = rms_db(&band(&dull, 6000.0, true)) - rms_db(&band(&plain, 6000.0, true));
    let low_change = rms_db(&band(&dull, 1000.0, false)) - rms_db(&band(&plain, 1000.0, false));
    assert!(
        (-16.0..-9.0).contains(&high_drop),
        "above 6 kHz: {high_drop:.1} dB"
    );
    assert!(low_change.abs() < 1.0, "below 1 kHz: {low_change:.1} dB");
    Ok(())
}

/// `x` through two cascaded Audio EQ Cookbook high-pass (or low-pass) sections at `freq` Hz
/// (48 kHz, Q 0.707): a 24 dB/octave band filter for measurements.
fn band(x: &[f32], freq: f64, high: bool) -> Vec<f32> {
    let w0 = std::f64::consts::TAU * freq / 48000.0;
    let (cos, alpha) = (w0.cos(), w0.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2));
    let b = if high {
        [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0]
    } else {
        [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0]
    };
    let a0 = 1.0 + alpha;
    let (b, a1, a2) = (b.map(|c| c / a0), -2.0 * cos / a0, (1.0 - alpha) / a0);
    let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    for _ in 0..2 {
        let (mut z1, mut z2) = (0.0, 0.0);
        for v in y.iter_mut() {
            let out = b[0] * *v + z1;
            z1 = b[1] * *v - a1 * out + z2;
            z2 = b[2] * *v - a2 * out;
            *v = out;
        }
    }
    y.iter().map(|&v| v as f32).collect()
}

//! Offline rendering (a DAW's bounce) through a real CLAP host with the real voice: the host
//! calls `process()` as fast as it can, and the speech must still land exactly where it was
//! triggered, whole, and identically in two bounces.

use anyhow::{Context, Result};
use orator_tests::{LoadedPlugin, ParamChange, bundle_path, with_text};

const BLOCK: usize = 512;
const TRIGGER_BLOCK: usize = 10;
const TEXT: &str = "Bounce me. The same words land in the same place every time.";

/// Renders 5 s at 48 kHz offline with Speak triggered at block 10; returns the left channel.
fn bounce() -> Result<Vec<f32>> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    let state = with_text(&plugin.save_state()?, TEXT)?;
    plugin.load_state(&state)?;
    let speak = plugin.param("Speak")?.id;
    plugin.set_offline(true)?;
    plugin.activate(48000.0, 1, BLOCK as u32)?;
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let mut out = Vec::new();
    for block in 0..470 {
        let changes: &[ParamChange] = match block {
            TRIGGER_BLOCK => &[ParamChange {
                id: speak,
                value: 1.0,
                time: 0,
            }],
            b if b == TRIGGER_BLOCK + 1 => &[ParamChange {
                id: speak,
                value: 0.0,
                time: 0,
            }],
            _ => &[],
        };
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

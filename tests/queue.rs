//! The Speak, Skip and Pause switches through a real CLAP host with the real voice, rendered
//! offline so every sample is predictable: Speak again restarts the text at its sample (the old
//! one fading out over 5 ms), Skip fades the text out within 5 ms, Pause holds the speech and
//! resumes exactly where it was. (The queue behind the editor and the API, where phrases follow
//! each other, is tested in `plugin/tests/queue.rs`.)

use anyhow::{Context, Result};
use clack_host::prelude::ClapId;
use orator_tests::{LoadedPlugin, ParamChange, bundle_path, press};

const BLOCK: usize = 512;
const RATE: f64 = 48000.0;
/// 5 ms at 48 kHz: the fade of Stop, Skip and Pause.
const FADE: usize = 240;
const TEXT: &str = "Queue me up. Then play me again, please.";
/// Speak is pressed in this block (and again two blocks later when queueing two phrases).
const SPEAK_BLOCK: usize = 2;
/// Skip or Pause is pressed in this block, well inside the first phrase.
const ACTION_BLOCK: usize = 30;

/// An offline render: `script(block, ids)` gives each block's parameter changes.
fn render(blocks: usize, script: &dyn Fn(usize, &Ids) -> Vec<ParamChange>) -> Result<Vec<f32>> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text(TEXT)?;
    let ids = Ids {
        speak: plugin.param("Speak")?.id,
        skip: plugin.param("Skip")?.id,
        pause: plugin.param("Pause")?.id,
    };
    plugin.set_offline(true)?;
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let silence = vec![0.0f32; BLOCK];
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut out = Vec::with_capacity(blocks * BLOCK);
    for block in 0..blocks {
        let changes = script(block, &ids);
        plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &changes,
        )?;
        out.extend_from_slice(&left);
    }
    Ok(out)
}

struct Ids {
    speak: ClapId,
    skip: ClapId,
    pause: ClapId,
}

/// One phrase spoken at `SPEAK_BLOCK`: the reference. Returns the render and the phrase's
/// samples up to its last non-zero one.
fn reference() -> Result<(Vec<f32>, Vec<f32>)> {
    let out = render(600, &|block, ids| press(ids.speak, block, SPEAK_BLOCK))?;
    let start = SPEAK_BLOCK * BLOCK;
    let end = out.iter().rposition(|&x| x != 0.0).context("no speech")? + 1;
    assert!(
        end < out.len() - BLOCK,
        "the render must outlast the phrase"
    );
    assert!(
        end - start > (ACTION_BLOCK + 10) * BLOCK,
        "the phrase must be longer than the action point"
    );
    let phrase = out[start..end].to_vec();
    Ok((out, phrase))
}

#[test]
fn speak_again_restarts_the_text_at_its_sample() -> Result<()> {
    let (reference, phrase) = reference()?;
    let out = render(1000, &|block, ids| {
        let mut changes = press(ids.speak, block, SPEAK_BLOCK);
        changes.extend(press(ids.speak, block, ACTION_BLOCK));
        changes
    })?;
    let again = ACTION_BLOCK * BLOCK;
    assert_eq!(
        out[..again],
        reference[..again],
        "untouched before the second Speak"
    );
    for i in 0..FADE {
        let gain = (FADE - i - 1) as f32 / FADE as f32;
        let expected = reference[again + i] * gain + phrase[i];
        assert!(
            (out[again + i] - expected).abs() <= 1e-5,
            "sample {i} of the restart: {} vs {expected}",
            out[again + i]
        );
    }
    assert_eq!(
        out[again + FADE..again + phrase.len()],
        phrase[FADE..],
        "then the text from its start, whole"
    );
    Ok(())
}

#[test]
fn skip_fades_the_text_out_within_5_ms() -> Result<()> {
    let (reference, _) = reference()?;
    let out = render(1000, &|block, ids| {
        let mut changes = press(ids.speak, block, SPEAK_BLOCK);
        changes.extend(press(ids.skip, block, ACTION_BLOCK));
        changes
    })?;
    let skip = ACTION_BLOCK * BLOCK;
    assert_eq!(out[..skip], reference[..skip], "untouched before the skip");
    for (i, (&faded, &original)) in out[skip..skip + FADE]
        .iter()
        .zip(&reference[skip..])
        .enumerate()
    {
        let gain = (FADE - i - 1) as f32 / FADE as f32;
        assert!(
            (faded - original * gain).abs() <= 1e-6,
            "fade sample {i}: {faded} vs {original} × {gain}"
        );
    }
    assert!(
        out[skip + FADE..].iter().all(|&x| x == 0.0),
        "nothing after the fade: no phrase waits behind the text"
    );
    Ok(())
}

#[test]
fn pause_holds_the_speech_and_resumes_where_it_was() -> Result<()> {
    const RESUME_BLOCK: usize = ACTION_BLOCK + 40;
    let (reference, _) = reference()?;
    let out = render(1000, &|block, ids| {
        let mut changes = press(ids.speak, block, SPEAK_BLOCK);
        let value = match block {
            ACTION_BLOCK => 1.0,
            RESUME_BLOCK => 0.0,
            _ => return changes,
        };
        changes.push(ParamChange {
            id: ids.pause,
            value,
            time: 0,
        });
        changes
    })?;
    let pause = ACTION_BLOCK * BLOCK;
    let resume = RESUME_BLOCK * BLOCK;
    assert_eq!(
        out[..pause],
        reference[..pause],
        "untouched before the pause"
    );
    for i in 0..FADE {
        let gain = (FADE - i - 1) as f32 / FADE as f32;
        let expected = reference[pause + i] * gain;
        assert!(
            (out[pause + i] - expected).abs() <= 1e-6,
            "fade-out sample {i}"
        );
    }
    assert!(
        out[pause + FADE..resume].iter().all(|&x| x == 0.0),
        "silent while paused"
    );
    // Fades back in over 5 ms from the next sample, then carries on exactly.
    let carry_on = pause + FADE;
    for i in 0..FADE {
        let gain = (i + 1) as f32 / FADE as f32;
        let expected = reference[carry_on + i] * gain;
        assert!(
            (out[resume + i] - expected).abs() <= 1e-6,
            "fade-in sample {i}"
        );
    }
    let rest = reference.len() - carry_on - BLOCK;
    assert_eq!(
        out[resume + FADE..resume + rest],
        reference[carry_on + FADE..carry_on + rest],
        "the rest of the phrase follows unchanged"
    );
    Ok(())
}

//! The realtime path through a real CLAP host with the real voice: the Speak trigger makes the
//! plugin speak its session text, the speech reaches the output while the host calls
//! `process()` at real-time pace, the plugin keeps itself alive meanwhile, and the output goes
//! quiet again afterwards.

use anyhow::{Context, Result};
use clack_host::prelude::ProcessStatus;
use orator_tests::signal::{all_clean, rms};
use orator_tests::{LoadedPlugin, ParamChange, bundle_path, press};
use std::time::{Duration, Instant};

const BLOCK: usize = 512;
/// Block level above which the output counts as speech (the input is silent).
const SPEECH_RMS: f64 = 0.005;

#[test]
fn the_speak_trigger_plays_the_session_text_at_common_rates() -> Result<()> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text("Hello from Orator. This is the voice bus.")?;
    let speak = plugin.param("Speak")?.id;
    for rate in [44100.0, 48000.0, 96000.0] {
        plugin.activate(rate, 1, BLOCK as u32)?;
        let silence = vec![0.0f32; BLOCK];
        let mut left = vec![0.0f32; BLOCK];
        let mut right = vec![0.0f32; BLOCK];
        let block_time = Duration::from_secs_f64(BLOCK as f64 / rate);
        let started = Instant::now();
        let mut first_speech = None;
        let mut speech_blocks = 0usize;
        let mut statuses_while_speaking = Vec::new();
        for block in 0.. {
            let changes = &press(speak, block, 0);
            let status = plugin.process(
                &[&silence, &silence],
                None,
                &mut [&mut left, &mut right],
                changes,
            )?;
            assert!(all_clean(&left) && all_clean(&right));
            assert_eq!(left, right, "the mono voice goes to both channels");
            let level = rms(&left);
            if level > SPEECH_RMS {
                first_speech.get_or_insert(block);
                speech_blocks += 1;
                statuses_while_speaking.push(status);
            }
            // Done when the plugin, having spoken, says it is idle again (it keeps itself alive
            // through pauses while synthesis is still running, e.g. when other instances share
            // the voice).
            if first_speech.is_some() && status == ProcessStatus::ContinueIfNotQuiet {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{rate} Hz: no end of speech after 20 s (first speech at block {first_speech:?})"
            );
            // Real-time pace: the speech thread runs alongside as it would in a DAW.
            std::thread::sleep(block_time);
        }
        let first = first_speech.context("no speech reached the output")?;
        let latency = first as f64 * block_time.as_secs_f64();
        let spoken = speech_blocks as f64 * block_time.as_secs_f64();
        assert!(
            latency < 5.0,
            "{rate} Hz: speech started {latency:.2} s after the trigger"
        );
        assert!(
            spoken > 1.0,
            "{rate} Hz: only {spoken:.2} s of speech for two sentences"
        );
        assert!(
            statuses_while_speaking
                .iter()
                .all(|s| *s == ProcessStatus::Continue),
            "{rate} Hz: the plugin must keep itself alive while it speaks"
        );
        eprintln!("{rate} Hz: speech {latency:.3} s after the trigger, {spoken:.2} s of it");
    }
    Ok(())
}

#[test]
fn stop_silences_within_one_block_without_a_click_and_speech_can_resume() -> Result<()> {
    let rate = 48000.0;
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    let long = "This is a long announcement that keeps going, so that there is plenty of speech \
                queued when the stop arrives, and the stop must cut it off cleanly.";
    plugin.set_text(long)?;
    let speak = plugin.param("Speak")?.id;
    let stop = plugin.param("Stop")?.id;
    plugin.activate(rate, 1, BLOCK as u32)?;
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let block_time = Duration::from_secs_f64(BLOCK as f64 / rate);
    let trigger = |id, on: bool| {
        [ParamChange {
            id,
            value: f64::from(u8::from(on)),
            time: 0,
        }]
    };

    let mut run =
        |plugin: &mut LoadedPlugin, changes: &[ParamChange], out: &mut Vec<f32>| -> Result<()> {
            plugin.process(
                &[&silence, &silence],
                None,
                &mut [&mut left, &mut right],
                changes,
            )?;
            out.clear();
            out.extend_from_slice(&left);
            std::thread::sleep(block_time);
            Ok(())
        };
    let mut out = Vec::new();
    run(&mut plugin, &trigger(speak, true), &mut out)?;
    run(&mut plugin, &trigger(speak, false), &mut out)?;
    // Wait for speech, then let half a second of it play.
    let mut max_step = 0.0f32;
    let mut heard = 0;
    for _ in 0..2000 {
        run(&mut plugin, &[], &mut out)?;
        if rms(&out) > SPEECH_RMS {
            heard += 1;
            max_step = out
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(max_step, f32::max);
            if heard > 50 {
                break;
            }
        }
    }
    assert!(heard > 50, "speech never played for half a second");

    // Stop: this block fades out within 5 ms and ends at exactly zero.
    run(&mut plugin, &trigger(stop, true), &mut out)?;
    let fade = (rate * 0.005) as usize;
    assert!(
        out[fade..].iter().all(|&x| x == 0.0),
        "silent after the 5 ms fade"
    );
    let stop_step = out
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(
        stop_step <= max_step + 0.01,
        "the fade jumps {stop_step}, speech at most {max_step}"
    );
    // And stays silent, although the rest of the phrase was queued and still being made.
    for block in 0..100 {
        let changes = if block == 0 {
            trigger(stop, false).to_vec()
        } else {
            Vec::new()
        };
        run(&mut plugin, &changes, &mut out)?;
        assert!(
            out.iter().all(|&x| x == 0.0),
            "block {block} after Stop is not silent"
        );
    }

    // Speaking again works.
    run(&mut plugin, &trigger(speak, true), &mut out)?;
    run(&mut plugin, &trigger(speak, false), &mut out)?;
    let mut resumed = false;
    for _ in 0..1000 {
        run(&mut plugin, &[], &mut out)?;
        if rms(&out) > SPEECH_RMS {
            resumed = true;
            break;
        }
    }
    assert!(resumed, "speech did not resume after Stop");
    Ok(())
}

#[test]
fn the_music_ducks_under_the_voice() -> Result<()> {
    use orator_tests::signal::{sine, tone_level};
    let rate = 48000.0;
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text("The music goes down while I talk.")?;
    let speak = plugin.param("Speak")?.id;
    plugin.activate(rate, 1, 480)?;
    // A 50 Hz "music" tone, below the voice's spectrum, so it can be measured under speech.
    let music = sine(50.0, 0.5, rate, 480);
    let mut left = vec![0.0f32; 480];
    let mut right = vec![0.0f32; 480];
    let block_time = Duration::from_secs_f64(0.01);
    let mut music_levels = Vec::new();
    let mut speaking = Vec::new();
    let mut output = Vec::new();
    for block in 0..1500 {
        let changes = &press(speak, block, 0);
        plugin.process(
            &[&music, &music],
            None,
            &mut [&mut left, &mut right],
            changes,
        )?;
        output.extend_from_slice(&left);
        // Voice = output minus the (possibly ducked) tone: the residual above the tone's level.
        let tone = tone_level(&left, 50.0, rate);
        music_levels.push(20.0 * (tone / 0.5).log10());
        let residual: f64 = left
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let t = tone * (std::f64::consts::TAU * 50.0 * i as f64 / rate).sin();
                (f64::from(x) - t).powi(2)
            })
            .sum::<f64>()
            / left.len() as f64;
        speaking.push(residual.sqrt() > 0.02);
        if speaking.iter().filter(|&&s| s).count() > 60 {
            break;
        }
        std::thread::sleep(block_time);
    }
    let first = speaking
        .iter()
        .position(|&s| s)
        .context("the voice never played")?;
    assert!(
        music_levels[..first.saturating_sub(2)]
            .iter()
            .all(|db| db.abs() < 0.5),
        "music at 0 dB before"
    );
    // Once the 10 ms attack is over, the music sits about 12 dB down while the voice plays.
    let during: Vec<f64> = music_levels[first + 10..].to_vec();
    let mean = during.iter().sum::<f64>() / during.len() as f64;
    assert!(
        (mean + 12.0).abs() < 1.5,
        "music under the voice at {mean:.1} dB (set -12 dB)"
    );
    Ok(())
}

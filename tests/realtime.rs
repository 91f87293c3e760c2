//! The realtime path through a real CLAP host with the real voice: the Speak trigger makes the
//! plugin speak its session text, the speech reaches the output while the host calls
//! `process()` at real-time pace, the plugin keeps itself alive meanwhile, and the output goes
//! quiet again afterwards.

use anyhow::{Context, Result};
use clack_host::prelude::ProcessStatus;
use orator_tests::signal::{all_clean, rms};
use orator_tests::{LoadedPlugin, ParamChange, bundle_path, with_text};
use std::time::{Duration, Instant};

const BLOCK: usize = 512;
/// Block level above which the output counts as speech (the input is silent).
const SPEECH_RMS: f64 = 0.005;

#[test]
fn the_speak_trigger_plays_the_session_text_at_common_rates() -> Result<()> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    let text = with_text(
        &plugin.save_state()?,
        "Hello from Orator. This is the voice bus.",
    )?;
    plugin.load_state(&text)?;
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
        let mut quiet_after_speech = 0usize;
        let mut statuses_while_speaking = Vec::new();
        for block in 0.. {
            let changes: &[ParamChange] = match block {
                0 => &[ParamChange {
                    id: speak,
                    value: 1.0,
                    time: 0,
                }],
                1 => &[ParamChange {
                    id: speak,
                    value: 0.0,
                    time: 0,
                }],
                _ => &[],
            };
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
                quiet_after_speech = 0;
                statuses_while_speaking.push(status);
            } else if first_speech.is_some() {
                quiet_after_speech += 1;
            }
            // Done once a second of silence follows the speech.
            if first_speech.is_some() && quiet_after_speech as f64 * block_time.as_secs_f64() > 1.0
            {
                assert_eq!(
                    status,
                    ProcessStatus::ContinueIfNotQuiet,
                    "{rate} Hz: idle again"
                );
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

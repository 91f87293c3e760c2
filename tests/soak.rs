//! Ten minutes of audio through the allocation-checking build (which aborts on any allocation
//! in `process()`), at ten times real time so the speech thread really streams: random block
//! sizes, random parameter changes, Speak, Stop, Skip and Pause pressed at random, garbage
//! samples in the input, and re-activations at other rates. Zero faults: every output sample
//! clean and within the gains' reach, and afterwards the plugin comes back to plain
//! pass-through and lets the host sleep.

use anyhow::Result;
use clack_host::prelude::{ClapId, ProcessStatus};
use orator_tests::signal::{all_clean, sine};
use orator_tests::{LoadedPlugin, ParamChange, alloc_check_bundle_path, press};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const MAX_BLOCK: usize = 4096;
/// Audio time rendered.
const SOAK_SECONDS: f64 = 600.0;
/// How much faster than real time the host runs.
const SPEED_UP: f64 = 10.0;
/// Input and sidechain peaks (0.5 each) through +12 dB strips and +12 dB output, plus the voice
/// (at most 0 dBFS after its limiter, √2 when panned hard) through the same: the loudest any
/// sample may be.
const LOUDEST: f32 = (0.5 + 0.5 + std::f32::consts::SQRT_2) * 4.0 * 4.0 * 1.001;

#[test]
fn ten_minutes_of_random_use_have_zero_faults() -> Result<()> {
    let mut plugin = LoadedPlugin::load(&alloc_check_bundle_path())?;
    plugin.set_text("Soak test. Speak, stop, skip and pause at random. Nothing may break.")?;
    let params = plugin.params()?;
    let id = |name: &str| params.iter().find(|p| p.name == name).map(|p| p.id);
    let (Some(speak), Some(stop), Some(skip), Some(pause)) =
        (id("Speak"), id("Stop"), id("Skip"), id("Pause"))
    else {
        anyhow::bail!("missing parameters");
    };
    let triggers = [speak, stop, skip, pause];
    let others: Vec<ClapId> = params
        .iter()
        .map(|p| p.id)
        .filter(|id| !triggers.contains(id))
        .collect();
    let mut rng = SmallRng::seed_from_u64(0x50ac);
    let rates = [48000.0, 44100.0, 96000.0, 22050.0];
    let mut rate = rates[0];
    plugin.activate(rate, 1, MAX_BLOCK as u32)?;
    let mut music = sine(220.0, 0.5, rate, MAX_BLOCK * 2);
    let (mut left, mut right) = (vec![0.0f32; MAX_BLOCK], vec![0.0f32; MAX_BLOCK]);
    let mut input = vec![0.0f32; MAX_BLOCK];
    let (mut rendered, mut since_activation) = (0.0f64, 0.0f64);
    let (mut speaks, mut paused, mut blocks) = (0u32, false, 0u64);
    let started = Instant::now();
    while rendered < SOAK_SECONDS {
        // Every 150 s of audio, the host re-activates at another rate.
        if since_activation >= 150.0 {
            rate = rates[rng.random_range(0..rates.len())];
            plugin.activate(rate, 1, MAX_BLOCK as u32)?;
            music = sine(220.0, 0.5, rate, MAX_BLOCK * 2);
            since_activation = 0.0;
        }
        let frames = rng.random_range(1..=MAX_BLOCK);
        let offset = rng.random_range(0..MAX_BLOCK);
        input[..frames].copy_from_slice(&music[offset..offset + frames]);
        if rng.random_bool(0.01) {
            let at = rng.random_range(0..frames);
            input[at] = [f32::NAN, f32::INFINITY, -f32::INFINITY, 1e-40][rng.random_range(0..4)];
        }
        let mut changes = Vec::new();
        if rng.random_bool(0.05) {
            for _ in 0..rng.random_range(1..6) {
                changes.push(ParamChange {
                    id: others[rng.random_range(0..others.len())],
                    value: rng.random_range(0.0..=1.0),
                    time: rng.random_range(0..frames as u32),
                });
            }
        }
        for (button, chance) in [(speak, 0.01), (stop, 0.002), (skip, 0.003)] {
            if rng.random_bool(chance) {
                changes.extend(press(button, 0, 0));
                speaks += u32::from(button == speak);
            } else {
                // Released after the press block.
                changes.push(ParamChange {
                    id: button,
                    value: 0.0,
                    time: 0,
                });
            }
        }
        if rng.random_bool(0.002) {
            paused = !paused;
            changes.push(ParamChange {
                id: pause,
                value: if paused { 1.0 } else { 0.0 },
                time: 0,
            });
        }
        let sidechain = &music[MAX_BLOCK - offset / 2..][..frames];
        plugin.process(
            &[&input[..frames], &input[..frames]],
            Some(&[sidechain, sidechain]),
            &mut [&mut left[..frames], &mut right[..frames]],
            &changes,
        )?;
        for channel in [&left[..frames], &right[..frames]] {
            assert!(all_clean(channel), "block {blocks}: output not clean");
            let peak = channel.iter().fold(0.0f32, |p, x| p.max(x.abs()));
            assert!(peak <= LOUDEST, "block {blocks}: peak {peak}");
        }
        let seconds = frames as f64 / rate;
        rendered += seconds;
        since_activation += seconds;
        blocks += 1;
        // Paced at SPEED_UP × real time, so the speech thread gets its share.
        let due = Duration::from_secs_f64(rendered / SPEED_UP);
        if let Some(ahead) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
    assert!(speaks > 100, "only {speaks} Speak presses");

    // Back to defaults, speech stopped and unpaused: the host signal passes bit for bit again
    // and the plugin stops asking to be kept alive.
    let mut changes: Vec<ParamChange> = params
        .iter()
        .map(|p| ParamChange {
            id: p.id,
            value: p.default,
            time: 0,
        })
        .collect();
    changes.extend(press(stop, 0, 0));
    let frames = 512;
    let mut status = ProcessStatus::Continue;
    let mut last = Vec::new();
    for block in 0..(20.0 * rate) as usize / frames {
        let changes = if block == 0 {
            changes.clone()
        } else {
            press(stop, block, 0)
        };
        input[..frames].copy_from_slice(&music[..frames]);
        status = plugin.process(
            &[&input[..frames], &input[..frames]],
            None,
            &mut [&mut left[..frames], &mut right[..frames]],
            &changes,
        )?;
        last = left[..frames].to_vec();
    }
    assert!(
        last == music[..frames],
        "not back to bit-exact pass-through after the soak"
    );
    assert_eq!(
        status,
        ProcessStatus::ContinueIfNotQuiet,
        "still asking to be kept alive with nothing to say"
    );
    eprintln!(
        "soak: {blocks} blocks, {speaks} Speak presses, {:.0} s of audio in {:.1} s",
        rendered,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

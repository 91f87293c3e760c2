//! Loads a debug build of Orator compiled with nice-plug's `assert_process_allocs`, which aborts
//! the whole process on any allocation or free inside `process()` or `reset()`. Thousands of
//! blocks of varying size with parameter changes, note events and a moving, looping, stopping
//! transport in every block must run without tripping it.

use anyhow::Result;
use orator_tests::signal::{all_clean, sine};
use orator_tests::{LoadedPlugin, Note, ParamChange, Transport, alloc_check_bundle_path};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[test]
fn process_never_allocates_over_thousands_of_varied_blocks() -> Result<()> {
    let mut plugin = LoadedPlugin::load(&alloc_check_bundle_path())?;
    // Text to speak, so that random Speak triggers stream voice through process() too, and
    // phrase lines for the notes and Trigger to play from the phrase bank.
    plugin.set_text("Allocation free.\nEvery block, every time.\nNotes too.")?;
    let ids: Vec<_> = plugin.params()?.iter().map(|p| p.id).collect();
    let mut rng = SmallRng::seed_from_u64(0xa110c);
    let mut blocks = 0;
    for &(rate, max_block) in &[
        (44100.0, 512u32),
        (48000.0, 16384),
        (8000.0, 1),
        (192000.0, 777),
    ] {
        plugin.activate(rate, 1, max_block)?;
        let input = sine(440.0, 0.5, rate, max_block as usize);
        let mut left = vec![0.0f32; max_block as usize];
        let mut right = vec![0.0f32; max_block as usize];
        let mut position = 0i64;
        for i in 0..1500 {
            let frames = rng.random_range(1..=max_block as usize);
            let changes: Vec<_> = if i % 5 == 0 {
                ids.iter()
                    .map(|&id| ParamChange {
                        id,
                        value: rng.random_range(-80.0..=12.0),
                        time: rng.random_range(0..frames as u32),
                    })
                    .collect()
            } else {
                // Automation in every block: a few parameters at random offsets.
                (0..3)
                    .map(|_| ParamChange {
                        id: ids[rng.random_range(0..ids.len())],
                        value: rng.random_range(0.0..=1.0),
                        time: rng.random_range(0..frames as u32),
                    })
                    .collect()
            };
            // Notes on and off for phrases that exist and ones that do not, at any offset.
            let mut notes: Vec<Note> = (0..rng.random_range(0..4))
                .map(|_| Note {
                    time: rng.random_range(0..frames as u32),
                    key: rng.random_range(55..70),
                    velocity: rng.random_range(0.0..=1.0),
                    on: rng.random_bool(0.6),
                })
                .collect();
            notes.sort_by_key(|n| n.time);
            // Playing most of the time, with a jump (a loop) now and then.
            if i % 97 == 0 {
                position = rng.random_range(0..1_000_000);
            }
            let transport = Transport {
                playing: i % 300 < 250,
                position,
            };
            position += frames as i64;
            plugin.process_with(
                &[&input[..frames], &input[..frames]],
                Some(&[&input[..frames], &input[..frames]]),
                &mut [&mut left[..frames], &mut right[..frames]],
                &changes,
                &notes,
                Some(transport),
            )?;
            assert!(all_clean(&left[..frames]));
            if i % 250 == 0 {
                plugin.reset()?;
            }
            blocks += 1;
        }
    }
    assert_eq!(blocks, 6000);

    // Finally, speech must really stream through process() in this build: every parameter back
    // to its default (the random phase leaves Pause, mutes and solos anywhere), trigger Speak,
    // and wait (at real-time pace, bounded) for voice at the output.
    let params = plugin.params()?;
    let speak = params
        .iter()
        .find(|p| p.name == "Speak")
        .map(|p| p.id)
        .ok_or_else(|| anyhow::anyhow!("no Speak parameter"))?;
    let defaults: Vec<ParamChange> = params
        .iter()
        .map(|p| ParamChange {
            id: p.id,
            value: p.default,
            time: 0,
        })
        .collect();
    plugin.activate(48000.0, 1, 512)?;
    let silence = vec![0.0f32; 512];
    let mut left = vec![0.0f32; 512];
    let mut right = vec![0.0f32; 512];
    let mut heard = false;
    for block in 0..2000 {
        let changes = match block {
            0 => defaults.clone(),
            1 => vec![ParamChange {
                id: speak,
                value: 1.0,
                time: 0,
            }],
            _ => Vec::new(),
        };
        plugin.process(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &changes,
        )?;
        if orator_tests::signal::rms(&left) > 0.005 {
            heard = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        heard,
        "no speech reached the output of the allocation-checking build"
    );
    Ok(())
}

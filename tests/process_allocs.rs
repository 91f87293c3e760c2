//! Loads a debug build of Orator compiled with nice-plug's `assert_process_allocs`, which aborts
//! the whole process on any allocation or free inside `process()` or `reset()`. Thousands of
//! blocks of varying size with parameter changes must run without tripping it.

use anyhow::Result;
use orator_tests::signal::{all_clean, sine};
use orator_tests::{LoadedPlugin, ParamChange, alloc_check_bundle_path};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[test]
fn process_never_allocates_over_thousands_of_varied_blocks() -> Result<()> {
    let mut plugin = LoadedPlugin::load(&alloc_check_bundle_path())?;
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
                Vec::new()
            };
            plugin.process(
                &[&input[..frames], &input[..frames]],
                Some(&[&input[..frames], &input[..frames]]),
                &mut [&mut left[..frames], &mut right[..frames]],
                &changes,
            )?;
            assert!(all_clean(&left[..frames]));
            if i % 250 == 0 {
                plugin.reset()?;
            }
            blocks += 1;
        }
    }
    assert_eq!(blocks, 6000);
    Ok(())
}

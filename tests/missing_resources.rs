//! A plugin installed without its resources folder (no voice, no ONNX Runtime, no espeak-ng
//! data) still loads, activates and passes audio untouched while its speech thread fails in
//! the background, and is destroyed cleanly.

use anyhow::Result;
use orator_tests::signal::sine;
use orator_tests::{LoadedPlugin, bundle_path};

#[test]
fn without_resources_audio_passes_bit_exactly() -> Result<()> {
    // A copy of the bundle alone in an empty folder, so nothing is found beside it.
    let dir = std::env::temp_dir().join(format!("orator-no-resources-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let lonely = dir.join("Orator.clap");
    std::fs::copy(bundle_path(), &lonely)?;
    assert!(
        std::env::var_os("ORATOR_RESOURCES").is_none(),
        "ORATOR_RESOURCES is set: this test needs the plugin to find no resources"
    );
    {
        let mut plugin = LoadedPlugin::load(&lonely)?;
        plugin.activate(48000.0, 1, 256)?;
        let input = sine(440.0, 0.5, 48000.0, 256);
        let mut left = vec![0.0f32; 256];
        let mut right = vec![0.0f32; 256];
        // Two seconds of blocks while the speech thread looks for resources and fails.
        for _ in 0..375 {
            plugin.process(&[&input, &input], None, &mut [&mut left, &mut right], &[])?;
            assert_eq!(left, input);
            assert_eq!(right, input);
        }
        plugin.deactivate();
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

//! A voice's `.onnx` as a hostile file would give it: the noise rewrite, the split at the
//! decoder's input and the crop planner, then every window the streaming path could ask for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::tts::model::{noise, split};

fuzz_target!(|model: &[u8]| {
    // The rewrite either refuses or gives a model the split reads as the loader does.
    let bytes = match noise::make_repeatable(model) {
        Ok(rewritten) => rewritten.model,
        Err(_) => model.to_vec(),
    };
    let Ok(parts) = split::split_decoder(&bytes) else {
        return;
    };
    assert!(
        !parts.latent.is_empty(),
        "a split names the latent it cuts at"
    );
    let cropping = parts.cropping;
    if cropping.is_empty() {
        return;
    }
    // Window shapes the scheduler uses: short and long windows of the sentence's own frames,
    // with full, partial and no context on either side (context frames are part of the window).
    for own in [1usize, 2, 7, 40, 333] {
        for (left, right) in [(0, 0), (1, 0), (0, 1), (cropping.context, cropping.context)] {
            let frames = own + left + right;
            let crops = cropping.window(frames, left, right);
            assert_eq!(crops.bounds.len(), cropping.points.len());
            assert!(
                crops
                    .bounds
                    .iter()
                    .all(|&(start, end)| 0 <= start && start <= end)
            );
            if left == 0 && right == 0 {
                assert_eq!(crops.offset, 0, "a window without context lost samples");
            }
        }
    }
});

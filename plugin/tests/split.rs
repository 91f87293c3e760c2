//! The decoder split on the real default voice and real ONNX Runtime:
//! running the front and then the decoder must give exactly what the whole model gives.

use orator::tts::model::crop::{self, Cropping};
use orator::tts::model::split::split_decoder;
use orator::tts::model::{noise::make_repeatable, wire::GraphError};
use orator::tts::resources::Resources;
use orator::tts::voice::runtime::{build_session, runtime};
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use std::borrow::Cow;

fn resources() -> Resources {
    Resources::locate().expect("run `cargo xtask assets` first")
}

type Inputs<'a> = Vec<(Cow<'a, str>, SessionInputValue<'a>)>;

/// One sentence's worth of inputs: phoneme ids, scales and deterministic noise.
fn inputs(noise_names: &[String]) -> Inputs<'static> {
    // A sentence's worth: BOS, phonemes with pads between them, EOS (ids inside the joe
    // vocabulary), long enough for several decoder windows.
    let phonemes = [
        20, 59, 24, 100, 3, 35, 120, 27, 3, 88, 14, 61, 3, 44, 102, 39,
    ];
    let mut ids: Vec<i64> = vec![1, 0];
    for &p in phonemes.iter().cycle().take(64) {
        ids.extend([p, 0]);
    }
    ids.push(2);
    let mut inputs: Inputs = vec![
        (
            "input".into(),
            Tensor::from_array(([1usize, ids.len()], ids.clone()))
                .expect("ids")
                .into(),
        ),
        (
            "input_lengths".into(),
            Tensor::from_array(([1usize], vec![ids.len() as i64]))
                .expect("lengths")
                .into(),
        ),
        (
            "scales".into(),
            Tensor::from_array(([3usize], vec![0.667f32, 1.0, 0.8]))
                .expect("scales")
                .into(),
        ),
    ];
    for (k, name) in noise_names.iter().enumerate() {
        let (channels, frames) = (192usize, 2048usize);
        // A fixed pseudo-random sequence (any values do; both sides get the same).
        let mut state = 0x2545_f491_4f6c_dd1du64 ^ k as u64;
        let values: Vec<f32> = (0..channels * frames)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect();
        inputs.push((
            name.clone().into(),
            Tensor::from_array(([1usize, channels, frames], values))
                .expect("noise")
                .into(),
        ));
    }
    inputs
}

fn first_output(session: &mut Session, inputs: Inputs) -> (Vec<i64>, Vec<f32>) {
    let outputs = session.run(inputs).expect("run");
    let (shape, data) = outputs[0]
        .try_extract_tensor::<f32>()
        .expect("a float output");
    (shape.to_vec(), data.to_vec())
}

/// Decodes `window` (`[1, channels, frames]`, its first `left` and last `right` frames context)
/// with the crops `cropping` plans, and returns the window's own audio.
fn decode_window(
    decoder: &mut Session,
    latent: &str,
    cropping: &Cropping,
    window: (Vec<usize>, Vec<f32>),
    left: usize,
    right: usize,
) -> Vec<f32> {
    let frames = window.0[2];
    let crops = cropping.window(frames, left, right);
    let mut inputs: Inputs = vec![(
        latent.to_owned().into(),
        Tensor::from_array(window).expect("window").into(),
    )];
    for (k, &(start, end)) in crops.bounds.iter().enumerate() {
        for (name, bound) in [(crop::start_input(k), start), (crop::end_input(k), end)] {
            let bound = Tensor::from_array(([1usize], vec![bound])).expect("bound");
            inputs.push((name.into(), bound.into()));
        }
    }
    let (_, decoded) = first_output(decoder, inputs);
    assert_eq!(decoded.len(), crops.len, "the output as long as planned");
    let own = (frames - left - right) * cropping.hop;
    decoded[left * cropping.hop - crops.offset..][..own].to_vec()
}

#[test]
fn front_then_decoder_equals_the_whole_model_bit_for_bit() {
    let r = resources();
    let original = std::fs::read(r.default_voice()).expect("the default voice");
    let repeatable = make_repeatable(&original).expect("repeatable");
    let noise: Vec<String> = repeatable.noise.iter().map(|n| n.name.clone()).collect();
    let split = split_decoder(&repeatable.model).expect("the joe voice splits");
    // Found by structure; this is the latent's name in this voice's graph.
    assert_eq!(split.latent, "/Mul_7_output_0");

    let env = runtime(&r.onnxruntime()).expect("ONNX Runtime");
    let mut whole = build_session(env, &repeatable.model).expect("whole model");
    let mut front = build_session(env, &split.front).expect("front");
    let mut decoder = build_session(env, &split.decoder).expect("decoder");
    // Cropped around each of the voice's three upsamplings (by 8, 8 and 4), at their inputs
    // and outputs: six points, each keeping less than the 10 frames of context there.
    let rates: Vec<usize> = split.cropping.points.iter().map(|p| p.rate).collect();
    assert_eq!(rates, [1, 8, 8, 64, 64, 256], "{:?}", split.cropping);
    assert_eq!(split.cropping.hop, 256);
    // Its reach into the latent, found the same way: 11 frames (the receptive field measured
    // ±10.07 with an impulse).
    assert_eq!(split.cropping.context, 11);
    eprintln!(
        "crop points: {:?}; one side's context costs {:.2} frames",
        split.cropping.points, split.cropping.side_cost
    );
    for point in &split.cropping.points {
        assert!(point.margin < 10 * point.rate, "{point:?}");
    }
    let decoder_inputs: Vec<&str> = decoder.inputs().iter().map(|i| i.name()).collect();
    let mut expected_inputs = vec![split.latent.clone()];
    for k in 0..split.cropping.points.len() {
        expected_inputs.extend([crop::start_input(k), crop::end_input(k)]);
    }
    assert_eq!(decoder_inputs, expected_inputs);
    let front_outputs: Vec<&str> = front.outputs().iter().map(|o| o.name()).collect();
    // The latent, then the phonemes' durations (found as the front's only `Ceil`).
    assert_eq!(split.durations.as_deref(), Some("/Ceil_output_0"));
    assert_eq!(front_outputs, [split.latent.as_str(), "/Ceil_output_0"]);
    assert!(
        split.front.len() + split.decoder.len() < repeatable.model.len() + 4096,
        "no weights duplicated: {} + {} vs {}",
        split.front.len(),
        split.decoder.len(),
        repeatable.model.len()
    );

    let (_, expected) = first_output(&mut whole, inputs(&noise));
    let (shape, latent) = first_output(&mut front, inputs(&noise));
    assert_eq!(shape.len(), 3, "latent shape {shape:?}");
    assert_eq!(shape[1], 192);
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let audio = decode_window(
        &mut decoder,
        &split.latent,
        &split.cropping,
        (shape.clone(), latent),
        0,
        0,
    );
    assert!(!expected.is_empty());
    assert_eq!(audio.len(), shape[2] * 256, "256 samples per latent frame");
    assert!(audio == expected, "the split changes the audio");

    // Decoding the latent in windows with the context the decoder's structure needs on each
    // side, keeping only each window's own frames, equals decoding it whole, with the context
    // cropped inside the decoder too. First window 16 frames, then 64.
    let (channels, frames) = (shape[1], shape[2]);
    let (_, latent) = first_output(&mut front, inputs(&noise));
    let mut chunked = Vec::with_capacity(audio.len());
    let mut start = 0;
    while start < frames {
        let end = (start + if start == 0 { 16 } else { 64 }).min(frames);
        let context = split.cropping.context;
        let (from, to) = (start.saturating_sub(context), (end + context).min(frames));
        let mut window = Vec::with_capacity(channels * (to - from));
        for c in 0..channels {
            window.extend_from_slice(&latent[c * frames + from..c * frames + to]);
        }
        chunked.extend(decode_window(
            &mut decoder,
            &split.latent,
            &split.cropping,
            (vec![1usize, channels, to - from], window),
            start - from,
            to - end,
        ));
        start = end;
    }
    assert_eq!(chunked.len(), audio.len());
    let signal: f64 = audio.iter().map(|&x| f64::from(x).powi(2)).sum();
    let error: f64 = audio
        .iter()
        .zip(&chunked)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    let snr_db = 10.0 * (signal / error.max(1e-300)).log10();
    assert!(snr_db >= 100.0, "windowed decoding: {snr_db:.1} dB SNR");
    eprintln!("windowed decoding against whole: {snr_db:.1} dB SNR over {frames} frames");
}

#[test]
fn a_model_without_a_decoder_is_refused_with_the_reason() {
    let r = resources();
    let original = std::fs::read(r.default_voice()).expect("the default voice");
    // The front alone is a real model with no HiFi-GAN in it.
    let front = split_decoder(&original).expect("splits").front;
    match split_decoder(&front) {
        Err(GraphError::Unsupported(reason)) => {
            assert!(reason.contains("transposed convolution"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        split_decoder(b"\x08\x08"),
        Err(GraphError::Malformed(_))
    ));
}

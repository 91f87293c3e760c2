//! Loads the built `Orator.clap` through a real CLAP host (clack-host) and checks what a DAW and
//! clap-validator check: descriptor, ports, parameters, activation at any rate and block size,
//! clean output, parameter changes, and state save/load including hostile blobs.

use anyhow::Result;
use orator_tests::signal::{all_clean, ratio_db, sine, tone_level};
use orator_tests::{
    LoadedPlugin, ParamChange, bundle_path, saved_session, saved_text, state_blob, with_session,
    with_text,
};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

const SAMPLE_RATES: [f64; 8] = [
    8000.0, 22050.0, 44100.0, 48000.0, 96000.0, 192000.0, 384000.0, 1234.5678,
];
const MAX_BLOCKS: [u32; 6] = [1, 17, 512, 4096, 16384, 777];

fn load() -> Result<LoadedPlugin> {
    LoadedPlugin::load(&bundle_path())
}

/// Runs `input` (stereo, same signal on both channels) through the plugin in blocks of
/// `block` frames and returns the left output.
fn run(
    plugin: &mut LoadedPlugin,
    input: &[f32],
    block: usize,
    first_changes: &[ParamChange],
) -> Result<Vec<f32>> {
    let mut out = vec![0.0f32; input.len()];
    let mut right = vec![0.0f32; block];
    for (i, (src, dst)) in input.chunks(block).zip(out.chunks_mut(block)).enumerate() {
        let changes = if i == 0 { first_changes } else { &[] };
        let right = &mut right[..src.len()];
        plugin.process(&[src, src], None, &mut [dst, right], changes)?;
        assert!(all_clean(right), "right channel not clean");
    }
    Ok(out)
}

/// The libraries every Linux desktop has. The editor's X11 and OpenGL libraries, ONNX Runtime
/// and JACK are loaded at run time, so a host on a machine without them still loads the plugin
/// (and passes audio).
#[cfg(target_os = "linux")]
const SYSTEM_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
];

/// Linux's check (`readelf`); the Windows build's imports are checked by
/// `cargo xtask build-windows` with MinGW's `objdump`, on the Linux side.
#[cfg(target_os = "linux")]
#[test]
fn the_bundle_links_only_system_libraries() -> Result<()> {
    let out = std::process::Command::new("readelf")
        .arg("-d")
        .arg(orator_tests::bundle_path())
        .output()?;
    assert!(out.status.success(), "readelf failed");
    let listing = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(
        needed.contains(&"libc.so.6"),
        "no dynamic section? {listing}"
    );
    for library in &needed {
        assert!(
            SYSTEM_LIBRARIES.contains(library),
            "the plugin needs {library} at load time: {needed:?}"
        );
    }
    Ok(())
}

#[test]
fn descriptor_ports_and_parameters_are_what_hosts_expect() -> Result<()> {
    let mut plugin = load()?;
    let d = plugin.descriptor.clone();
    assert_eq!(d.id, "org.orator.orator");
    assert_eq!(d.name, "Orator");
    assert!(!d.vendor.is_empty());
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    for feature in ["audio-effect", "stereo", "mono", "mixing", "utility"] {
        assert!(
            d.features.iter().any(|f| f == feature),
            "missing feature {feature}: {d:?}"
        );
    }

    let inputs = plugin.ports(true)?;
    let outputs = plugin.ports(false)?;
    assert_eq!(inputs.len(), 2, "main input plus sidechain: {inputs:?}");
    assert!(inputs[0].is_main && inputs[0].channels == 2);
    assert!(!inputs[1].is_main && inputs[1].channels == 2);
    assert_eq!(inputs[1].name, "Sidechain");
    assert_eq!(outputs.len(), 1);
    assert!(outputs[0].is_main && outputs[0].channels == 2);

    let params = plugin.params()?;
    let names: Vec<_> = params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Dry Gain",
            "Voice Gain",
            "Output Gain",
            "Dry Pan",
            "Voice Pan",
            "Sidechain Gain",
            "Sidechain Pan",
            "Dry Mute",
            "Voice Mute",
            "Sidechain Mute",
            "Dry Solo",
            "Voice Solo",
            "Sidechain Solo",
            "Duck Depth",
            "Duck Attack",
            "Duck Release",
            "Duck Key",
            "EQ Low",
            "EQ Low Freq",
            "EQ Mid",
            "EQ Mid Freq",
            "EQ Mid Q",
            "EQ High",
            "EQ High Freq",
            "De-esser",
            "Comp Threshold",
            "Comp Ratio",
            "Comp Attack",
            "Comp Release",
            "Comp Makeup",
            "Limiter Ceiling",
            "Speak",
            "Stop",
            "Skip",
            "Pause",
            "Phrase",
            "Trigger",
            "Base Note",
            "Velocity Sensitive",
            "Note Off"
        ]
    );
    // Notes speak phrases: one note input taking CLAP notes and MIDI.
    let notes = plugin.note_inputs()?;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].1 && notes[0].2, "{notes:?}");
    let base = plugin.param("Base Note")?;
    assert_eq!(plugin.value_to_text(base.id, base.default)?, "C3 (60)");
    let c4 = plugin.value_from_text(base.id, "C4")?;
    assert_eq!(plugin.value_to_text(base.id, c4)?, "C4 (72)");
    for p in params.iter().filter(|p| p.name.ends_with("Gain")) {
        // nice-plug hands CLAP normalised values; the plugin's text conversion gives the units.
        assert_eq!((p.min, p.max), (0.0, 1.0), "{p:?}");
        // The sidechain is a ducking key first: it reaches the output only when turned up.
        let default = if p.name == "Sidechain Gain" {
            "-inf dB"
        } else {
            "0.00 dB"
        };
        assert_eq!(plugin.value_to_text(p.id, p.default)?, default);
        assert_eq!(plugin.value_to_text(p.id, p.min)?, "-inf dB");
        assert_eq!(plugin.value_to_text(p.id, p.max)?, "12.00 dB");
        assert_eq!(plugin.param_value(p.id)?, p.default);
        let minus_six = plugin.value_from_text(p.id, "-6 dB")?;
        assert_eq!(plugin.value_to_text(p.id, minus_six)?, "-6.00 dB");
    }
    assert_eq!(plugin.latency(), 0);
    Ok(())
}

#[test]
fn passes_audio_bit_exactly_at_every_rate_and_block_size() -> Result<()> {
    let mut plugin = load()?;
    for &rate in &SAMPLE_RATES {
        for &max_block in &MAX_BLOCKS {
            plugin.activate(rate, 1, max_block)?;
            let input = sine(
                440.0_f64.min(rate / 4.0),
                0.5,
                rate,
                3 * max_block as usize + 5,
            );
            let out = run(&mut plugin, &input, max_block as usize, &[])?;
            assert!(all_clean(&out), "{rate} Hz / {max_block}: output not clean");
            // At unity gains Orator must not colour the signal at all.
            assert_eq!(out, input, "{rate} Hz / {max_block}: not bit-exact");
        }
    }
    Ok(())
}

#[test]
fn random_block_sizes_with_random_parameter_changes_stay_clean() -> Result<()> {
    let mut plugin = load()?;
    let ids: Vec<_> = plugin.params()?.iter().map(|p| p.id).collect();
    let mut rng = SmallRng::seed_from_u64(0x0_4a70);
    for &rate in &[44100.0, 1234.5678, 768000.0] {
        plugin.activate(rate, 1, 4096)?;
        let mut left = vec![0.0f32; 4096];
        let mut right = vec![0.0f32; 4096];
        for block in 0..400 {
            let frames = rng.random_range(1..=4096usize);
            let input = sine(97.0, 0.8, rate, frames);
            let changes: Vec<_> = (0..rng.random_range(0..3))
                .map(|_| ParamChange {
                    id: ids[rng.random_range(0..ids.len())],
                    value: rng.random_range(0.0..=1.0),
                    time: rng.random_range(0..frames as u32),
                })
                .collect();
            plugin.process(
                &[&input, &input],
                Some(&[&input, &input]),
                &mut [&mut left[..frames], &mut right[..frames]],
                &changes,
            )?;
            assert!(
                all_clean(&left[..frames]) && all_clean(&right[..frames]),
                "{rate} Hz block {block}: non-finite or subnormal output"
            );
            // +12 dB dry and +12 dB output at most: 0.8 × 4 × 4.
            assert!(left[..frames].iter().all(|x| x.abs() <= 12.8 + 1e-3));
            if block % 97 == 0 {
                plugin.reset()?;
            }
        }
        plugin.deactivate();
    }
    Ok(())
}

#[test]
fn gain_parameters_change_the_level_by_the_set_amount() -> Result<()> {
    let mut plugin = load()?;
    let dry = plugin.param("Dry Gain")?.id;
    let output = plugin.param("Output Gain")?.id;
    let rate = 48000.0;
    plugin.activate(rate, 1, 512)?;
    let input = sine(1000.0, 0.5, rate, 48000);
    let tail = 24000..48000; // after the 20 ms ramp has long finished

    let mut change = |id, db: &str| -> Result<ParamChange> {
        let value = plugin.value_from_text(id, db)?;
        Ok(ParamChange { id, value, time: 0 })
    };
    let minus_6 = change(dry, "-6")?;
    let out_minus_12 = change(output, "-12")?;
    let dry_plus_12 = change(dry, "12")?;
    let out_unity = change(output, "0")?;
    let dry_silent = change(dry, "-inf")?;
    let dry_unity = change(dry, "0")?;

    let out = run(&mut plugin, &input, 512, &[minus_6])?;
    let db = ratio_db(&out[tail.clone()], &input[tail.clone()]);
    assert!((db + 6.0).abs() < 0.01, "dry -6 dB measured {db:.3} dB");
    assert_eq!(plugin.param_value(dry)?, minus_6.value);

    let out = run(&mut plugin, &input, 512, &[out_minus_12])?;
    let db = ratio_db(&out[tail.clone()], &input[tail.clone()]);
    assert!(
        (db + 18.0).abs() < 0.01,
        "dry -6 dB + out -12 dB measured {db:.3} dB"
    );

    let out = run(&mut plugin, &input, 512, &[dry_plus_12, out_unity])?;
    let db = ratio_db(&out[tail.clone()], &input[tail.clone()]);
    assert!((db - 12.0).abs() < 0.01, "dry +12 dB measured {db:.3} dB");

    let out = run(&mut plugin, &input, 512, &[dry_silent])?;
    assert!(out[tail].iter().all(|&x| x == 0.0), "-inf must be silence");

    // The change is ramped: no sample-to-sample jump bigger than the sine's own slope allows.
    let out = run(&mut plugin, &input, 512, &[dry_unity])?;
    let max_sine_step = 0.5 * std::f64::consts::TAU * 1000.0 / rate;
    let max_step = out
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(
        f64::from(max_step) <= max_sine_step * 1.05,
        "step {max_step}"
    );
    Ok(())
}

/// Runs `blocks` stereo blocks of 512 with `left`/`right` as the main input and `sidechain` on
/// both sidechain channels, applying `changes` in the first block. Returns the output.
fn run_stereo(
    plugin: &mut LoadedPlugin,
    (left, right): (&[f32], &[f32]),
    sidechain: &[f32],
    changes: &[ParamChange],
) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut out = (vec![0.0f32; left.len()], vec![0.0f32; left.len()]);
    for (i, ((l, r), (s, (ol, or)))) in left
        .chunks(512)
        .zip(right.chunks(512))
        .zip(
            sidechain
                .chunks(512)
                .zip(out.0.chunks_mut(512).zip(out.1.chunks_mut(512))),
        )
        .enumerate()
    {
        let changes = if i == 0 { changes } else { &[] };
        plugin.process(&[l, r], Some(&[s, s]), &mut [ol, or], changes)?;
    }
    Ok(out)
}

#[test]
fn strips_pan_mute_solo_and_route_the_sidechain() -> Result<()> {
    let mut plugin = load()?;
    let rate = 48000.0;
    plugin.activate(rate, 1, 512)?;
    let tone = sine(1000.0, 0.5, rate, 24576);
    let music = sine(375.0, 0.25, rate, 24576); // whole cycles in the measured tail
    let silence = vec![0.0f32; tone.len()];
    let tail = 12288..24576;
    let mut set = |name: &str, text: &str| -> Result<ParamChange> {
        let id = plugin.param(name)?.id;
        let value = plugin.value_from_text(id, text)?;
        Ok(ParamChange { id, value, time: 0 })
    };
    let changes = [set("Dry Pan", "50R")?, set("Duck Depth", "0")?];
    let pan_right = [set("Dry Pan", "C")?, set("Sidechain Gain", "-6")?];
    let on = |id| ParamChange {
        id,
        value: 1.0,
        time: 0,
    };
    let solo = [on(plugin.param("Sidechain Solo")?.id)];
    let mute = [on(plugin.param("Sidechain Mute")?.id)];

    // Balance: panning the host signal right keeps the right side and lowers the left along
    // the constant-power curve (cos 3π/8 · √2 = −5.3 dB at R50).
    let (l, r) = run_stereo(&mut plugin, (&tone, &tone), &silence, &changes)?;
    let left_db = ratio_db(&l[tail.clone()], &tone[tail.clone()]);
    assert!(
        (left_db + 5.33).abs() < 0.05,
        "left at R50: {left_db:.2} dB"
    );
    assert_eq!(r[tail.clone()], tone[tail.clone()], "right side untouched");

    // The sidechain is routed to the output at −6 dB next to the centred host signal.
    let (l, _) = run_stereo(&mut plugin, (&tone, &tone), &music, &pan_right)?;
    let music_db = 20.0 * (tone_level(&l[tail.clone()], 375.0, rate) / 0.25).log10();
    let tone_db = 20.0 * (tone_level(&l[tail.clone()], 1000.0, rate) / 0.5).log10();
    assert!(
        (music_db + 6.0).abs() < 0.1,
        "sidechain at {music_db:.2} dB"
    );
    assert!(tone_db.abs() < 0.1, "host signal at {tone_db:.2} dB");

    // Solo the sidechain: the host signal goes, smoothly.
    let (l, _) = run_stereo(&mut plugin, (&tone, &tone), &music, &solo)?;
    let tone_db = 20.0 * (tone_level(&l[tail.clone()], 1000.0, rate) / 0.5).log10();
    assert!(tone_db < -100.0, "soloed away: {tone_db:.1} dB");
    let max_step = l
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    let slope = 0.5 * std::f32::consts::TAU * 1000.0 / 48000.0
        + 0.25 * std::f32::consts::TAU * 375.0 / 48000.0;
    assert!(
        max_step <= slope * 1.05,
        "a solo must not click: step {max_step}"
    );

    // Mute the soloed sidechain: silence.
    let (l, r) = run_stereo(&mut plugin, (&tone, &tone), &music, &mute)?;
    assert!(l[tail.clone()].iter().chain(&r[tail]).all(|&x| x == 0.0));
    Ok(())
}

#[test]
fn non_finite_and_subnormal_input_gives_clean_output() -> Result<()> {
    let mut plugin = load()?;
    plugin.activate(44100.0, 1, 64)?;
    let mut input = sine(440.0, 0.5, 44100.0, 64);
    input[3] = f32::NAN;
    input[9] = f32::INFINITY;
    input[10] = f32::NEG_INFINITY;
    input[20] = 1e-40;
    let out = run(&mut plugin, &input, 64, &[])?;
    assert!(all_clean(&out));
    assert_eq!([out[3], out[9], out[10], out[20]], [0.0; 4]);
    assert_eq!(out[4], input[4]);
    Ok(())
}

#[test]
fn state_round_trips_byte_identically_into_a_fresh_instance() -> Result<()> {
    let mut a = load()?;
    let dry = a.param("Dry Gain")?.id;
    let value = a.value_from_text(dry, "-3.5")?;
    a.activate(48000.0, 1, 64)?;
    run(
        &mut a,
        &[0.0; 64],
        64,
        &[ParamChange {
            id: dry,
            value,
            time: 0,
        }],
    )?;
    a.deactivate();

    let first = a.save_state()?;
    assert_eq!(a.save_state()?, first, "two saves differ");

    // A fresh instance loads it and re-saves the very same bytes.
    let mut b = load()?;
    b.load_state(&first)?;
    assert_eq!(
        b.save_state()?,
        first,
        "re-save in a fresh instance is not byte-identical"
    );
    let restored = b.param_value(dry)?;
    assert_eq!(
        b.value_to_text(dry, restored)?,
        "-3.50 dB",
        "parameter not restored"
    );

    // The session text (as the editor would have set it) survives the same trip.
    let text = "Line one — «quoted», 42 %\nLine two: 日本語 ✓";
    b.load_state(&with_text(&first, text)?)?;
    let saved = b.save_state()?;
    assert_eq!(saved_text(&saved)?, text);
    let mut c = load()?;
    c.load_state(&saved)?;
    assert_eq!(
        c.save_state()?,
        saved,
        "text state is not byte-identical after a round trip"
    );
    Ok(())
}

#[test]
fn garbage_truncated_and_empty_state_is_refused_and_the_old_state_kept() -> Result<()> {
    let mut plugin = load()?;
    let with_kept_text = with_text(&plugin.save_state()?, "keep this text")?;
    plugin.load_state(&with_kept_text)?;
    let good = plugin.save_state()?;

    let mut rng = SmallRng::seed_from_u64(7);
    let mut hostile: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("truncated".into(), good[..good.len() / 2].to_vec()),
        ("invalid utf-8".into(), vec![b'{', 0xff, 0xfe, b'}']),
        ("json null".into(), state_blob(b"null")),
        (
            "length header too big".into(),
            [&u64::MAX.to_le_bytes()[..], &good[8..]].concat(),
        ),
    ];
    for i in 0..4 {
        let mut blob = vec![0u8; 1 << 20];
        rng.fill_bytes(&mut blob);
        hostile.push((format!("random 1 MB #{i}"), blob));
    }
    for (what, blob) in &hostile {
        assert!(
            plugin.load_state(blob).is_err(),
            "{what} state was accepted"
        );
        assert_eq!(
            plugin.save_state()?,
            good,
            "{what} state changed the plugin"
        );
    }

    // A well-formed blob whose session is damaged: the parameters load, the session is
    // refused and the old text kept.
    for session in [r#"{"text":7}"#, r#"{"schema":0,"text":"zero"}"#, "[[["] {
        // nice-plug accepts the blob as a whole; only the session inside it is refused.
        let _ = plugin.load_state(&with_session(&good, session)?);
        assert_eq!(
            saved_text(&plugin.save_state()?)?,
            "keep this text",
            "{session} replaced the text"
        );
    }
    // A session from a newer Orator loads its text, and saves its newer settings back.
    let future = r#"{"schema":999,"text":"from the future","captions":{"size":40}}"#;
    plugin.load_state(&with_session(&good, future)?)?;
    let saved = plugin.save_state()?;
    assert_eq!(saved_text(&saved)?, "from the future");
    let session = saved_session(&saved)?;
    assert_eq!(
        (&session["schema"], &session["captions"]["size"]),
        (&serde_json::json!(999), &serde_json::json!(40))
    );
    // A fresh instance that cannot read a project's session writes it back as it was.
    let mut fresh = load()?;
    let damaged = with_session(&good, r#"{"text":7,"theirs":"keep"}"#)?;
    let _ = fresh.load_state(&damaged);
    let resaved = fresh.save_state()?;
    assert_eq!(
        saved_session(&resaved)?,
        serde_json::json!({"text": 7, "theirs": "keep"})
    );
    plugin.load_state(&good)?;

    // The instance still works afterwards.
    plugin.activate(44100.0, 1, 128)?;
    let input = sine(220.0, 0.3, 44100.0, 128);
    assert_eq!(run(&mut plugin, &input, 128, &[])?, input);
    Ok(())
}

#[test]
fn reactivation_and_reset_are_idempotent() -> Result<()> {
    let mut plugin = load()?;
    let input = sine(330.0, 0.4, 48000.0, 2048);
    for round in 0..5 {
        let rate = [48000.0, 44100.0, 96000.0][round % 3];
        plugin.activate(rate, 1, 256)?;
        plugin.reset()?;
        plugin.reset()?;
        assert_eq!(run(&mut plugin, &input, 256, &[])?, input, "round {round}");
    }
    Ok(())
}

#[test]
fn the_sidechain_ducks_the_host_signal_by_the_set_depth_and_releases() -> Result<()> {
    let rate = 48000.0;
    let mut plugin = load()?;
    let key = plugin.param("Duck Key")?.id;
    let depth = plugin.param("Duck Depth")?.id;
    let sidechain_key = plugin.value_from_text(key, "Sidechain")?;
    let minus_18 = plugin.value_from_text(depth, "-18")?;
    plugin.activate(rate, 1, 480)?;
    let music = sine(1000.0, 0.5, rate, 480);
    let talk = sine(300.0, 0.3, rate, 480);
    let quiet = vec![0.0f32; 480];
    let mut left = vec![0.0f32; 480];
    let mut right = vec![0.0f32; 480];
    let mut levels = Vec::new();
    // 0.5 s without a key, 1 s with the sidechain talking, 3 s without.
    for block in 0..450 {
        let changes = if block == 0 {
            vec![
                ParamChange {
                    id: key,
                    value: sidechain_key,
                    time: 0,
                },
                ParamChange {
                    id: depth,
                    value: minus_18,
                    time: 0,
                },
            ]
        } else {
            Vec::new()
        };
        let side: &[f32] = if (50..150).contains(&block) {
            &talk
        } else {
            &quiet
        };
        plugin.process(
            &[&music, &music],
            Some(&[side, side]),
            &mut [&mut left, &mut right],
            &changes,
        )?;
        levels.push(ratio_db(&left, &music));
    }
    assert!(
        levels[..50].iter().all(|&db| db.abs() < 1e-6),
        "untouched before the key"
    );
    let ducked = levels[140];
    assert!(
        (ducked + 18.0).abs() < 0.1,
        "ducked by {ducked:.2} dB, set -18 dB"
    );
    assert!(
        levels[60] < -15.0,
        "10 ms attack: down within 100 ms ({:.1} dB)",
        levels[60]
    );
    assert!(
        levels[170] < -15.0,
        "held through a 250 ms pause ({:.1} dB)",
        levels[170]
    );
    // Release is a one-pole time constant (400 ms to 63 %): five of them after the hold.
    assert!(
        levels[449].abs() < 0.1,
        "released afterwards ({:.2} dB)",
        levels[449]
    );
    Ok(())
}

//! Phrases on the timeline through a real CLAP host with the real voice: MIDI notes and the
//! Trigger and Speak parameters speak a phrase from the phrase bank at their exact sample, live
//! and in renders (said or only detected), and the transport stops them.

use anyhow::{Context, Result, ensure};
use clack_host::prelude::ClapId;
use orator_tests::{LoadedPlugin, Note, ParamChange, Transport, bundle_path};
use std::time::Duration;

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;
const TEXT: &str = "Take one.\nThe second phrase is a little longer.\nThree.";

/// How a run paces and labels its render.
#[derive(Clone, Copy, PartialEq)]
enum Pace {
    /// Real time, after the bank had time to render: live playback.
    Live,
    /// As fast as possible, the host saying it renders offline.
    Flagged,
    /// As fast as possible, the host saying nothing.
    Unflagged,
}

/// What happens in one block: parameter changes and notes.
type Script<'a> = &'a dyn Fn(usize, &Ids) -> (Vec<ParamChange>, Vec<Note>);

struct Ids {
    trigger: ClapId,
    speak: ClapId,
    plugin: LoadedPlugin,
}

impl Ids {
    fn value(&mut self, id: ClapId, text: &str) -> f64 {
        self.plugin.value_from_text(id, text).unwrap_or(f64::NAN)
    }
}

/// A fresh instance with [`TEXT`].
fn instance(pace: Pace) -> Result<Ids> {
    let mut plugin = LoadedPlugin::load(&bundle_path())?;
    plugin.set_text(TEXT)?;
    if pace == Pace::Flagged {
        plugin.set_offline(true)?;
    }
    plugin.activate(RATE, 1, BLOCK as u32)?;
    let ids = Ids {
        trigger: plugin.param("Trigger")?.id,
        speak: plugin.param("Speak")?.id,
        plugin,
    };
    if pace == Pace::Live {
        // Time for the bank to render three short phrases and the text (about a second).
        std::thread::sleep(Duration::from_secs(6));
    }
    Ok(ids)
}

/// Runs `blocks` blocks of silence through an instance with `script`, returning the left
/// channel. `transport` gives the host's transport per block (`None`: the host has none).
fn run(
    pace: Pace,
    blocks: usize,
    setup: &[(&str, &str)],
    script: Script,
    transport: &dyn Fn(usize) -> Option<Transport>,
) -> Result<Vec<f32>> {
    let mut ids = instance(pace)?;
    let mut first = Vec::new();
    for (name, text) in setup {
        let id = ids.plugin.param(name)?.id;
        let value = ids.value(id, text);
        first.push(ParamChange { id, value, time: 0 });
    }
    let silence = vec![0.0f32; BLOCK];
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let mut out = Vec::with_capacity(blocks * BLOCK);
    for block in 0..blocks {
        let (mut changes, notes) = script(block, &ids);
        if block == 0 {
            changes.splice(0..0, first.iter().copied());
        }
        ids.plugin.process_with(
            &[&silence, &silence],
            None,
            &mut [&mut left, &mut right],
            &changes,
            &notes,
            transport(block),
        )?;
        out.extend_from_slice(&left);
        if pace == Pace::Live {
            std::thread::sleep(Duration::from_secs_f64(BLOCK as f64 / RATE));
        }
    }
    Ok(out)
}

fn none(_: usize) -> Option<Transport> {
    None
}

fn note(block: usize, at_block: usize, time: u32, key: u8, velocity: f64, on: bool) -> Vec<Note> {
    if block == at_block {
        vec![Note {
            time,
            key,
            velocity,
            on,
        }]
    } else {
        Vec::new()
    }
}

/// The first sample that is not exactly zero.
fn onset(x: &[f32]) -> Option<usize> {
    x.iter().position(|&v| v != 0.0)
}

/// The audible length: from the onset to the last sample above -60 dBFS.
fn spoken(x: &[f32]) -> usize {
    let start = onset(x).unwrap_or(0);
    x.iter().rposition(|v| v.abs() > 1e-3).unwrap_or(start) - start
}

#[test]
fn a_note_speaks_its_phrase_at_its_sample_live_and_in_renders_flagged_or_not() -> Result<()> {
    // Note 61 (C#3 with the default base C3 = 60) is phrase 2, at offset 300 of block 5 live
    // and offset 17 of block 120 in the renders (past the detector's first second).
    let live = run(
        Pace::Live,
        400,
        &[],
        &|b, _| (Vec::new(), note(b, 5, 300, 61, 1.0, true)),
        &none,
    )?;
    let flagged = run(
        Pace::Flagged,
        520,
        &[],
        &|b, _| (Vec::new(), note(b, 120, 17, 61, 1.0, true)),
        &none,
    )?;
    let unflagged = run(
        Pace::Unflagged,
        520,
        &[],
        &|b, _| (Vec::new(), note(b, 120, 17, 61, 1.0, true)),
        &none,
    )?;
    let live_at = 5 * BLOCK + 300;
    let render_at = 120 * BLOCK + 17;
    ensure!(
        onset(&live) == Some(live_at),
        "live: speech starts at {:?}, the note is at {live_at} (not rendered ahead in time?)",
        onset(&live)
    );
    ensure!(
        onset(&flagged) == Some(render_at),
        "flagged render: speech at {:?}, note at {render_at}",
        onset(&flagged)
    );
    ensure!(
        flagged == unflagged,
        "a render the host does not announce differs from an announced one"
    );
    let length = spoken(&flagged);
    ensure!(
        length > (RATE * 1.2) as usize,
        "phrase 2 is a whole sentence: {length} samples"
    );
    ensure!(
        live[live_at..live_at + length] == flagged[render_at..render_at + length],
        "the phrase played live differs from its render"
    );
    eprintln!(
        "phrase 2: {:.2} s, at sample {live_at} live and {render_at} in both renders",
        length as f64 / RATE
    );
    Ok(())
}

#[test]
fn trigger_and_speak_act_at_the_sample_the_host_puts_them() -> Result<()> {
    let out = run(
        Pace::Flagged,
        700,
        &[("Phrase", "3")],
        &|b, ids| {
            let changes = match b {
                10 => vec![
                    ParamChange {
                        id: ids.trigger,
                        value: 1.0,
                        time: 333,
                    },
                    ParamChange {
                        id: ids.trigger,
                        value: 0.0,
                        time: 400,
                    },
                ],
                200 => vec![ParamChange {
                    id: ids.speak,
                    value: 1.0,
                    time: 45,
                }],
                _ => Vec::new(),
            };
            (changes, Vec::new())
        },
        &none,
    )?;
    let trigger_at = 10 * BLOCK + 333;
    ensure!(
        onset(&out) == Some(trigger_at),
        "Trigger at {trigger_at}, speech at {:?}",
        onset(&out)
    );
    let speak_at = 200 * BLOCK + 45;
    let end = trigger_at + spoken(&out[trigger_at..speak_at]);
    let gap = &out[end + 1000..speak_at];
    ensure!(
        gap.iter().all(|&x| x.abs() < 1e-3),
        "phrase 3 ends before Speak: {:?} at {:?}",
        gap.iter().fold(0.0f32, |m, x| m.max(x.abs())),
        onset(gap).map(|o| o + end + 1000)
    );
    let silent_from = end + 1000 + gap.iter().rposition(|&x| x != 0.0).map_or(0, |i| i + 1);
    eprintln!("phrase 3 ends at {end}, exact silence from {silent_from}, Speak at {speak_at}");
    ensure!(
        silent_from + 10_000 < speak_at,
        "phrase 3's tail reaches Speak"
    );
    ensure!(
        onset(&out[silent_from..]).map(|o| o + silent_from) == Some(speak_at),
        "Speak at {speak_at}, speech at {:?}",
        onset(&out[silent_from..]).map(|o| o + silent_from)
    );
    ensure!(
        spoken(&out[speak_at..]) > (RATE * 3.0) as usize,
        "Speak speaks the whole text"
    );
    Ok(())
}

#[test]
fn velocity_note_off_and_a_missing_phrase() -> Result<()> {
    let at = 20 * BLOCK;
    let full = run(
        Pace::Flagged,
        300,
        &[],
        &|b, _| (Vec::new(), note(b, 20, 0, 61, 1.0, true)),
        &none,
    )?;
    let soft = run(
        Pace::Flagged,
        300,
        &[],
        &|b, _| (Vec::new(), note(b, 20, 0, 61, 0.25, true)),
        &none,
    )?;
    let rms = |x: &[f32]| (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>()).sqrt();
    let ratio = rms(&soft) / rms(&full);
    ensure!(
        (0.2..0.3).contains(&ratio),
        "velocity 0.25 gives {ratio:.3} of the level"
    );
    let flat = run(
        Pace::Flagged,
        300,
        &[("Velocity Sensitive", "Off")],
        &|b, _| (Vec::new(), note(b, 20, 0, 61, 0.25, true)),
        &none,
    )?;
    ensure!(flat == full, "velocity ignored when the setting is off");

    // Note-off 0.4 s in: with "Stop the phrase" silence 5 ms later; by default it finishes.
    let off_at = at + (RATE * 0.4) as usize;
    let script = |b: usize, _: &Ids| {
        let mut notes = note(b, 20, 0, 61, 1.0, true);
        notes.extend(note(
            b,
            off_at / BLOCK,
            (off_at % BLOCK) as u32,
            61,
            0.0,
            false,
        ));
        (Vec::new(), notes)
    };
    let finished = run(Pace::Flagged, 300, &[], &script, &none)?;
    ensure!(
        finished == full,
        "a note-off lets the phrase finish by default"
    );
    let stopped = run(
        Pace::Flagged,
        300,
        &[("Note Off", "Stop the phrase")],
        &script,
        &none,
    )?;
    ensure!(
        stopped[..off_at] == full[..off_at],
        "the same until the note-off"
    );
    let fade = (RATE * 0.005) as usize;
    ensure!(
        stopped[off_at + fade..].iter().all(|&x| x == 0.0),
        "silent 5 ms after the note-off"
    );

    // Note 70 is phrase 11; the text has three.
    let missing = run(
        Pace::Flagged,
        100,
        &[],
        &|b, _| (Vec::new(), note(b, 20, 0, 70, 1.0, true)),
        &none,
    )?;
    ensure!(
        missing.iter().all(|&x| x == 0.0),
        "a missing phrase is silent"
    );
    Ok(())
}

#[test]
fn the_transport_stops_timeline_speech_and_a_loop_plays_the_same_again() -> Result<()> {
    // A 1.5 s loop from song position 0: phrase 2 starts 0.1 s into it each time round.
    let loop_blocks = (1.5 * RATE) as usize / BLOCK;
    let position = move |b: usize| {
        Some(Transport {
            playing: true,
            position: ((b % loop_blocks) * BLOCK) as i64,
        })
    };
    let start = (0.1 * RATE) as usize;
    let looped = run(
        Pace::Flagged,
        loop_blocks * 3,
        &[],
        &|b, _| {
            let in_loop = b % loop_blocks;
            (
                Vec::new(),
                note(
                    in_loop,
                    start / BLOCK,
                    (start % BLOCK) as u32,
                    61,
                    1.0,
                    true,
                ),
            )
        },
        &position,
    )?;
    let pass = loop_blocks * BLOCK;
    let fade = (RATE * 0.005) as usize;
    // Phrase 2 is longer than the loop: the jump back cuts it with the fade.
    ensure!(looped[pass - 1] != 0.0, "still speaking at the loop's end");
    ensure!(
        looped[pass + fade..pass + start].iter().all(|&x| x == 0.0),
        "the jump back stopped the phrase"
    );
    ensure!(
        looped[pass..2 * pass] == looped[2 * pass..3 * pass],
        "each pass of the loop sounds the same"
    );
    ensure!(
        onset(&looped[pass + fade..]).map(|o| o + pass + fade) == Some(pass + start),
        "the note speaks again at its place in the second pass"
    );

    // Stop the transport 0.5 s into the phrase.
    let stop_block = (start + (0.5 * RATE) as usize) / BLOCK;
    let stopped = run(
        Pace::Flagged,
        300,
        &[],
        &|b, _| {
            (
                Vec::new(),
                note(b, start / BLOCK, (start % BLOCK) as u32, 61, 1.0, true),
            )
        },
        &move |b| {
            Some(Transport {
                playing: b < stop_block,
                position: (b * BLOCK) as i64,
            })
        },
    )?;
    let stop_at = stop_block * BLOCK;
    ensure!(
        stopped[stop_at - 1] != 0.0,
        "speaking when the transport stops"
    );
    ensure!(
        stopped[stop_at + fade..].iter().all(|&x| x == 0.0),
        "silent 5 ms after the stop"
    );
    let first = onset(&stopped).context("no speech")?;
    ensure!(first == start, "the note at {start}, speech at {first}");
    Ok(())
}

//! The phrase bank's unit tests: both halves driven by hand, no speech thread.

use super::*;
use std::time::{Duration, Instant};

fn bank(text: &str) -> (BankPlayer, BankFeeder, Arc<SharedSession>) {
    let session = Arc::new(SharedSession::default());
    session.set_text(text.into());
    let (player, mut feeder) = channel(Arc::default(), session.clone(), 1000.0, 16);
    feeder.sync(&session);
    feeder.settle_now();
    (player, feeder, session)
}

/// Renders every queued job as `len` samples of its slot number.
fn render_all(feeder: &mut BankFeeder, len: usize) {
    feeder.settle_now();
    while let Some(job) = feeder.next_job() {
        feeder.deliver(&job, vec![job.slot as f32; len]);
    }
}

#[test]
fn lines_are_numbered_phrases_and_the_whole_text_is_slot_0() {
    let (_, mut feeder, _) = bank("  first  \n\n second\nthird");
    let jobs: Vec<(usize, String)> = std::iter::from_fn(|| feeder.next_job())
        .map(|j| (j.slot, j.text))
        .collect();
    assert_eq!(
        jobs,
        vec![
            (1, "first".into()),
            (2, "second".into()),
            (3, "third".into()),
            (0, "  first  \n\n second\nthird".into()),
        ],
        "phrases first, the whole text last"
    );
}

#[test]
fn a_one_line_text_is_rendered_once_for_both_its_slots() {
    let (mut player, mut feeder, _) = bank("the only line");
    let mut rendered = Vec::new();
    while let Some(job) = feeder.next_job() {
        rendered.push(job.slot);
        feeder.deliver(&job, vec![0.5; 10]);
    }
    assert_eq!(
        rendered,
        vec![1],
        "the whole text is its one phrase: one render"
    );
    for slot in [0, 1] {
        assert_eq!(
            player.trigger(slot, 0, 1.0, None, false),
            Triggered::Playing
        );
        assert_eq!(player.render(16)[..10], [0.5; 10], "slot {slot}");
        player.stop_all(0);
        player.render(16);
    }
    assert!(matches!(
        feeder.shared.views()[0].state,
        SlotState::Ready { .. }
    ));
}

#[test]
fn a_trigger_plays_at_its_sample_and_a_missing_phrase_counts() {
    let (mut player, mut feeder, _) = bank("a\nb");
    render_all(&mut feeder, 10);
    assert_eq!(player.trigger(2, 5, 0.5, None, false), Triggered::Playing);
    let out = player.render(16).to_vec();
    assert_eq!(out[..5], [0.0; 5]);
    assert_eq!(out[5..15], [1.0; 10], "phrase 2 at half gain from sample 5");
    assert_eq!(out[15], 0.0);
    assert_eq!(player.trigger(3, 0, 1.0, None, false), Triggered::Missing);
    assert_eq!(feeder.shared.missing(), 1);
    assert!(!player.is_active());
}

#[test]
fn a_trigger_before_the_bank_caught_up_streams_instead() {
    let session = Arc::new(SharedSession::default());
    session.set_text("a\nb".into());
    let (mut player, _feeder) = channel(Arc::default(), session, 1000.0, 16);
    assert_eq!(
        player.trigger(1, 0, 1.0, None, false),
        Triggered::NotReady,
        "not synced yet: not missing"
    );
}

#[test]
fn an_edit_re_renders_only_the_changed_line_nearest_first() {
    let (mut player, mut feeder, session) = bank("a\nb\nc\nd");
    render_all(&mut feeder, 4);
    session.set_text("a\nb\nC\nD".into());
    assert_eq!(
        player.trigger(1, 0, 1.0, None, false),
        Triggered::NotReady,
        "behind the session no clip is current, not even an unchanged one"
    );
    feeder.sync(&session);
    assert!(
        feeder.next_job().is_none(),
        "nothing renders ahead until the text settles"
    );
    assert!(
        feeder
            .shared
            .views()
            .iter()
            .any(|v| v.slot == 3 && v.state == SlotState::Queued),
        "a changed phrase shows as queued, not as its old clip's ready"
    );
    feeder.settle_now();
    let slots: Vec<usize> = std::iter::from_fn(|| feeder.next_job())
        .map(|j| j.slot)
        .collect();
    assert_eq!(slots, vec![3, 4, 0]);
    assert_eq!(player.trigger(1, 0, 1.0, None, false), Triggered::Playing);
    assert_eq!(
        player.trigger(3, 0, 1.0, None, false),
        Triggered::NotReady,
        "a changed line is not played stale"
    );
}

#[test]
fn release_and_stop_fade_from_their_sample_and_a_retrigger_restarts() {
    let (mut player, mut feeder, _) = bank("a\nb");
    render_all(&mut feeder, 100);
    player.trigger(1, 0, 1.0, Some(60), false);
    player.release(Some(60), 4);
    let out = player.render(16).to_vec();
    assert_eq!(out[..4], [1.0; 4]);
    assert_eq!(out[4..9], [0.8, 0.6, 0.4, 0.2, 0.0]);
    assert_eq!(out[9..], [0.0; 7]);
    assert!(!player.is_active());
    player.trigger(2, 0, 1.0, None, false);
    player.render(10);
    player.trigger(2, 3, 1.0, None, false);
    let out = player.render(8).to_vec();
    assert_eq!(out[..3], [2.0; 3]);
    assert!((out[3] - (2.0 * 0.8 + 2.0)).abs() < 1e-6, "{out:?}");
    player.stop_all(0);
    let out = player.render(16).to_vec();
    assert!(out[5..].iter().all(|&x| x == 0.0), "{out:?}");
}

#[test]
fn pause_fades_out_holds_and_resumes_where_it_was() {
    let (mut player, mut feeder, _) = bank("a");
    while let Some(job) = feeder.next_job() {
        feeder.deliver(&job, (0..100).map(|i| i as f32).collect());
    }
    player.trigger(1, 0, 1.0, None, false);
    let mut out = [0.0f32; 10];
    player.mix_into(&mut out, false);
    assert_eq!(out[9], 9.0);
    let mut out = [0.0f32; 10];
    player.mix_into(&mut out, true);
    let faded: Vec<f32> = (0..5)
        .map(|i| (10 + i) as f32 * ((4 - i) as f32 * (1.0 / 5.0)))
        .collect();
    assert_eq!(out[..5], faded[..], "5-sample fade");
    assert_eq!(out[5..], [0.0; 5], "held");
    let mut out = [0.0f32; 10];
    player.mix_into(&mut out, true);
    assert_eq!(out, [0.0; 10]);
    let mut out = [0.0f32; 10];
    player.mix_into(&mut out, false);
    let resumed: Vec<f32> = (0..5)
        .map(|i| (15 + i) as f32 * ((i + 1) as f32 * (1.0 / 5.0)))
        .collect();
    assert_eq!(out[..5], resumed[..], "fades in from where it held");
    assert_eq!(out[5..], [20.0, 21.0, 22.0, 23.0, 24.0]);
}

#[test]
fn a_render_waits_for_a_phrase_being_rendered() {
    let (mut player, mut feeder, _) = bank("slow");
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        render_all(&mut feeder, 3);
        feeder
    });
    assert_eq!(player.trigger(1, 2, 1.0, None, true), Triggered::Playing);
    assert_eq!(player.render(8)[..5], [0.0, 0.0, 1.0, 1.0, 1.0]);
    assert!(player.waited() >= Duration::from_millis(40));
    let _ = worker.join();
}

#[test]
fn a_phrase_a_render_asks_for_does_not_wait_for_the_text_to_settle() {
    let session = Arc::new(SharedSession::default());
    session.set_text("a\nb".into());
    let (mut player, mut feeder) = channel(Arc::default(), session.clone(), 1000.0, 16);
    feeder.sync(&session);
    assert!(feeder.next_job().is_none());
    assert_eq!(player.trigger(2, 0, 1.0, None, false), Triggered::NotReady);
    assert_eq!(feeder.next_job().map(|j| j.slot), Some(2));
}

#[test]
fn the_memory_bound_drops_the_largest_clip() {
    let (_, mut feeder, _) = bank("a\nb");
    let big = BANK_BYTES / 4 / 2 + 1;
    let jobs: Vec<Job> = std::iter::from_fn(|| feeder.next_job()).collect();
    feeder.deliver(&jobs[0], vec![0.0; big]);
    feeder.deliver(&jobs[1], vec![0.0; big]);
    assert_eq!(feeder.held[1], 0, "phrase 1 dropped to make room");
    assert!(feeder.held[2] > 0);
    feeder.deliver(&jobs[2], vec![0.0; BANK_BYTES / 4 + 1]);
    assert_eq!(feeder.held[0], 0, "longer than the bound: never held");
    let views = feeder.shared.views();
    assert_eq!(views[0].state, SlotState::NotHeld);
    assert_eq!(views[1].state, SlotState::NotHeld);
    assert!(matches!(views[2].state, SlotState::Ready { .. }));
}

#[test]
fn an_earlier_activations_feeder_cannot_mark_a_new_one_synced() {
    // A host activates twice in a row (a state load, a new block size): the speech thread
    // still holds the first activation's feeder when the second is made, and syncs it.
    let session = Arc::new(SharedSession::default());
    session.set_text("a line".into());
    let shared = Arc::new(BankShared::default());
    let (_first_player, mut first) = channel(shared.clone(), session.clone(), 1000.0, 16);
    let (mut player, mut second) = channel(shared, session.clone(), 1000.0, 16);
    first.sync(&session);
    assert_eq!(
        player.trigger(1, 0, 1.0, None, false),
        Triggered::NotReady,
        "the new activation is not synced by the old feeder"
    );
    // The speech thread takes the new feeder: it must sync and render the phrase asked for.
    second.sync(&session);
    assert_eq!(second.next_job().map(|j| j.slot), Some(1));
}

#[test]
fn a_render_does_not_wait_for_a_phrase_nothing_renders() {
    let (mut player, mut feeder, _) = bank("one\ntwo");
    // Phrase 1 is taken to render and fails; a render's trigger must not wait for it, and a
    // phrase whose pending mark is gone without a clip is streamed at once and counted.
    let job = feeder.next_job().expect("a job");
    feeder.fail(&job, "no voice");
    let started = Instant::now();
    assert_eq!(player.trigger(1, 0, 1.0, None, true), Triggered::Missing);
    let two = feeder.next_job().expect("phrase 2");
    assert_eq!(two.slot, 2);
    feeder.table.settle(2, two.key);
    assert_eq!(player.trigger(2, 0, 1.0, None, true), Triggered::NotReady);
    assert!(started.elapsed() < Duration::from_secs(1), "no wait");
    assert_eq!(feeder.shared.unrendered(), 1);
}

#[test]
fn the_memory_variable_sets_the_bound_in_mib_and_refuses_the_rest() {
    assert_eq!(bound_from(None), Ok(BANK_BYTES));
    assert_eq!(bound_from(Some("1")), Ok(1 << 20));
    assert_eq!(bound_from(Some(" 4096 ")), Ok(4096 << 20));
    for bad in ["0", "4097", "-3", "1.5", "lots", ""] {
        let err = bound_from(Some(bad)).expect_err(bad);
        assert!(err.to_string().contains(MEMORY_VAR), "{err}");
    }
}

//! The window schedule: how many latent frames each decoder window of a phrase keeps, where a
//! sentence's windows end, and where a later sentence resumes the schedule. Pure arithmetic on
//! frame counts, shared by the decoder ([`super::Voice::infer_streaming`]) and the playback
//! start gate, which predicts when each window will be ready.

/// Latent frames kept from each decoder window of a phrase, in order; the last size then
/// repeats. The schedule runs across the phrase's sentences (and a long sentence's clause
/// groups): a later sentence goes on where the one before it ended instead of starting small
/// again, since the audio before it is already out (see [`Voice::infer_streaming`]). The first
/// is small, so speech starts soon. Every later window has to decode, with its
/// context, while the audio already out plays: window k is on time while the decoding
/// real-time factor r ≤ Σ_{j<k} w_j / Σ_{2≤j≤k} (w_j + c), c being what a window's context
/// costs in frames. With the context decoded whole (c = 20) this schedule keeps that bound at
/// 0.286 or more for every k; the default voice's decoder crops its context (c = 3.9,
/// [`crop`](crate::tts::model::crop)), which raises it to 0.35. Growing ×4 (16, 64, 256) allowed only 0.19 with c = 20,
/// and this 2-core machine decodes at about 0.13, so a busy moment made it underrun
/// (docs/design/streaming.md).
/// The schedule is fixed, never adapted to the machine: window edges change the audio at float
/// noise, and a phrase has to render identically every time (it depends on the text alone).
///
/// The largest window is 128 frames, not 256: ONNX Runtime's arena grows to the largest window's
/// activations and keeps them, so this takes 30 MB off a speaking voice's memory, for 6 % more
/// decoding on long sentences (docs/design/streaming.md).
pub const WINDOW_FRAMES: [usize; 4] = [16, 32, 96, 128];
/// Latent frames decoded in the first window of a sentence.
pub const FIRST_WINDOW_FRAMES: usize = WINDOW_FRAMES[0];
/// The largest window. Each window also decodes its context on each side, which costs
/// 2 × 10 / 128 = 16 % more decoding at this size when decoded whole, and 3 % when the decoder
/// crops it ([`crop`](crate::tts::model::crop)).
pub const MAX_WINDOW_FRAMES: usize = WINDOW_FRAMES[WINDOW_FRAMES.len() - 1];

/// Latent frames kept from window `index` (from 0) of a phrase's schedule, before a tail joins
/// it (see [`window_end`]).
pub fn window_frames(index: usize) -> usize {
    WINDOW_FRAMES[index.min(WINDOW_FRAMES.len() - 1)]
}

/// Most frames a sentence's last window takes along beyond its size: a short tail joins the
/// window before it rather than costing a window (and its context) of its own. Half the
/// window's size, and never more than the context a window of its own would decode, so no
/// window is much larger than [`MAX_WINDOW_FRAMES`] (the arena's size follows the largest).
pub fn tail_frames(index: usize) -> usize {
    (window_frames(index) / 2).min(2 * WINDOW_CONTEXT_FRAMES)
}

/// Latent frames to samples in every Piper voice (the decoder's hop).
pub const SAMPLES_PER_FRAME: usize = 256;

/// Where in the schedule a phrase's next sentence (or clause group) starts, when the phrase's
/// windows so far reached `next` and produced `produced_frames` latent frames: where the last
/// sentence left off, but never on a window more than twice as long as the audio before it.
/// That is the proportion the schedule keeps from the start (32 after 16, 96 after 48), so a
/// short sentence before a long one does not leave the long one's first window to decode in
/// the time of a short one's audio. Depends on the text alone, like the schedule.
pub fn resume_window(next: usize, produced_frames: usize) -> usize {
    (0..=next)
        .rev()
        .find(|&index| window_frames(index) <= produced_frames.saturating_mul(2))
        .unwrap_or(0)
}

/// Where window `index`, starting at latent frame `start`, ends in a sentence of `frames`.
pub fn window_end(start: usize, index: usize, frames: usize) -> usize {
    let size = window_frames(index);
    if frames.saturating_sub(start) <= size + tail_frames(index) {
        frames
    } else {
        start + size
    }
}

/// Context decoded on each side of a window and dropped, for a decoder whose reach the crop
/// planner cannot follow ([`crop`](crate::tts::model::crop)); one it can follow gets the context its structure needs
/// ([`Cropping::context`]: 11 frames for the default voice). The default voice's receptive field
/// measured ±10.07 frames (an impulse through the decoder): 10 frames gave 125.7 dB SNR against the whole
/// decode (`plugin/tests/split.rs`). It also bounds how long a sentence's last window's tail
/// may be ([`tail_frames`]), so the schedule stays the same for every voice.
pub const WINDOW_CONTEXT_FRAMES: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows a sentence of `frames` latent frames is decoded in, as (start, end).
    fn windows(frames: usize) -> Vec<(usize, usize)> {
        let (mut start, mut index, mut out) = (0, 0, Vec::new());
        while start < frames {
            let end = window_end(start, index, frames);
            out.push((start, end));
            start = end;
            index += 1;
        }
        out
    }

    #[test]
    fn windows_follow_the_schedule_and_a_short_tail_joins_the_last() {
        // 16 + 8 fits the first window; one frame more needs a second.
        assert_eq!(windows(24), [(0, 24)]);
        assert_eq!(windows(25), [(0, 16), (16, 25)]);
        // 4 words of the default voice: 87 frames.
        assert_eq!(windows(87), [(0, 16), (16, 48), (48, 87)]);
        // Past the schedule, windows are 128 frames and a tail of up to 20 joins the last.
        assert_eq!(windows(144 + 128 + 20).last(), Some(&(144, 292)));
        assert_eq!(
            windows(144 + 128 + 21)[3..],
            [(144, 272), (272, 293)],
            "a longer tail is a window of its own"
        );
    }

    #[test]
    fn a_later_sentence_resumes_the_schedule_within_twice_the_audio_before_it() {
        // The phrase's first sentence starts at the start.
        assert_eq!(resume_window(0, 0), 0);
        // After "Hi." (2 windows, 30 frames): 96 would be more than twice 30, 32 is not.
        assert_eq!(resume_window(2, 30), 1);
        assert_eq!(resume_window(2, 15), 0);
        // After a clause group of 201 frames in 4 windows: the largest window at once.
        assert_eq!(resume_window(4, 201), 4);
        assert_eq!(window_frames(resume_window(4, 201)), MAX_WINDOW_FRAMES);
        // Never further than where the last sentence left off.
        assert_eq!(resume_window(1, 10_000), 1);
        for next in 0..8 {
            for produced in 0..400 {
                let index = resume_window(next, produced);
                assert!(index <= next);
                assert!(index == 0 || window_frames(index) <= 2 * produced);
            }
        }
    }

    #[test]
    fn windows_cover_every_frame_once_and_none_is_much_larger_than_the_largest() {
        for frames in 1..2000 {
            let windows = windows(frames);
            assert_eq!(windows.first().map(|w| w.0), Some(0));
            assert_eq!(windows.last().map(|w| w.1), Some(frames));
            for pair in windows.windows(2) {
                assert_eq!(pair[0].1, pair[1].0, "{frames} frames: {windows:?}");
            }
            for (index, &(start, end)) in windows.iter().enumerate() {
                assert!(end > start);
                assert!(end - start <= window_frames(index) + tail_frames(index));
                assert!(end - start <= MAX_WINDOW_FRAMES + 2 * WINDOW_CONTEXT_FRAMES);
            }
        }
    }
}

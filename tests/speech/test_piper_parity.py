"""`orator say` (the built CLI: the plugin's speech thread, rings, streaming resampler and signal
path) against piper-tts 1.8.0 with the same voice and text. With the noise scales at zero both
are deterministic, so the audio must match: same length, and a difference far below audibility.
And `--input`: a file voiced over and ducked, as the plugin does to its host's signal."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from piper import PiperVoice, SynthesisConfig

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("ORATOR_CLI", ROOT / "target" / "bundled" / "orator"))
RESOURCES = Path(os.environ.get("ORATOR_RESOURCES", ROOT / "target" / "assets"))
MODEL = RESOURCES / "voices" / "en_US-joe-medium.onnx"

TEXTS = [
    "Hello!",
    "Welcome back to the stream, everyone.",
    "Dr. Smith paid $12.50 on 3/14/2025 at 10:30 a.m.",
    "She said: \"It's fine; really — it is...\" Then she left. Why?",
]


@pytest.fixture(scope="module")
def piper():
    return PiperVoice.load(str(MODEL))


def orator_say(tmp_path, text, *args):
    out = tmp_path / "out.wav"
    result = subprocess.run(
        [str(CLI), "say", text, "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(out, dtype="float32")
    return audio, rate


def piper_audio(piper, text):
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    return np.concatenate([c.audio_float_array for c in piper.synthesize(text, syn_config=config)])


def assert_same_audio(audio, expected):
    assert audio.shape == (len(expected), 2), "same duration, stereo"
    np.testing.assert_array_equal(audio[:, 0], audio[:, 1])
    error = audio[:, 0].astype(np.float64) - expected
    snr_db = 10 * np.log10(np.sum(expected.astype(np.float64) ** 2) / np.sum(error**2))
    assert snr_db > 80, f"SNR {snr_db:.1f} dB"


@pytest.mark.parametrize("text", TEXTS + ["Say [[ həlˈoʊ ]] to the [[ wˈɜːld ]], please."])
def test_same_audio_as_piper_without_noise(tmp_path, piper, text):
    expected = piper_audio(piper, text)
    audio, rate = orator_say(tmp_path, text, "--variation", "0")
    assert rate == 22050
    assert_same_audio(audio, expected)


def test_dictionary_words_are_said_as_written_there(tmp_path, piper):
    dictionary = tmp_path / "words.txt"
    dictionary.write_text("# my words\norator = [[ ɔːɹˈeɪtɚ ]]\nGIF = jif\n", encoding="utf-8")
    audio, _ = orator_say(tmp_path, "Hello Orator, send a gif.", "--variation", "0", "--dict", str(dictionary))
    assert_same_audio(audio, piper_audio(piper, "Hello [[ ɔːɹˈeɪtɚ ]], send a jif."))


def test_two_processes_render_the_same_phrase_identically(tmp_path):
    first, _ = orator_say(tmp_path, TEXTS[3])
    second, _ = orator_say(tmp_path, TEXTS[3])
    np.testing.assert_array_equal(first, second)


def test_rate_and_sample_rate_options(tmp_path):
    base, _ = orator_say(tmp_path, TEXTS[1], "--variation", "0")
    fast, _ = orator_say(tmp_path, TEXTS[1], "--variation", "0", "--rate", "2")
    slow, _ = orator_say(tmp_path, TEXTS[1], "--variation", "0", "--rate", "0.5")
    # The length scale stretches phoneme durations, not every sample (measured 0.60 and 1.7).
    assert 0.45 < len(fast) / len(base) < 0.7, len(fast) / len(base)
    assert 1.5 < len(slow) / len(base) < 2.2, len(slow) / len(base)
    resampled, rate = orator_say(tmp_path, TEXTS[1], "--variation", "0", "--sample-rate", "48000")
    assert rate == 48000
    assert abs(len(resampled) / 48000 - len(base) / 22050) < 0.01


@pytest.mark.parametrize(
    "args, message",
    [
        (["--voice", "/nonexistent/voice.onnx"], "/nonexistent/voice.onnx"),
        (["--rate", "0"], "--rate"),
        (["--sample-rate", "1000"], "--sample-rate"),
        (["--dict", "/nonexistent/words.txt"], "/nonexistent/words.txt"),
    ],
)
def test_bad_options_fail_with_a_clear_message(tmp_path, args, message):
    result = subprocess.run(
        [str(CLI), "say", "Hello.", "--out", str(tmp_path / "x.wav"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_input_file_is_voiced_over_and_ducked(tmp_path):
    """`--input`: the file plays as the host signal through the plugin's signal path, ducked
    by 12 dB under the voice and back to unity after it; the voice panned hard left leaves the
    right channel nothing but the ducked bed."""
    rate = 44100
    t = np.arange(8 * rate) / rate
    bed = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    bed_path = tmp_path / "bed.wav"
    soundfile.write(bed_path, np.stack([bed, bed], axis=1), rate, subtype="FLOAT")
    audio, out_rate = orator_say(
        tmp_path, "Hello there, and welcome.", "--input", str(bed_path), "--pan", "-1"
    )
    assert out_rate == rate and audio.shape == (len(bed), 2), "the input's rate and length"

    def bed_db(channel, start_s):
        seg = audio[int(start_s * rate) : int(start_s * rate) + rate // 10, channel]
        ref = bed[: len(seg)]
        k = np.exp(-2j * np.pi * 220 * np.arange(len(seg)) / rate)
        return 20 * np.log10(abs(np.dot(seg, k)) / abs(np.dot(ref, k)))

    assert abs(bed_db(1, 0.8) + 12) < 0.5, "ducked under the voice"
    assert abs(bed_db(1, 7.5)) < 0.01, "back to unity after the voice"
    voice_left = audio[: 2 * rate, 0] - audio[: 2 * rate, 1]
    assert np.sqrt(np.mean(voice_left**2)) > 0.02, "the voice is on the left"
    # The right channel is the bed times the ducker's gain only: nothing far from 220 Hz.
    spectrum = np.abs(np.fft.rfft(audio[: 2 * rate, 1]))
    freqs = np.fft.rfftfreq(2 * rate, 1 / rate)
    outside = spectrum[(freqs > 400)].max() / spectrum.max()
    assert outside < 1e-3, f"voice leaked into the right channel ({outside:.2e})"

"""Loads the built Orator.vst3 in a real VST3 host (Spotify's pedalboard, JUCE's VST3 hosting)
and measures what its parameters do to a signal."""

import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pedalboard
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("ORATOR_VST3", ROOT / "target" / "bundled" / "Orator.vst3"))


@pytest.fixture()
def plugin():
    assert BUNDLE.exists(), f"no bundle at {BUNDLE}: run `cargo xtask bundle orator --release`"
    return pedalboard.load_plugin(str(BUNDLE))


# JUCE stores a VST3 component's state in its own base64: the byte count, a dot, then 6-bit
# groups read from the bytes' bits in little-endian order, one character each from this table.
JUCE_BASE64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"


def juce_decode(text):
    size, _, chars = text.partition(".")
    n = sum(JUCE_BASE64.index(c) << (6 * i) for i, c in enumerate(chars))
    return n.to_bytes(int(size) + 8, "little")[: int(size)]


def juce_encode(data):
    n = int.from_bytes(data, "little")
    chars = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(JUCE_BASE64[(n >> (6 * i)) & 63] for i in range(chars))


def set_text(plugin, text):
    """Puts `text` in the plugin's saved session, as a project load would (pedalboard's
    raw_state is JUCE's "VC2!" blob around an XML document holding the component state)."""
    raw = plugin.raw_state
    assert raw[:4] == b"VC2!"
    length = struct.unpack("<I", raw[4:8])[0]
    xml = raw[8 : 8 + length].decode()
    component = re.search(r"<IComponent>([^<]*)</IComponent>", xml).group(1)
    state = json.loads(juce_decode(component))
    state["fields"]["session"] = json.dumps({"schema": 2, "text": text})
    xml = xml.replace(component, juce_encode(json.dumps(state).encode()))
    body = xml.encode()
    plugin.raw_state = b"VC2!" + struct.pack("<I", len(body)) + body + b"\0"


def sine(rate, seconds=1.0, freq=1000.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([mono, mono])


def level_db(out, ref):
    """Level of the second half of `out` relative to `ref`, after gain ramps have settled."""
    half = out.shape[1] // 2
    rms = lambda x: np.sqrt(np.mean(x[:, half:].astype(np.float64) ** 2))
    return 20 * np.log10(rms(out) / rms(ref))


def test_identity_and_parameters(plugin):
    assert plugin.name == "Orator"
    assert plugin.is_effect
    assert list(plugin.parameters) == [
        "dry_gain_db",
        "voice_gain_db",
        "output_gain_db",
        "dry_pan",
        "voice_pan",
        "sidechain_gain_db",
        "sidechain_pan",
        "dry_mute",
        "voice_mute",
        "sidechain_mute",
        "dry_solo",
        "voice_solo",
        "sidechain_solo",
        "duck_depth_db",
        "duck_attack_ms",
        "duck_release_ms",
        "duck_key",
        "eq_low_db",
        "eq_low_freq_hz",
        "eq_mid_db",
        "eq_mid_freq_hz",
        "eq_mid_q",
        "eq_high_db",
        "eq_high_freq_hz",
        "de_esser_db",
        "comp_threshold_db",
        "comp_ratio",
        "comp_attack_ms",
        "comp_release_ms",
        "comp_makeup_db",
        "limiter_ceiling_db",
        "speak",
        "stop",
        "skip",
        "pause",
        "phrase",
        "trigger",
        "base_note",
        "velocity_sensitive",
        "note_off",
    ]
    for name in ["dry_gain_db", "voice_gain_db", "output_gain_db"]:
        assert getattr(plugin, name) == pytest.approx(0.0)
    assert not plugin.speak and not plugin.stop
    # The timeline's controls: phrase 1 by default, notes from C3 (middle C as C3), one-shots.
    assert plugin.phrase == pytest.approx(1.0) and not plugin.trigger
    assert plugin.base_note == "C3 (60)"
    assert plugin.note_off == "Let it finish" and plugin.velocity_sensitive
    plugin.phrase = 3
    assert plugin.phrase == pytest.approx(3.0)


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_unity_gain_passes_audio_unchanged(plugin, rate):
    x = sine(rate)
    y = plugin(x, rate)
    assert y.shape == x.shape
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y, x)


def test_gain_changes_are_measured_in_db(plugin):
    rate = 48000
    x = sine(rate)
    # (Values pedalboard can hit exactly: its setter snaps to a grid of its own, on which "0.0"
    # after another value is about 0.04 dB off.)
    plugin.dry_gain_db = 12.0
    assert level_db(plugin(x, rate), x) == pytest.approx(12.0, abs=0.02)
    plugin.dry_gain_db = -6.0
    assert level_db(plugin(x, rate), x) == pytest.approx(-6.0, abs=0.02)
    plugin.output_gain_db = -12.0
    assert level_db(plugin(x, rate), x) == pytest.approx(-18.0, abs=0.02)


def test_state_survives_a_reload(plugin):
    rate = 48000
    x = sine(rate)
    plugin.dry_gain_db = -9.5
    # As in a DAW, audio runs between the knob move and the save: nice-plug's VST3 wrapper hands
    # a controller-side change to the processor (and so to the saved state) in process().
    plugin(x, rate)
    state = plugin.raw_state
    assert plugin.raw_state == state, "two saves differ"
    fresh = pedalboard.load_plugin(str(BUNDLE))
    fresh.raw_state = state
    assert fresh.dry_gain_db == pytest.approx(-9.5, abs=0.01)
    assert level_db(fresh(x, rate), x) == pytest.approx(-9.5, abs=0.02)
    assert fresh.raw_state == state, "re-save after a load is not byte-identical"


def render_trigger(rate):
    """A fresh plugin with two phrases: two seconds of silence (as fast as pedalboard goes, so
    the plugin sees a render), then Trigger with Phrase 2 and three more seconds."""
    plugin = pedalboard.load_plugin(str(BUNDLE))
    set_text(plugin, "First line.\nThe second phrase speaks now.")
    silence = np.zeros((2, rate * 2), dtype=np.float32)
    plugin.process(silence, rate, reset=False)
    plugin.phrase = 2
    plugin.trigger = True
    return plugin.process(np.zeros((2, rate * 3), dtype=np.float32), rate, reset=False)


def test_trigger_speaks_the_chosen_phrase_at_its_sample_in_a_render():
    rate = 48000
    out = render_trigger(rate)[0]
    heard = np.flatnonzero(out)
    assert heard.size > 0, "Trigger spoke nothing"
    assert heard[0] == 0, f"the phrase starts {heard[0]} samples after the trigger"
    loud = np.flatnonzero(np.abs(out) > 1e-3)
    assert (loud[-1] - loud[0]) / rate > 1.0, "a whole sentence"
    again = render_trigger(rate)[0]
    np.testing.assert_array_equal(out, again, err_msg="two renders differ")

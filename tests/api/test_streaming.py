"""Streamed speech from `orator serve` read by real clients as it arrives: the official
`openai` package's `with_streaming_response` for `pcm` and `wav`, and a server-sent-events
reader for `stream_format: "sse"`. What arrives equals `orator say` of the same text, and its
first bytes arrive long before the render ends."""
import base64
import json
import re
import sys
import subprocess
import time
import http.client

import io
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile

from test_clients import CLI, RESOURCES, free_port, orator_say

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lossy import ffmpeg_decoded, lossy_match  # noqa: E402

# About 12 s of speech in three sentences: its render takes a second or more on one core,
# its first sentence's audio a fraction of that.
TEXT = ("The river bends twice before the mill, and every spring the water rises over the "
        "lower path. Walkers take the long way round by the old chapel, past the orchard and "
        "the school. In the evening the lamps along the bridge come on one after another.")


@pytest.fixture(scope="module")
def port():
    port = free_port()
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", "0", "--resources",
         str(RESOURCES)], stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "listening" in line, line
    # The voice loads with the first request; later requests measure speech alone.
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    client.audio.speech.create(model="tts-1", voice="alloy", input="Ready.")
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def streamed(port, text, fmt):
    """Reads a streamed response with the official client; returns the bytes, the seconds
    from the request to the first bytes, and to the end."""
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    started = time.monotonic()
    first = None
    body = bytearray()
    with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=text, response_format=fmt) as response:
        assert response.headers.get("transfer-encoding") == "chunked", response.headers
        for piece in response.iter_bytes():
            if piece and first is None:
                first = time.monotonic() - started
            body += piece
    return bytes(body), first, time.monotonic() - started


def test_pcm_and_wav_arrive_as_they_are_made_and_equal_orator_say(port, tmp_path):
    """Each request has a text of its own (a repeated one would come from the phrase cache).
    Printed beside the streamed times: the same kind of text sent whole (the timed endpoint)
    and `orator say`'s own first audio."""
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    started = time.monotonic()
    client.post("/audio/speech/timed", cast_to=object,
                body={"model": "tts-1", "voice": "alloy", "input": f"{TEXT} Sent whole."})
    print(f"sent whole: the response after {(time.monotonic() - started) * 1000:.0f} ms")
    for fmt in ("pcm", "wav"):
        text = f"{TEXT} Read as {fmt}."
        expected = orator_say(tmp_path, text)
        say = subprocess.run([str(CLI), "say", text, "--out", str(tmp_path / "t.wav"),
                              "--sample-rate", "24000", "--resources", str(RESOURCES)],
                             check=True, capture_output=True, text=True)
        print("orator say:", (say.stdout + say.stderr).strip().splitlines()[-1].split(". ", 1)[-1])
        body, first, total = streamed(port, text, fmt)
        samples = body[44:] if fmt == "wav" else body
        if fmt == "wav":
            assert body[:4] == b"RIFF" and body[40:44] == b"\xff\xff\xff\xff", body[:44]
        got = np.frombuffer(samples, dtype="<i2")
        assert np.array_equal(got, expected), (len(got), len(expected))
        seconds = len(got) / 24000
        print(f"{fmt} streamed: first bytes {first * 1000:.0f} ms after the request, the "
              f"whole {seconds:.1f} s of speech after {total * 1000:.0f} ms")
        # The first bytes come with the first sentence, long before the last is rendered.
        assert first < total / 2, (first, total)


def test_sse_sends_the_same_audio_as_deltas_then_done(port, tmp_path):
    expected = orator_say(tmp_path, TEXT)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/audio/speech", body=json.dumps(
        {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "pcm",
         "stream_format": "sse"}), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    events = []
    for line in response.read().decode().split("\n"):
        if line.startswith("data: "):
            events.append(json.loads(line[len("data: "):]))
    conn.close()
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert np.array_equal(np.frombuffer(audio, dtype="<i2"), expected)
    print(f"sse: {len(events) - 1} deltas")


def test_a_refused_request_still_gets_its_status(port):
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError, match="stream_format"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.",
                                   extra_body={"stream_format": "words"})
    with pytest.raises(openai.BadRequestError, match="input. is empty"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="   ")


def test_flac_decodes_to_the_same_samples(port, tmp_path):
    """FLAC is sent whole; an independent decoder (libsndfile) reads back exactly the samples
    `pcm` carries, and `orator say --out x.flac` holds the WAV's samples at 16 bits."""
    text = "A lossless file of the same line."
    expected = orator_say(tmp_path, text)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    flac = client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                      response_format="flac").content
    assert flac[:4] == b"fLaC"
    samples, rate = soundfile.read(io.BytesIO(flac), dtype="int16")
    assert rate == 24000
    assert np.array_equal(samples, expected)
    print(f"flac: {len(flac)} bytes for {len(samples) * 2} of pcm")
    with pytest.raises(openai.BadRequestError, match="sent whole"):
        client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                   response_format="flac", extra_body={"stream_format": "sse"})
    wav, flac_out = tmp_path / "x.wav", tmp_path / "x.flac"
    for out in (wav, flac_out):
        subprocess.run([str(CLI), "say", text, "--out", str(out), "--resources", str(RESOURCES)],
                       check=True, capture_output=True)
    floats, rate_wav = soundfile.read(wav, dtype="float32")
    ints, rate_flac = soundfile.read(flac_out, dtype="int16")
    assert rate_wav == rate_flac and floats.shape == ints.shape
    scaled = (np.clip(floats, -1, 1) * np.float32(32767)).astype(np.float64)
    rounded = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int16)
    assert np.array_equal(ints, rounded)


# What each lossy format's decoder gives back around the speech: the samples before it (LAME's
# encoder delay; Opus's pre-skip is in its header and the decoder drops it) and at most how
# many after it (MP3 pads to whole frames; Ogg Opus ends at its last sample).
LOSSY = {"mp3": (1105, 2 * 1152), "opus": (0, 0)}


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_lossy_formats_stream_and_decode_to_the_same_speech(port, tmp_path, fmt):
    """MP3 (OpenAI's default format) and Ogg Opus read with the official client as they
    stream: first bytes long before the render ends, and an independent decoder (ffmpeg) turns
    them back into the `pcm` samples within a lossy codec's error. `orator say --out x.mp3` /
    `x.opus` (48 kHz stereo) the same way."""
    delay, padding = LOSSY[fmt]
    text = f"{TEXT} Read as {fmt}."
    expected = orator_say(tmp_path, text)
    body, first, total = streamed(port, text, fmt)
    if fmt == "mp3":
        assert body[:2] in (b"\xff\xf3", b"\xff\xf2"), body[:4]
    else:
        assert body[:4] == b"OggS" and body[28:36] == b"OpusHead", body[:36]
    decoded = ffmpeg_decoded(body, 24000, 1)[:, 0]
    lag, snr, level = lossy_match(decoded, expected)
    print(f"{fmt} streamed: {len(body)} bytes ({len(body) * 8 / (len(expected) / 24000) / 1000:.0f} "
          f"kbit/s), first bytes {first * 1000:.0f} ms, all {total * 1000:.0f} ms; decoded "
          f"{len(decoded) - len(expected):+d} samples, lag {lag}, SNR {snr:.1f} dB, level "
          f"{level:+.2f} dB")
    assert first < total / 2, (first, total)
    # All of the speech after the decoder's delay, then at most the format's padding.
    assert lag == delay, lag
    assert lag + len(expected) <= len(decoded) <= lag + len(expected) + padding, len(decoded)
    # Measured: MP3 23.5 dB and -0.44 dB (LAME's low-pass takes the top octave's little
    # energy), Opus at 32 kbit/s 19.4 dB and -0.13 dB; 48 kHz stereo files 30.4 and 22.6 dB.
    assert snr >= 15.0 and abs(level) <= 1.0
    out = tmp_path / f"x.{fmt}"
    for path in (out, tmp_path / "x.wav"):
        subprocess.run([str(CLI), "say", text, "--out", str(path), "--sample-rate", "48000",
                        "--resources", str(RESOURCES)], check=True, capture_output=True)
    reference, _ = soundfile.read(tmp_path / "x.wav", dtype="float32", always_2d=True)
    decoded = ffmpeg_decoded(out.read_bytes(), 48000, 2)
    lag, snr, level = lossy_match(decoded[:, 0], np.round(reference[:, 0] * 32767))
    print(f"orator say --out x.{fmt} (48 kHz stereo): {out.stat().st_size} bytes, lag {lag}, "
          f"SNR {snr:.1f} dB, level {level:+.2f} dB")
    assert lag == delay
    assert lag + len(reference) <= len(decoded) <= lag + len(reference) + padding
    assert snr >= 15.0 and abs(level) <= 1.0


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3", "opus"])
def test_first_bytes_against_the_same_renders_first_audio(port, fmt):
    """The server notes, for each streamed response, when the render's first voice sample came
    out and when the first audio bytes went out, both from the request; read back from `GET
    /v1` (its `recent` list). Printed for the performance page; the bytes cannot precede the
    audio they carry."""
    text = f"{TEXT} Measured as {fmt} at {time.monotonic_ns()}."
    _, first, _ = streamed(port, text, fmt)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/v1")
    recent = json.loads(conn.getresponse().read())["recent"]
    note = [n for n in recent if n.startswith(f"streamed {fmt}:")][-1]
    audio_ms, bytes_ms = (float(v) for v in re.findall(r"([\d.]+) ms", note))
    print(f"{fmt}: engine first audio {audio_ms:.1f} ms, first bytes {bytes_ms:.1f} ms "
          f"(+{bytes_ms - audio_ms:.1f} ms), client saw them at {first * 1000:.0f} ms")
    assert 0.0 <= audio_ms <= bytes_ms

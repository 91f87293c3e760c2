"""Word timings as users get them: `orator say --timings` and the HTTP endpoint that returns
audio with its timings, each checked against the audio it came with."""

import base64
import io
import json
import subprocess
import urllib.request

import numpy as np
import soundfile

from test_clients import CLI, RESOURCES, server  # noqa: F401  (the fixture)

TEXT = "Thanks for the follow, and welcome to the stream. I have 21 cats!"
WORDS = ["Thanks", "for", "the", "follow", "and", "welcome", "to", "the", "stream", "I", "have",
         "21", "cats"]


def check(timings, audio, rate):
    """The words as written, in order, inside the audio, their times agreeing with their
    samples, and the audio's energy inside them."""
    assert timings["complete"] is True
    assert timings["sample_rate"] == rate
    words = timings["words"]
    assert [w["text"] for w in words] == WORDS
    start = timings["phrase_start_sample"]
    for w in words:
        assert start <= w["start_sample"] < w["end_sample"] <= len(audio), w
        for edge in ("start", "end"):
            ms = (w[f"{edge}_sample"] - start) * 1000 / rate
            assert abs(ms - w[f"{edge}_ms"]) < 1e-6, w
        assert TEXT[w["char_start"]:w["char_end"]] == w["text"]
        assert w["phonemes"] and w["phonemes"][0]["start_sample"] == w["start_sample"]
    for a, b in zip(words, words[1:]):
        assert a["end_sample"] <= b["start_sample"]
    energy = audio.astype(np.float64) ** 2
    inside = sum(energy[w["start_sample"]:w["end_sample"]].sum() for w in words)
    assert inside / energy.sum() > 0.98, inside / energy.sum()


def test_orator_say_writes_the_timings_of_its_render(tmp_path):
    out, timings = tmp_path / "t.wav", tmp_path / "t.json"
    subprocess.run([str(CLI), "say", TEXT, "--out", str(out), "--timings", str(timings),
                    "--sample-rate", "48000", "--resources", str(RESOURCES)],
                   check=True, capture_output=True)
    audio, rate = soundfile.read(out, dtype="float32")
    check(json.loads(timings.read_text()), audio[:, 0], rate)


def test_the_timed_endpoint_returns_the_audio_with_its_timings(server):  # noqa: F811
    port, _, _, _ = server
    body = json.dumps({"model": "tts-1", "voice": "alloy", "input": TEXT,
                       "response_format": "wav"}).encode()

    def post(path):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.headers["Content-Type"], r.read()

    kind, reply = post("/v1/audio/speech/timed")
    assert kind == "application/json"
    reply = json.loads(reply)
    assert reply["format"] == "wav" and reply["sample_rate"] == 24000
    wav = base64.b64decode(reply["audio"])
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    assert rate == 24000
    check(reply["timings"], audio, rate)
    # The same audio as OpenAI's endpoint gives for the same request.
    kind, plain = post("/v1/audio/speech")
    assert kind == "audio/wav"
    assert plain == wav

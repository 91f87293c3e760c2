"""Word timings as users get them: `orator say --timings` and the HTTP endpoint that returns
audio with its timings, each checked against the audio it came with; and the subtitles made
from them (`--srt`, `--vtt`, the endpoint's `srt` and `vtt`), read back by independent parsers
(`srt`, `webvtt-py`) and checked against the timings and the cue rules."""

import base64
import io
import json
import subprocess
import urllib.request

import numpy as np
import soundfile
import srt
import webvtt

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


def check_cues(cues, timings):
    """Cues as (start s, end s, lines): every word once, in order; each cue from its first
    word's start to at least its last word's end (or the next cue's start), at most 2 lines of
    42 characters and 7 s, at least 0.7 s where the next cue leaves room; a sentence's end
    ends its cue."""
    words = timings["words"]
    ms = lambda w, edge: (w[f"{edge}_sample"]) * 1000 / timings["sample_rate"]  # noqa: E731
    assert cues, "no cues"
    at = 0
    for i, (start, end, lines) in enumerate(cues):
        shown = " ".join(lines).split()
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), lines
        own = words[at:at + len(shown)]
        assert [w["text"] for w in own] == [t.strip(".,!?") for t in shown], (shown, own)
        assert abs(start * 1000 - ms(own[0], "start")) <= 1, (start, own[0])
        next_start = cues[i + 1][0] if i + 1 < len(cues) else float("inf")
        assert end <= next_start + 1e-9
        assert end * 1000 >= min(ms(own[-1], "end"), next_start * 1000) - 1, (end, own[-1])
        assert end - start <= 7.0 + 1e-3
        assert end - start >= 0.7 - 1e-3 or abs(end - next_start) < 1e-3, (start, end)
        at += len(shown)
    assert at == len(words)
    assert any(lines[-1].endswith("stream.") for _, _, lines in cues), cues


def test_orator_say_writes_the_timings_of_its_render(tmp_path):
    out, timings = tmp_path / "t.wav", tmp_path / "t.json"
    subs_srt, subs_vtt = tmp_path / "t.srt", tmp_path / "t.vtt"
    subprocess.run([str(CLI), "say", TEXT, "--out", str(out), "--timings", str(timings),
                    "--srt", str(subs_srt), "--vtt", str(subs_vtt),
                    "--sample-rate", "48000", "--resources", str(RESOURCES)],
                   check=True, capture_output=True)
    audio, rate = soundfile.read(out, dtype="float32")
    timings = json.loads(timings.read_text())
    check(timings, audio[:, 0], rate)
    from_srt = [(c.start.total_seconds(), c.end.total_seconds(), c.content.split("\n"))
                for c in srt.parse(subs_srt.read_text())]
    seconds = lambda t: t.in_seconds() + t.milliseconds / 1000  # noqa: E731 (whole s + ms)
    from_vtt = [(seconds(c.start_time), seconds(c.end_time), c.lines)
                for c in webvtt.read(str(subs_vtt))]
    check_cues(from_srt, timings)
    assert [lines for _, _, lines in from_vtt] == [lines for _, _, lines in from_srt]
    for (a, b, _), (c, d, _) in zip(from_vtt, from_srt):
        assert abs(a - c) < 1e-3 and abs(b - d) < 1e-3


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
    cues = [(c.start.total_seconds(), c.end.total_seconds(), c.content.split("\n"))
            for c in srt.parse(reply["srt"])]
    check_cues(cues, reply["timings"])
    assert reply["vtt"].startswith("WEBVTT")
    # The same audio as OpenAI's endpoint gives for the same request (streamed: its header's
    # sizes read "to the end").
    kind, plain = post("/v1/audio/speech")
    assert kind == "audio/wav"
    assert plain[44:] == wav[44:] and plain[:4] == wav[:4] and plain[8:40] == wav[8:40]

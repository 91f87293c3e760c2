"""Loudness targets, checked by an independent meter: ffmpeg's `ebur128` filter (integrated
loudness after ITU-R BS.1770 with its gates, true peak with its own oversampling) reads what
`orator say --loudness` writes and what the API's `loudness` field returns. Each reading must
be within 0.5 LU of the target with its true peak at or under the ceiling, for a set of
lines read at three speeds."""
import io
import re
import subprocess

import openai
import pytest
import soundfile

from test_clients import CLI, RESOURCES
from test_streaming import port  # noqa: F401 (the server, a fixture)

LINES = [
    "Welcome back to the stream, everyone. Tonight we read your messages aloud!",
    "Pack my box with five dozen liquor jugs, then ship it by Tuesday.",
    "Thanks for the raid! That was forty-two people at once, incredible.",
]
# (target LUFS, true-peak ceiling dBTP, speaking rate)
TARGETS = [(-16.0, -1.0, 1.0), (-23.0, -1.0, 0.6), (-14.0, -1.0, 1.5), (-16.0, -2.0, 0.6)]


def ebur128(path):
    """ffmpeg's integrated loudness (LUFS) and true peak (dBTP) of a file."""
    out = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af",
                          "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120, check=True).stderr
    summary = out[out.rindex("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return lufs, peak


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("target,ceiling,rate", TARGETS)
def test_orator_say_reaches_the_target_under_the_ceiling(tmp_path, line, target, ceiling, rate):
    out = tmp_path / "out.wav"
    said = subprocess.run(
        [str(CLI), "say", line, "--out", str(out), "--rate", str(rate), "--loudness",
         str(target), "--true-peak", str(ceiling), "--resources", str(RESOURCES)],
        capture_output=True, text=True, timeout=120)
    assert said.returncode == 0, said.stderr
    ours = re.search(r"Loudness (-?[\d.]+) LUFS", said.stderr)
    assert ours, said.stderr
    lufs, peak = ebur128(out)
    print(f"{target} LUFS, {ceiling} dBTP, rate {rate}: ffmpeg reads {lufs} LUFS, "
          f"{peak} dBTP (Orator: {ours.group(0)})")
    assert abs(lufs - target) <= 0.5, f"{lufs} LUFS for a target of {target}"
    assert peak <= ceiling, f"true peak {peak} dBTP over {ceiling}"


def test_a_target_out_of_range_is_a_clear_error(tmp_path):
    out = tmp_path / "out.wav"
    said = subprocess.run([str(CLI), "say", LINES[0], "--out", str(out), "--loudness", "-2",
                           "--resources", str(RESOURCES)], capture_output=True, text=True,
                          timeout=120)
    assert said.returncode != 0
    assert "between -40 and -5 LUFS" in said.stderr, said.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def client(port):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_the_api_brings_a_response_to_its_loudness(client, tmp_path, fmt):
    for target in (-16.0, -23.0):
        audio = client.audio.speech.create(
            model="tts-1", voice="alloy", input=f"{LINES[2]} Read as {fmt} at {target}.",
            response_format=fmt, extra_body={"loudness": target}).content
        samples, rate = soundfile.read(io.BytesIO(audio), dtype="float32")
        assert rate == 24000
        path = tmp_path / f"api.{fmt}"
        path.write_bytes(audio)
        lufs, peak = ebur128(path)
        print(f"API {fmt} at {target} LUFS: ffmpeg reads {lufs} LUFS, {peak} dBTP")
        assert abs(lufs - target) <= 0.5
        assert peak <= -1.0


def test_the_api_refuses_loudness_it_cannot_give(client):
    with pytest.raises(openai.BadRequestError, match="between -40 and -5 LUFS"):
        client.audio.speech.create(model="tts-1", voice="alloy", input=LINES[0],
                                   extra_body={"loudness": 3})
    with pytest.raises(openai.BadRequestError, match="not with `sse`"):
        client.audio.speech.create(model="tts-1", voice="alloy", input=LINES[0],
                                   extra_body={"loudness": -16, "stream_format": "sse"})

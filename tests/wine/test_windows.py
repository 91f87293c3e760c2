"""The Windows build under Wine, checked against the Linux build: `orator.exe say` renders the
same audio and timings as `orator say`, and `orator.exe serve` answers the official `openai`
client and a Streamer.bot-style WebSocket session from the Linux side.

Run by `cargo xtask test` after `cargo xtask build-windows`, with `ORATOR_WINEPREFIX` naming a
prepared Wine prefix (see `xtask/src/wine.rs`)."""

import asyncio
import io
import json
import sys
import os
import socket
import subprocess
import wave
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import speakerbot_ws  # noqa: E402
from lossy import ffmpeg_decoded, lossy_match  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = Path(os.environ.get("ORATOR_WINDOWS", ROOT / "target" / "bundled-windows"))
LINUX_CLI = Path(os.environ.get("ORATOR_CLI", ROOT / "target" / "bundled" / "orator"))
WINE = os.environ.get("ORATOR_WINE", "/usr/lib/wine/wine64")

SENTENCES = [
    "Hello! This is Orator, speaking from a Windows build.",
    "The quick brown fox jumps over the lazy dog; twenty-three times, at 4:30 PM.",
    "Is it working? Yes, it is, and it sounds exactly the same.",
]


def wine_env():
    prefix = os.environ.get("ORATOR_WINEPREFIX")
    assert prefix, "ORATOR_WINEPREFIX must name the test Wine prefix (cargo xtask test sets it)"
    return {**os.environ, "WINEPREFIX": prefix, "WINEDEBUG": "-all"}


def windows_path(path):
    """A Linux path as a Windows program under Wine names it (drive Z: is `/`)."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def say(program, text, out, timings, wine, *extra):
    command = [str(program), "say", text, "--out", out, "--timings", timings, *extra]
    if wine:
        command = [WINE, *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env=wine_env() if wine else None)
    assert done.returncode == 0, done.stderr


def snr_db(audio, reference):
    noise = np.sum((audio.astype(np.float64) - reference) ** 2)
    signal = np.sum(reference.astype(np.float64) ** 2)
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


@pytest.mark.parametrize("text", SENTENCES)
def test_say_equals_the_linux_build(tmp_path, text):
    say(WINDOWS / "orator.exe", text, windows_path(tmp_path / "win.wav"),
        windows_path(tmp_path / "win.json"), wine=True)
    say(LINUX_CLI, text, str(tmp_path / "linux.wav"), str(tmp_path / "linux.json"), wine=False)
    ours, rate = soundfile.read(tmp_path / "win.wav", dtype="float32")
    theirs, linux_rate = soundfile.read(tmp_path / "linux.wav", dtype="float32")
    assert rate == linux_rate
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert np.abs(theirs).max() > 0.05, "the Linux render is silent"
    snr = snr_db(ours, theirs)
    print(f"{text[:30]!r}: Windows vs Linux SNR {snr:.1f} dB")
    assert snr >= 100, snr
    win_timings = json.loads((tmp_path / "win.json").read_text())
    linux_timings = json.loads((tmp_path / "linux.json").read_text())
    assert win_timings == linux_timings


def test_loudness_mp3_and_opus_equal_the_linux_build(tmp_path):
    """`--loudness` (the meter, the limiter) gives the Linux build's samples, and LAME and
    libopus built for Windows encode what they encode on Linux."""
    text = SENTENCES[1]
    for name, extra in (("loud.wav", ["--loudness", "-14"]), ("x.mp3", []), ("x.opus", [])):
        say(WINDOWS / "orator.exe", text, windows_path(tmp_path / f"win-{name}"),
            windows_path(tmp_path / "win.json"), True, *extra)
        say(LINUX_CLI, text, str(tmp_path / f"linux-{name}"), str(tmp_path / "linux.json"),
            False, *extra)
    ours, _ = soundfile.read(tmp_path / "win-loud.wav", dtype="float32")
    theirs, _ = soundfile.read(tmp_path / "linux-loud.wav", dtype="float32")
    assert ours.shape == theirs.shape
    snr = snr_db(ours, theirs)
    print(f"--loudness -14: Windows vs Linux SNR {snr:.1f} dB")
    assert snr >= 100, snr
    for name, rate in (("x.mp3", 22050), ("x.opus", 48000)):
        ours = (tmp_path / f"win-{name}").read_bytes()
        theirs = (tmp_path / f"linux-{name}").read_bytes()
        win, linux = ffmpeg_decoded(ours, rate, 2), ffmpeg_decoded(theirs, rate, 2)
        assert win.shape == linux.shape, (name, win.shape, linux.shape)
        lag, snr, _ = lossy_match(win[:, 0], linux[:, 0])
        print(f"{name}: {len(ours)} / {len(theirs)} bytes, identical: {ours == theirs}; "
              f"decoded Windows vs Linux SNR {snr:.1f} dB")
        assert lag == 0 and snr >= 60, (name, lag, snr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port, udp = free_port(), free_port()
    proc = subprocess.Popen(
        [WINE, str(WINDOWS / "orator.exe"), "serve", "--port", str(port), "--udp-port", str(udp)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=wine_env())
    line = ""
    for _ in range(50):
        line = proc.stderr.readline()
        if "listening" in line or not line:
            break
    assert "listening" in line, line
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_serve_answers_the_openai_client_with_the_linux_audio(server, tmp_path):
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server}/v1", api_key="unused")
    text = "Hello from Orator on Windows, through the OpenAI endpoint."
    wav = client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                     response_format="wav").content
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    out = tmp_path / "linux.wav"
    subprocess.run([str(LINUX_CLI), "say", text, "--out", str(out), "--sample-rate", "24000"],
                   check=True, capture_output=True)
    linux, _ = soundfile.read(out, dtype="float32")
    scaled = np.clip(linux[:, 0], -1, 1).astype(np.float64) * 32767
    expected = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    assert heard.shape == expected.shape, (heard.shape, expected.shape)
    # 16-bit samples: equal, or a rounding step apart where the float sums differ.
    assert np.abs(heard - expected).max() <= 1, np.abs(heard - expected).max()
    assert np.abs(heard).max() > 1000
    with pytest.raises(openai.BadRequestError, match="unknown voice"):
        client.audio.speech.create(model="tts-1", voice="nobody", input=text)


def test_serve_runs_a_websocket_session(server):
    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{server}/") as ws:
            info = await speakerbot_ws.ask(ws, {"id": "1", "request": "GetInfo"})
            assert info["status"] == "ok" and info["info"]["name"] == "Orator"
            sub = await speakerbot_ws.ask(ws, {"id": "2", "request": "Subscribe",
                             "events": {"TextToSpeech": ["*"]}})
            assert sub["status"] == "ok"
            spoken = await speakerbot_ws.ask(ws, {"id": "3", "request": "Speak",
                                "message": "Chat, from Windows."})
            speech = spoken["result"]["speechId"]
            seen = []
            while "Finished" not in seen:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if "event" in msg and msg["data"].get("speechId") == speech:
                    seen.append(msg["event"]["type"])
                    if msg["event"]["type"] == "Finished":
                        return seen, msg["data"]["duration"]

    seen, duration = asyncio.run(run())
    assert seen.index("TextQueued") < seen.index("Playing") < seen.index("Finished"), seen
    assert 500 < duration < 4000, duration

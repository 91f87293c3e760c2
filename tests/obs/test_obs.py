"""Orator's OBS module in a real OBS Studio (Debian's, with its built-in obs-websocket) on a
virtual display, driven through obs-websocket with `obsws-python`: the module loads, an Orator
filter goes on a media source playing a 50 Hz tone, a chat bot's Speak reaches it through the
local API, and OBS's own recording holds the phrase (against `orator say` of the same line)
with the tone ducked under it. Then the filter is removed and added back, the scene collection
survives a restart with its settings, two filters speak at once, hostile settings are refused,
and OBS closes while one speaks."""

import asyncio
import json
import re
import sys
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import obsws_python as obs
import pytest
import soundfile
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import speakerbot_ws  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "target" / "bundled"
MODULE = Path(os.environ.get("ORATOR_OBS_MODULE", BUNDLED / "obs-plugins" / "orator"))
CLI = Path(os.environ.get("ORATOR_CLI", BUNDLED / "orator"))
RESOURCES = Path(os.environ.get("ORATOR_RESOURCES", ROOT / "target" / "assets"))
RATE = 48000
TONE_HZ = 50.0
TONE_DB = -20.0
DUCK_DB = -20.0
LINE = "Thanks for the follow, and welcome to the stream."


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tone(path, seconds=4.0):
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (10 ** (TONE_DB / 20) * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    soundfile.write(path, np.stack([tone, tone], axis=1), RATE, subtype="FLOAT")


class Obs:
    """An OBS process with its own home folder, the module installed, obs-websocket on."""

    def __init__(self, home, port):
        self.home, self.port, self.proc = home, port, None
        config = home / ".config" / "obs-studio"
        (config / "plugins").mkdir(parents=True, exist_ok=True)
        link = config / "plugins" / "orator"
        if not link.exists():
            link.symlink_to(MODULE.resolve())
        (config / "global.ini").write_text(
            "[General]\nFirstRun=true\nLastVersion=486539266\n\n"
            "[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\n"
            f"ServerPort={port}\nAlertsEnabled=false\nAuthRequired=false\n")

    def start(self):
        env = {**os.environ, "HOME": str(self.home), "LIBGL_ALWAYS_SOFTWARE": "1",
               "XDG_DATA_HOME": str(self.home / ".local" / "share"),
               "ORATOR_VOICE_CACHE": str(self.home / "voice-cache")}
        # Core dumps on, in OBS's home: a crash leaves evidence (`crash_report`).
        self.proc = subprocess.Popen(
            ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "obs", "--minimize-to-tray",
             "--disable-shutdown-check", "--disable-updater"],
            env=env, cwd=self.home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=allow_core_dumps)
        deadline = time.time() + 90
        while True:
            try:
                self.ws = obs.ReqClient(host="127.0.0.1", port=self.port, timeout=10)
                return self
            except Exception:
                assert self.proc.poll() is None, f"OBS exited: {self.log()[-3000:]}"
                assert time.time() < deadline, "obs-websocket never answered"
                time.sleep(0.5)

    def pid(self):
        """OBS's own process (xvfb-run is its parent)."""
        found = subprocess.run(["pgrep", "-s", str(self.proc.pid), "-x", "obs"],
                               capture_output=True, text=True).stdout.split()
        return int(found[0]) if found else None

    def resident_mib(self):
        status = Path(f"/proc/{self.pid()}/status").read_text()
        return int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1]) / 1024

    def crash_report(self):
        """The crashed thread's backtrace from OBS's core dump (taken away), or None when
        there is no core dump or no gdb to read it."""
        cores = sorted(self.home.glob("core*"), key=os.path.getmtime)
        binary = shutil.which("obs")
        if not cores or not binary or not shutil.which("gdb"):
            return None
        report = subprocess.run(["gdb", "-batch", "-ex", "bt 40", binary, str(cores[-1])],
                                capture_output=True, text=True, timeout=300).stdout
        cores[-1].unlink()
        return report

    def log(self):
        logs = sorted((self.home / ".config" / "obs-studio" / "logs").glob("*.txt"))
        return logs[-1].read_text(errors="replace") if logs else ""

    def stop(self, timeout=30):
        """Closes OBS as a user does; returns how long it took."""
        started = time.time()
        if self.proc and self.proc.poll() is None:
            # OBS itself (not xvfb-run, its parent), as the desktop's close does: OBS quits
            # cleanly on SIGTERM, saving the scene collection.
            found = self.pid()
            if found:
                os.kill(found, signal.SIGINT)
            else:
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(f"OBS did not close in {timeout} s")
        return time.time() - started


def allow_core_dumps():
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crashed_in_obs_itself(o, filters):
    """Whether OBS's crash at exit was its own: every Orator filter said it was destroyed
    before it, and the crashed thread's backtrace (from its core dump) runs no Orator, ONNX
    Runtime or espeak-ng code. Without a core dump and gdb it cannot be told: not OBS's."""
    report = o.crash_report()
    log = o.log()
    shutdown = log.rfind("==== Shutting down")
    destroyed = all(f"[orator] filter '{f}' destroyed" in log[shutdown:] for f in filters)
    own = (report is not None and destroyed and shutdown >= 0
           and not re.search(r"orator|onnxruntime|espeak", report, re.IGNORECASE))
    return own, report


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    write_tone(path)
    return path


@pytest.fixture()
def running(tmp_path, tone):
    o = Obs(tmp_path / "home", free_port()).start()
    yield o
    o.stop()


def add_tone_source(ws, tone, name="Tone"):
    scene = ws.get_current_program_scene().current_program_scene_name
    ws.create_input(scene, name, "ffmpeg_source",
                    {"local_file": str(tone), "looping": True, "restart_on_activate": True},
                    True)
    return scene


def add_orator(ws, source, api_port, name="Orator", **extra):
    settings = {"text": LINE, "api_enabled": True, "api_port": api_port,
                "duck_db": DUCK_DB, **extra}
    ws.create_source_filter(source, name, "orator_filter", settings)


async def connect(port, patience=30):
    """A WebSocket to the filter's API, trying again while the server moves between filters
    (a filter removed or added hands the port over)."""
    end = time.time() + patience
    while True:
        try:
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/")
            await ws.send(json.dumps({"id": "i", "request": "GetInfo"}))
            json.loads(await asyncio.wait_for(ws.recv(), 10))
            return ws
        except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError):
            if time.time() > end:
                raise
            await asyncio.sleep(0.25)


async def speak(port, message):
    """Speaks through the filter's Speaker.bot WebSocket; returns the Finished event."""
    async with await connect(port) as ws:
        await speakerbot_ws.ask(ws, {"id": "s", "request": "Subscribe", "events": {"TextToSpeech": ["*"]}})
        reply = await speakerbot_ws.ask(ws, {"id": "p", "request": "Speak", "message": message})
        assert reply["status"] == "ok", reply
        speech = reply["result"]["speechId"]
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if msg.get("data", {}).get("speechId") == speech and \
                    msg["event"]["type"] in ("Finished", "Error", "Deleted"):
                return msg


def wait_for_api(port, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the filter's API never listened on {port}")


def decode(path):
    """A recording's first channel at 48 kHz, float."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-af", "pan=mono|c0=c0",
                          "-ar", str(RATE), "-f", "f32le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4")


def high_pass(x, hz=100.0):
    spectrum = np.fft.rfft(x)
    spectrum[: int(hz * len(x) / RATE)] = 0
    return np.fft.irfft(spectrum, len(x))


def tone_level_db(x):
    """The tone's level (dB re full scale sine) in `x`, by its Fourier coefficient."""
    t = np.arange(len(x)) / RATE
    c = 2 * np.abs(np.dot(x, np.exp(-2j * np.pi * TONE_HZ * t))) / len(x)
    return 20 * np.log10(max(c, 1e-9))


def say(text, path):
    """`orator say` of `text` at OBS's rate: the voice alone, first channel."""
    subprocess.run([str(CLI), "say", text, "--out", str(path), "--sample-rate", str(RATE),
                    "--resources", str(RESOURCES)], check=True, capture_output=True)
    voice, rate = soundfile.read(path, dtype="float32")
    assert rate == RATE
    return voice[:, 0]


def find(heard, voice, after=0):
    """Where `voice` is in `heard` (at or past sample `after`), by normalised cross-correlation
    of the two with the tone taken out of both (high-passed at 100 Hz): correlation says it is
    the same audio whatever the codec's small changes, where an SNR would mostly measure OBS's
    AAC encoder. The onset, the correlation there, the SNR and the level against `voice`."""
    a, b = high_pass(heard)[after:], high_pass(voice)
    corr = np.fft.irfft(np.fft.rfft(a, len(a) + len(b)) * np.conj(np.fft.rfft(b, len(a) + len(b))))
    onset = int(np.argmax(corr[: len(a)]))
    segment = a[onset: onset + len(b)]
    b = b[: len(segment)]
    r = float(np.dot(segment, b) / (np.linalg.norm(segment) * np.linalg.norm(b) + 1e-12))
    snr = 10 * np.log10(np.sum(b ** 2) / max(np.sum((segment - b) ** 2), 1e-20))
    level = 20 * np.log10(np.sqrt(np.mean(segment ** 2)) / np.sqrt(np.mean(b ** 2)))
    return after + onset, r, snr, level


PHRASES = ["The first phrase.", "The second phrase, spoken by its hotkey.", "A third."]


def test_obs_records_the_filter_speaking_over_its_ducked_source(running, tone, tmp_path):
    o = running
    assert "[orator] loaded" in o.log(), o.log()[-3000:]
    api = free_port()
    add_tone_source(o.ws, tone)
    add_orator(o.ws, "Tone", api, text="\n".join(PHRASES))
    kinds = [f["filterKind"] for f in o.ws.get_source_filter_list("Tone").filters]
    assert kinds == ["orator_filter"], kinds
    wait_for_api(api)
    o.ws.start_record()
    time.sleep(2.0)
    finished = asyncio.run(speak(api, LINE))
    assert finished["event"]["type"] == "Finished", finished
    time.sleep(1.5)
    # A phrase of the text by its hotkey: from the phrase bank, rendered ahead.
    o.ws.trigger_hot_key_by_name("orator.phrase2:Orator")
    time.sleep(4.0)
    recording = Path(o.ws.stop_record().output_path)
    time.sleep(1.0)
    heard = decode(recording)
    codec = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                            "stream=codec_name,sample_rate,channels", "-of", "csv=p=0",
                            str(recording)], capture_output=True, text=True).stdout.strip()
    voice = say(LINE, tmp_path / "say.wav")
    onset, r, snr, level = find(heard, voice)
    # The tone before the phrase, and under it (past the duck's attack).
    before = tone_level_db(heard[max(0, onset - RATE): onset])
    under = tone_level_db(heard[onset + RATE // 2: onset + RATE // 2 + RATE])
    print(f"OBS recording ({recording.suffix}, {codec}): phrase at {onset / RATE:.3f} s, correlation {r:.6f} with orator say "
          f"(SNR {snr:.1f} dB, OBS's AAC), "
          f"level {level:+.2f} dB against it; tone {before:.1f} dB before, {under:.1f} dB under")
    assert r > 0.99, r
    assert abs(level) < 1.5, level
    assert abs(before - TONE_DB) < 1.5, before
    assert abs((under - before) - DUCK_DB) < 3.0, (before, under)
    second = say(PHRASES[1], tmp_path / "phrase2.wav")
    at, r2, snr2, level2 = find(heard, second, after=onset + len(voice))
    print(f"phrase 2 by its hotkey at {at / RATE:.3f} s, {(at - onset - len(voice)) / RATE:.2f} s "
          f"after the line: correlation {r2:.6f} (SNR {snr2:.1f} dB), level {level2:+.2f} dB")
    assert r2 > 0.99, r2
    assert abs(level2) < 1.5, level2
    # The audio callback's own account, which the module logs when OBS destroys the filter:
    # every tick of the recording ran, and none of them touched the heap.
    o.stop()
    watched = re.search(r"filter 'Orator' destroyed: audio ticks (\d+), mean ([\d.]+) us, "
                        r"max ([\d.]+) us, heap calls on the audio thread (\d+)", o.log())
    assert watched, o.log()[-3000:]
    ticks, mean, most, heap = (int(watched[1]), float(watched[2]), float(watched[3]),
                               int(watched[4]))
    print(f"filter_audio in OBS: {ticks} ticks, mean {mean} us, max {most} us, "
          f"{heap} heap calls")
    assert ticks * 1024 > 5 * RATE, ticks
    assert heap == 0, heap


def test_filters_come_and_go_and_settings_survive_a_restart(tmp_path, tone):
    home, port = tmp_path / "home", free_port()
    o = Obs(home, port).start()
    try:
        a = free_port()
        add_tone_source(o.ws, tone, "Mic")
        add_tone_source(o.ws, tone, "Music")
        add_orator(o.ws, "Mic", a, "Orator Mic", text="Mic line.", api_enabled=False)
        add_orator(o.ws, "Music", a, "Orator Music", text="Music line.")
        # Removed and added back.
        o.ws.remove_source_filter("Music", "Orator Music")
        add_orator(o.ws, "Music", a, "Orator Music", text="Music line, back again.", rate=1.25)
        wait_for_api(a)
        # Filters added and removed again and again are destroyed, and leave OBS no larger.
        def cycles(first, count):
            for i in range(first, first + count):
                add_orator(o.ws, "Mic", a, f"Cycle {i}", api_enabled=False)
                o.ws.remove_source_filter("Mic", f"Cycle {i}")
            deadline = time.time() + 30
            while o.log().count("filter 'Cycle ") < first + count:
                assert time.time() < deadline, o.log()[-2000:]
                time.sleep(0.5)
            time.sleep(1.0)
            return o.resident_mib()
        warm = cycles(0, 4)
        after = cycles(4, 16)
        print(f"OBS resident {warm:.1f} MiB after 4 filters came and went, {after:.1f} MiB "
              f"after 16 more")
        assert after - warm < 16 * 0.5, (warm, after)
        done = asyncio.run(speak(a, "Added back."))
        assert done["event"]["type"] == "Finished", done
        # Hostile settings are refused, and the values in effect stay in OBS's settings.
        for hostile in ({"rate": 1e300}, {"duck_db": 40.0}, {"api_port": 0},
                        {"text": "x" * (8 * 1024 * 1024 + 1)}):
            o.ws.set_source_filter_settings("Music", "Orator Music", hostile, True)
        assert "settings refused" in o.log(), o.log()[-2000:]
        kept = o.ws.get_source_filter("Music", "Orator Music").filter_settings
        assert (kept["rate"], kept["duck_db"], kept["api_port"], kept["text"]) == \
            (1.25, DUCK_DB, a, "Music line, back again."), {k: str(v)[:40] for k, v in kept.items()}
        # Closing OBS while a filter speaks: no crash, no hang. OBS 29 itself crashed once
        # at exit after both filters were gone; such a crash, told apart by its backtrace
        # (`crashed_in_obs_itself`), is reported and the close tried again once.
        for attempt in (1, 2):
            asyncio.run(speak_no_wait(a, "A long message that is still being read when OBS "
                                         "is closed, which must neither crash nor hang it."))
            took = o.stop()
            print(f"OBS closed in {took:.1f} s while speaking (status {o.proc.returncode})")
            if o.proc.returncode == 0:
                break
            own, report = crashed_in_obs_itself(o, ["Orator Mic", "Orator Music"])
            assert own and attempt == 1, \
                f"OBS exited {o.proc.returncode} at close: {report}\n{o.log()[-3000:]}"
            print(f"OBS crashed at exit in its own code, after the filters were destroyed:\n"
                  f"{report}")
            o = Obs(home, port).start()
            wait_for_api(a)
        assert o.proc.returncode == 0, o.proc.returncode
        # A hand-edited collection with a hostile value in it: refused, the rest loads.
        collection = next((home / ".config" / "obs-studio" / "basic" / "scenes").glob("*.json"))
        saved = json.loads(collection.read_text())
        mic = next(s for s in saved["sources"] if s["name"] == "Mic")
        mic["filters"][0]["settings"]["variation"] = -5
        mic["filters"][0]["settings"]["voice_db"] = 1e308
        # And what a newer Orator might save: ignored, the rest loads.
        mic["filters"][0]["settings"]["orator_future_setting"] = {"nested": [1, 2.5, "x"]}
        collection.write_text(json.dumps(saved))
        # The collection comes back with the settings.
        o = Obs(home, port).start()
        settings = o.ws.get_source_filter("Music", "Orator Music").filter_settings
        assert settings["text"] == "Music line, back again." and settings["rate"] == 1.25, settings
        mic = o.ws.get_source_filter("Mic", "Orator Mic").filter_settings
        assert mic["text"] == "Mic line." and mic["voice_db"] == 0.0, mic
        assert mic["variation"] == 1.0, mic
        for said in ("`voice_db` must be -60 to 12 (got 1e308)", "`variation` must be 0 to 2 (got -5)"):
            assert said in o.log(), (said, o.log()[-2000:])
        # Each filter's hotkeys are OBS's (Settings, Hotkeys), named after the filter.
        hotkeys = o.ws.get_hot_key_list().hotkeys
        for hotkey in ("orator.speak:Orator Mic", "orator.skip:Orator Music",
                       "orator.phrase:Orator Mic", "orator.phrase9:Orator Music"):
            assert hotkey in hotkeys, (hotkey, hotkeys)
        wait_for_api(a)
        # Two filters on two sources speak at once, each heard on its own source's meter: the
        # Mic's by its hotkey, the Music's through the API.
        meters = Meters(o.port)
        time.sleep(1.5)
        quiet = meters.peaks()
        o.ws.trigger_hot_key_by_name("orator.speak:Orator Mic")
        done = asyncio.run(speak(a, "Both at once, after a restart."))
        assert done["event"]["type"] == "Finished", done
        loud = meters.peaks()
        meters.close()
        print(f"meter peaks before speech {quiet}, while both speak {loud}")
        for name in ("Mic", "Music"):
            assert loud[name] > 2 * quiet[name], (name, quiet, loud)
        # A preset (the plugin's presets; here a user preset file) sets the filter's signal
        # path: its output gain takes the Mic down 6 dB on its meter. An unknown one is refused.
        presets = home / ".local" / "share" / "orator" / "presets"
        presets.mkdir(parents=True, exist_ok=True)
        (presets / "test-quiet.json").write_text(json.dumps(
            {"orator_preset": 1, "name": "Test quiet", "params": {"out": -6.0}}))
        time.sleep(3.0)
        meters = Meters(o.port)
        time.sleep(1.5)
        plain = meters.peaks()
        o.ws.set_source_filter_settings("Mic", "Orator Mic", {"preset": "Test quiet"}, True)
        time.sleep(0.5)
        meters.peaks()
        time.sleep(1.5)
        quieter = meters.peaks()
        meters.close()
        change = 20 * np.log10(quieter["Mic"] / plain["Mic"])
        print(f"Mic meter {plain['Mic']:.4f} -> {quieter['Mic']:.4f} ({change:+.2f} dB) "
              f"with a preset of output -6 dB")
        assert abs(change + 6.0) < 0.5, (plain, quieter)
        o.ws.set_source_filter_settings("Mic", "Orator Mic", {"preset": "No such preset"}, True)
        kept = o.ws.get_source_filter("Mic", "Orator Mic").filter_settings
        assert kept["preset"] == "Test quiet", kept
        assert "`preset`: no preset named `No such preset`" in o.log(), o.log()[-2000:]
    finally:
        o.stop()


class Meters:
    """OBS's audio meters of every input, through obs-websocket's volume meter events."""

    def __init__(self, port):
        self.seen = {}
        self.client = obs.EventClient(host="127.0.0.1", port=port,
                                      subs=obs.Subs.LOW_VOLUME | obs.Subs.INPUTVOLUMEMETERS)
        self.client.callback.register(self.on_input_volume_meters)

    def on_input_volume_meters(self, data):
        for item in data.inputs:
            peak = max((levels[1] for levels in item["inputLevelsMul"]), default=0.0)
            self.seen[item["inputName"]] = max(self.seen.get(item["inputName"], 0.0), peak)

    def peaks(self):
        """The highest peak of each input since the last call."""
        seen, self.seen = self.seen, {}
        return seen

    def close(self):
        self.client.disconnect()


async def speak_no_wait(port, message):
    async with await connect(port) as ws:
        await ws.send(json.dumps({"id": "q", "request": "Speak", "message": message}))
        json.loads(await asyncio.wait_for(ws.recv(), 30))
        await asyncio.sleep(1.0)

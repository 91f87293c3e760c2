"""The local API from real clients against `orator serve`: Python `websockets` plays a
Streamer.bot session, the official `openai` package fetches wav and pcm (equal to `orator say`
of the same text), UDP speaks, and `--record` holds what was heard."""

import asyncio
import io
import json
import sys
import os
import socket
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import speakerbot_ws  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("ORATOR_CLI", ROOT / "target" / "bundled" / "orator"))
RESOURCES = Path(os.environ.get("ORATOR_RESOURCES", ROOT / "target" / "assets"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port, udp = free_port(), free_port()
    record = tmp_path_factory.mktemp("serve") / "heard.wav"
    # A voice the user dropped into their own voices folder (the bundled one, renamed).
    data = tmp_path_factory.mktemp("data")
    voices = data / "orator" / "voices"
    voices.mkdir(parents=True)
    bundled = RESOURCES / "voices" / "en_US-joe-medium.onnx"
    (voices / "my_voice.onnx").symlink_to(bundled)
    (voices / "my_voice.onnx.json").symlink_to(bundled.with_name(bundled.name + ".json"))
    # Voice aliases: one on the instance's voice, faster; a chatter given it by name.
    aliases = data / "aliases.json"
    aliases.write_text(json.dumps({
        "aliases": [{"name": "Quick", "rate": 1.5},
                    {"name": "Mine", "voice": "orator/voices/my_voice.onnx", "rate": 0.8}],
        "chatters": {"Anna": "Quick"},
    }))
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", str(udp),
         "--resources", str(RESOURCES), "--record", str(record), "--aliases", str(aliases)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "XDG_DATA_HOME": str(data)})
    line = proc.stderr.readline()
    assert "listening" in line, line
    yield port, udp, record, proc
    proc.terminate()
    proc.wait(timeout=20)


def orator_say(tmp_path, text, *extra):
    out = tmp_path / "say.wav"
    subprocess.run([str(CLI), "say", text, "--out", str(out), "--sample-rate", "24000",
                    "--resources", str(RESOURCES), *extra], check=True, capture_output=True)
    audio, rate = soundfile.read(out, dtype="float32")
    assert rate == 24000
    # As the server converts: float32 times 32767, rounded half away from zero (numpy's
    # round goes half to even).
    scaled = (np.clip(audio[:, 0], -1, 1) * np.float32(32767)).astype(np.float64)
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int16)


async def session(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        async def until_all(*wanted):
            """Waits for every (event type, speech id) in `wanted`, in any order."""
            wanted, seen = set(wanted), {}
            while wanted - seen.keys():
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if "event" in msg:
                    seen[(msg["event"]["type"], msg["data"]["speechId"])] = msg
            return seen

        async def until(kind, speech):
            return (await until_all((kind, speech)))[(kind, speech)]

        info = await speakerbot_ws.ask(ws, {"id": "1", "request": "GetInfo"})
        assert info["status"] == "ok" and info["info"]["name"] == "Orator"
        sub = await speakerbot_ws.ask(ws, {"id": "2", "request": "Subscribe", "events": {"TextToSpeech": ["*"]}})
        assert sub["status"] == "ok"
        spoken = await speakerbot_ws.ask(ws, {"id": "3", "request": "Speak", "message": "Welcome to the stream! 🎉🎉🎉"})
        speech = spoken["result"]["speechId"]
        queued = await until("TextQueued", speech)
        assert queued["data"]["message"] == "Welcome to the stream! party popper"
        await until("Playing", speech)
        finished = await until("Finished", speech)
        # Pause and Resume, Stop, Clear.
        long = (await speakerbot_ws.ask(ws, {"id": "4", "request": "Speak",
                           "message": "A long message that is going to be stopped before its end."}))
        await until("Playing", long["result"]["speechId"])
        assert (await speakerbot_ws.ask(ws, {"id": "5", "request": "Pause"}))["status"] == "ok"
        assert (await speakerbot_ws.ask(ws, {"id": "6", "request": "Resume"}))["status"] == "ok"
        assert (await speakerbot_ws.ask(ws, {"id": "7", "request": "Stop"}))["status"] == "ok"
        await until("Deleted", long["result"]["speechId"])
        a = (await speakerbot_ws.ask(ws, {"id": "8", "request": "Speak", "message": "One."}))["result"]["speechId"]
        b = (await speakerbot_ws.ask(ws, {"id": "9", "request": "Speak", "message": "Two."}))["result"]["speechId"]
        await until("Playing", a)
        assert (await speakerbot_ws.ask(ws, {"id": "10", "request": "Clear"}))["status"] == "ok"
        # Cleared while waiting: Deleted once the phrase heard has finished.
        await until_all(("Deleted", b), ("Finished", a))
        # Speak with wait: the reply comes at the end, with the duration.
        waited = await speakerbot_ws.ask(ws, {"id": "11", "request": "Speak", "message": "Done.", "wait": True})
        assert waited["status"] == "ok" and waited["result"]["duration"] > 0
        bad = await speakerbot_ws.ask(ws, {"id": "12", "request": "Speak"})
        assert bad["status"] == "error" and "message" in bad["error"]
        return finished["data"]["duration"]


def test_a_streamer_bot_session_with_python_websockets(server):
    port, _, _, _ = server
    duration = asyncio.run(session(port))
    assert 1000 < duration < 4000, duration


def test_udp_speaks_like_speaker_bot(server):
    port, udp, _, _ = server

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send(json.dumps({"id": "s", "request": "Subscribe",
                                      "events": {"TextToSpeech": ["TextQueued"]}}))
            await asyncio.wait_for(ws.recv(), 10)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(json.dumps({"command": "speak", "message": "From UDP."}).encode(),
                         ("127.0.0.1", udp))
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert event["data"]["message"] == "From UDP."
    asyncio.run(run())


def test_openai_wav_and_pcm_equal_orator_say(server, tmp_path):
    port, _, _, _ = server
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    text = "Hello from Orator, through the OpenAI endpoint."
    expected = orator_say(tmp_path, text)
    wav = client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                     response_format="wav").content
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        from_wav = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    pcm = client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                     response_format="pcm").content
    from_pcm = np.frombuffer(pcm, dtype="<i2")
    assert np.array_equal(from_wav, from_pcm)
    assert np.array_equal(from_pcm, expected), (len(from_pcm), len(expected))
    with pytest.raises(openai.BadRequestError, match="aac"):
        client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                   response_format="aac")
    with pytest.raises(openai.BadRequestError, match="unknown voice"):
        client.audio.speech.create(model="tts-1", voice="nobody", input=text)
    assert "tts-1" in [m.id for m in client.models.list()]
    # A voice in the user's voices folder is listed and selected by its file name.
    listed = client.get("/voices", cast_to=object)
    assert "my_voice" in json.dumps(listed), listed
    mine = client.audio.speech.create(model="tts-1", voice="my_voice", input=text,
                                      response_format="pcm").content
    assert len(mine) > 24000, len(mine)


def test_openai_voice_aliases_speak_as_orator_say_with_their_settings(server, tmp_path):
    """An alias through the official client speaks exactly as `orator say` with the alias's
    voice and rate (times the asked speed); `user:NAME` speaks with the chatter's alias; the
    aliases are listed."""
    port, _, _, _ = server
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    text = "Chat gets a voice of its own."
    quick = orator_say(tmp_path, text, "--rate", "1.5")
    plain = orator_say(tmp_path, text)
    assert len(quick) < 0.8 * len(plain), (len(quick), len(plain))

    def speech(voice, **kw):
        pcm = client.audio.speech.create(model="tts-1", voice=voice, input=text,
                                         response_format="pcm", **kw).content
        return np.frombuffer(pcm, dtype="<i2")

    assert np.array_equal(speech("quick"), quick)
    assert np.array_equal(speech("user:anna"), quick)
    assert np.array_equal(speech("Mine", speed=1.25), orator_say(tmp_path, text, "--rate", "1.0"))
    # A chatter with no alias speaks with the default voice, like OpenAI's names.
    assert np.array_equal(speech("user:somebody"), plain)
    listed = json.dumps(client.get("/voices", cast_to=object))
    assert '"Quick"' in listed and '"Mine"' in listed, listed


async def get_voices(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        await ws.send(json.dumps({"id": "v", "request": "GetVoices"}))
        return json.loads(await asyncio.wait_for(ws.recv(), 10))


def test_get_voices_lists_the_aliases_over_the_websocket(server):
    port, _, _, _ = server
    reply = asyncio.run(get_voices(port))
    assert reply["status"] == "ok", reply
    names = [(v["name"], v["voice"], v["rate"]) for v in reply["voices"]]
    assert names == [("Quick", "default", 1.5), ("Mine", "my_voice", 0.8)], reply
    assert reply["chatters"] == 1 and reply["perChatter"] is False, reply


def test_the_recording_holds_what_was_heard(server):
    port, _, record, proc = server
    # Everything spoken so far has finished (the session waited for its ends).
    time.sleep(0.5)
    proc.terminate()
    proc.wait(timeout=20)
    audio, rate = soundfile.read(record, dtype="float32")
    assert rate == 48000
    loud = np.abs(audio[:, 0]) > 1e-3
    assert loud.sum() / rate > 2.0, "less than two seconds of speech recorded"


# A token with every character a URL treats specially, as a streamer might paste one.
ODD_TOKEN = "a/b+c=d&e%f#g?h i\u00e9"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """`orator serve` with a token set."""
    port, udp = free_port(), free_port()
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", str(udp),
         "--resources", str(RESOURCES), "--token", ODD_TOKEN],
        stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "listening" in line, line
    yield port, udp
    proc.terminate()
    proc.wait(timeout=20)


def test_a_udp_flood_with_a_wrong_token_costs_the_bot_nothing(guarded):
    """120 datagrams with a wrong token (three times the burst one sender may send), from one
    socket and from the bot's own, and the bot's next datagram with the right token is still
    spoken at once (more would overflow the socket's receive buffer and lose datagrams in the
    kernel, before the server sees them). The caption page's way
    of sending the token (`encodeURIComponent` in the query) works whatever it holds."""
    port, udp = guarded
    from urllib.parse import quote

    async def run():
        url = f"ws://127.0.0.1:{port}/?token={quote(ODD_TOKEN, safe='')}"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"id": "s", "request": "Subscribe",
                                      "events": {"TextToSpeech": ["TextQueued"]}}))
            await asyncio.wait_for(ws.recv(), 10)
            wrong = json.dumps({"command": "speak", "message": "no", "token": "guess"}).encode()
            right = json.dumps({"command": "speak", "message": "Still heard.",
                                "token": ODD_TOKEN}).encode()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flooder, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bot:
                for _ in range(60):
                    flooder.sendto(wrong, ("127.0.0.1", udp))
                    bot.sendto(wrong, ("127.0.0.1", udp))
                bot.sendto(right, ("127.0.0.1", udp))
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert event["data"]["message"] == "Still heard."

    asyncio.run(run())


def test_sockets_that_never_finish_a_request_lock_no_one_out(guarded):
    """40 connections that send only the first line of a request (no token yet), more than the
    server's connection cap, and a real client with the token still connects and is answered;
    so does one after the head deadline, when the silent ones are gone."""
    port, _ = guarded
    from urllib.parse import quote
    silent = []
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\n")
            silent.append(s)

        async def info(n):
            url = f"ws://127.0.0.1:{port}/?token={quote(ODD_TOKEN, safe='')}"
            async with websockets.connect(url) as ws:
                await ws.send(json.dumps({"id": n, "request": "GetInfo"}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert reply["status"] == "ok", reply

        asyncio.run(info("1"))
        time.sleep(3.5)
        asyncio.run(info("2"))
    finally:
        for s in silent:
            s.close()


def test_a_render_longer_than_the_cap_is_refused_at_once(tmp_path):
    """4096 characters at speed 0.25 would be over ten minutes of audio: the official client
    gets a clear 400 at once, and the next request is served."""
    port = free_port()
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", "0", "--resources", str(RESOURCES)],
        stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in proc.stderr.readline()
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
        long = ("The streamer reads chat aloud tonight. " * 105)[:4096]
        with pytest.raises(openai.BadRequestError, match="more than the 300 s"):
            client.audio.speech.create(model="tts-1", voice="alloy", input=long, speed=0.25)
        short = client.audio.speech.create(model="tts-1", voice="alloy", input="Next one.")
        assert short.content[:4] == b"RIFF"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_websocket_that_stops_answering_is_closed_and_a_quiet_one_stays(guarded):
    """A client that completed the handshake and then answers nothing (not even pings) loses
    its connection after the silence limit (30 s); a real client that sends nothing for as
    long, its library answering the server's pings, is still served."""
    port, _ = guarded
    from urllib.parse import quote
    target = f"/?token={quote(ODD_TOKEN, safe='')}"
    dead = socket.create_connection(("127.0.0.1", port))
    dead.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b" 101 " in dead.recv(4096)

    async def quiet():
        async with websockets.connect(f"ws://127.0.0.1:{port}{target}") as ws:
            await asyncio.sleep(36)
            await ws.send(json.dumps({"id": "q", "request": "GetInfo"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert reply["status"] == "ok", reply

    started = time.monotonic()
    asyncio.run(quiet())
    # The silent one: the server's pings and then its close, nothing more.
    dead.settimeout(10)
    closed = False
    try:
        while dead.recv(4096):
            pass
        closed = True
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    finally:
        dead.close()
    assert closed, f"the silent client still held its connection after {time.monotonic() - started:.0f} s"


def test_a_message_over_the_cap_is_spoken_cut_and_the_reply_says_so(guarded):
    """A chat line past the 500-character cap is spoken up to a word and the Speak reply says
    how many characters were left out; the TextQueued event holds exactly what is spoken. A
    voice alias Orator does not have is spoken with the instance's voice, and the reply says
    so."""
    port, _ = guarded
    from urllib.parse import quote
    words = " ".join(f"word{n}" for n in range(120))  # 709 characters

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{port}/?token={quote(ODD_TOKEN, safe='')}") as ws:
            await ws.send(json.dumps({"id": "s", "request": "Subscribe",
                                      "events": {"TextToSpeech": ["TextQueued"]}}))
            await asyncio.wait_for(ws.recv(), 10)
            await ws.send(json.dumps({"id": "long", "request": "Speak", "message": words,
                                      "voice": "Brian"}))
            reply = queued = None
            while reply is None or queued is None:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("id") == "long":
                    reply = msg
                elif msg.get("event", {}).get("type") == "TextQueued":
                    queued = msg
            await ws.send(json.dumps({"id": "c", "request": "Clear"}))
            await ws.send(json.dumps({"id": "x", "request": "Stop"}))
            return reply, queued["data"]["message"]

    reply, spoken = asyncio.run(run())
    assert reply["status"] == "ok", reply
    assert reply["result"]["voice"] == "default", reply
    assert "no voice alias named `Brian`" in reply["result"]["warning"], reply
    assert spoken.endswith(".") and len(spoken) <= 500 and words.startswith(spoken[:-1])
    assert reply["result"]["cut"] == len(words) - len(spoken[:-1]), (reply, len(spoken))


def raw_speech(port, body, token=None):
    """An OpenAI speech request on a plain socket, left open for the caller."""
    data = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((f"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
              + data)
    return s


@pytest.fixture()
def plain(tmp_path):
    """`orator serve` without a token, its own for one test."""
    port = free_port()
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", "0", "--resources", str(RESOURCES)],
        stderr=subprocess.PIPE, text=True)
    assert "listening" in proc.stderr.readline()
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_a_client_that_hangs_up_stops_its_render(plain):
    """A client asks for about 4 minutes of speech (1800 characters at speed 0.5, minutes of
    synthesis on one core) and hangs up after a second: its render is stopped, so the next
    client's short request is answered in seconds, not after the abandoned render."""
    port = plain
    text = ("The streamer reads the whole of chat aloud tonight, one line after another. " * 25)[:1800]
    hung_up = raw_speech(port, {"model": "tts-1", "input": text, "voice": "alloy", "speed": 0.5})
    time.sleep(1.0)
    hung_up.close()
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    started = time.monotonic()
    short = client.audio.speech.create(model="tts-1", voice="alloy", input="Next one.")
    waited = time.monotonic() - started
    assert short.content[:4] == b"RIFF"
    assert waited < 8, f"the next request waited {waited:.1f} s behind an abandoned render"


def test_a_render_that_outruns_its_estimate_stops_at_the_cap(plain):
    """Spelled letters take far longer to say than their characters suggest: the estimate lets
    the request in, and the render is stopped when its audio reaches the 300 s cap (not minutes
    of audio past it). The timed endpoint, sent whole, says so with a clear 400; the streamed
    one has sent its head with its first audio, so its response ends without its last chunk,
    which the official client reports as a broken response."""
    port = plain
    letters = " ".join("QWXZJKVY"[n % 8] + "." for n in range(1300))  # 3899 characters
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused",
                           max_retries=0)
    with pytest.raises(openai.BadRequestError, match="reached the 300 s"):
        client.post("/audio/speech/timed", cast_to=object,
                    body={"model": "tts-1", "voice": "alloy", "input": letters})
    with pytest.raises(openai.APIConnectionError):
        client.audio.speech.create(model="tts-1", voice="alloy", input=letters)
    short = client.audio.speech.create(model="tts-1", voice="alloy", input="Next one.")
    assert short.content[:4] == b"RIFF"

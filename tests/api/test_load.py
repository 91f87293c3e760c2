"""A load test of the local API, bounded in count and time, loopback only: while other local
processes hold and churn connections that never authenticate (sockets that never finish their
head, heads sent a byte at a time, wrong tokens, WebSockets without the token), a real client
with the token keeps speaking through the WebSocket and the official `openai` package. It is
never refused and every phrase it asks for is heard to its end."""

import asyncio
import json
import socket
import subprocess
import threading
import time
from urllib.parse import quote

import openai
import pytest
import websockets

from test_clients import CLI, RESOURCES, free_port

# A token as the API tab generates them (an HTTP header holds ASCII only).
TOKEN = "Vq3-xN8_kd2LrP0aZt7Ye5WbUc9HsJ1m"

# How long the attack runs, seconds, and how many sockets each kind keeps open.
ATTACK_SECONDS = 20
HEADLESS = 40
SLOW_HEADS = 10


@pytest.fixture()
def guarded_server():
    port = free_port()
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", "0",
         "--resources", str(RESOURCES), "--token", TOKEN],
        stderr=subprocess.PIPE, text=True)
    assert "listening" in proc.stderr.readline()
    yield port
    proc.terminate()
    proc.wait(timeout=20)


class Attack:
    """Threads that hold and churn unauthenticated connections until stopped."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.opened = 0
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.headless, self.slow_heads, self.wrong_tokens)]

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        self.opened += 1
        return s

    def headless(self):
        """Keeps HEADLESS sockets that sent only a request line; reopens the ones closed."""
        held = []
        while not self.stop.is_set():
            alive = []
            for s in held:
                try:
                    s.setblocking(False)
                    if s.recv(1) == b"":
                        s.close()
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    continue
                alive.append(s)
            held = alive
            while len(held) < HEADLESS and not self.stop.is_set():
                try:
                    s = self.connect()
                    s.sendall(b"GET / HTTP/1.1\r\n")
                    held.append(s)
                except OSError:
                    break
            time.sleep(0.05)
        for s in held:
            s.close()

    def slow_heads(self):
        """SLOW_HEADS sockets each sending its head one byte every 0.3 s."""
        head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nX-Pad: {'a' * 200}\r\n\r\n".encode()
        held = []
        while not self.stop.is_set():
            while len(held) < SLOW_HEADS:
                try:
                    held.append([self.connect(), 0])
                except OSError:
                    break
            for entry in held:
                s, sent = entry
                try:
                    s.sendall(head[sent:sent + 1])
                    entry[1] = (sent + 1) % len(head)
                except OSError:
                    s.close()
                    entry[0] = None
            held = [e for e in held if e[0] is not None]
            time.sleep(0.3)
        for s, _ in held:
            s.close()

    def wrong_tokens(self):
        """Heads with a wrong token, a WebSocket upgrade without one, as fast as refused."""
        while not self.stop.is_set():
            try:
                with self.connect() as s:
                    s.sendall((f"GET /?token=guess HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
                    s.recv(4096)
            except OSError:
                pass
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def test_a_real_client_is_served_through_a_connection_flood(guarded_server):
    port = guarded_server
    url = f"ws://127.0.0.1:{port}/?token={quote(TOKEN, safe='')}"
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=TOKEN,
                           max_retries=0)
    heard = []

    async def speak(n):
        # A new connection for each phrase: connecting must work under the flood too.
        async with websockets.connect(url, open_timeout=10) as ws:
            await ws.send(json.dumps({"id": n, "request": "Speak", "wait": True,
                                      "message": f"Phrase number {n} is heard to its end."}))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if reply.get("id") == n:
                    return reply

    with Attack(port) as attack:
        time.sleep(1.0)  # the flood is in full swing before the client comes
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < ATTACK_SECONDS - 3:
            n += 1
            reply = asyncio.run(speak(str(n)))
            assert reply["status"] == "ok", reply
            assert reply["result"]["duration"] > 500, reply
            heard.append(reply["result"]["duration"])
            audio = client.audio.speech.create(model="tts-1", voice="alloy",
                                               input=f"Rendered while flooded, {n}.")
            assert audio.content[:4] == b"RIFF"
        opened = attack.opened
    print(f"{len(heard)} phrases heard and rendered while {opened} connections were opened")
    assert len(heard) >= 3, heard
    assert opened > 200, f"the attack opened only {opened} connections"

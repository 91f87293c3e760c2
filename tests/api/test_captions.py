"""The caption page in a real browser: headless Chromium (Debian's `chromium`) loads
`/captions` from `orator serve`, a phrase is spoken through the server's WebSocket, and the
page's DOM shows the word heard at two moments, as the server's own `Word` events say, in the
style its query asks for; it clears after the phrase. A screenshot is kept as an artifact
(`target/test-artifacts/captions.png`)."""

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from test_clients import CLI, RESOURCES, ROOT, free_port

ARTIFACTS = Path(os.environ.get("ORATOR_ARTIFACTS", ROOT / "target" / "test-artifacts"))
PHRASE = "Thanks for the follow, and welcome to the stream. Enjoy the music tonight."


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is not installed (Debian package `chromium`)")


@pytest.fixture
def serve(tmp_path):
    port, udp = free_port(), free_port()
    proc = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--udp-port", str(udp),
         "--resources", str(RESOURCES)],
        stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "listening" in line, line
    yield port
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def browser(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--remote-debugging-port={port}",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,300", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    page = None
    while page is None:
        assert time.monotonic() < deadline, "Chromium did not open its debugging port"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
                page = pages[0]["webSocketDebuggerUrl"] if pages else None
        except OSError:
            time.sleep(0.2)
    yield page
    proc.terminate()
    proc.wait(timeout=20)


class Page:
    """The DevTools protocol over a WebSocket, one command at a time."""

    def __init__(self, ws):
        self.ws, self.next = ws, 0

    async def call(self, method, **params):
        self.next += 1
        await self.ws.send(json.dumps({"id": self.next, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if msg.get("id") == self.next:
                assert "error" not in msg, msg
                return msg["result"]

    async def eval(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


LIT = """(() => {
  const now = document.querySelector('#text .now');
  return now ? {text: now.textContent, index: Number(now.dataset.index),
                colour: getComputedStyle(now).color,
                shown: document.getElementById('text').textContent} : null;
})()"""


async def run(server_port, page_url):
    async with websockets.connect(page_url, max_size=None) as devtools:
        page = Page(devtools)
        await page.call("Page.enable")
        url = (f"http://127.0.0.1:{server_port}/captions"
               "?highlight=ff2000&size=44&lines=2&hold=300&font=serif")
        await page.call("Page.navigate", url=url)
        deadline = time.monotonic() + 20
        while await page.eval("document.body && document.body.dataset.connected") != "1":
            assert time.monotonic() < deadline, "the page did not connect to the server"
            await asyncio.sleep(0.05)

        async with websockets.connect(f"ws://127.0.0.1:{server_port}/") as api:
            await api.send(json.dumps({"id": "s", "request": "Subscribe",
                                       "events": {"TextToSpeech": ["Word", "Finished"]}}))
            await api.send(json.dumps({"id": "p", "request": "Speak", "message": PHRASE}))
            words, seen, finished = [], [], False
            while not finished:
                msg = json.loads(await asyncio.wait_for(api.recv(), 30))
                kind = msg.get("event", {}).get("type")
                if kind == "Word":
                    word = msg["data"]["word"]
                    words.append(word)
                    # Two moments: while the 3rd and the 9th words are heard.
                    if word["index"] in (2, 8):
                        # The page has the same event at the same moment; it may take a few
                        # milliseconds more to draw it than this client takes to ask.
                        asked = time.monotonic()
                        lit = await page.eval(LIT)
                        while (lit is None or lit["index"] < word["index"]) and \
                                time.monotonic() - asked < 0.2:
                            await asyncio.sleep(0.01)
                            lit = await page.eval(LIT)
                        seen.append((word, lit))
                        if word["index"] == 8:
                            shot = await page.call("Page.captureScreenshot", format="png")
                            ARTIFACTS.mkdir(parents=True, exist_ok=True)
                            (ARTIFACTS / "captions.png").write_bytes(
                                base64.b64decode(shot["data"]))
                elif kind == "Finished":
                    finished = True
            await asyncio.sleep(0.6)  # the page's hold (300 ms) and then some
            cleared = await page.eval("document.getElementById('text').textContent")
            return words, seen, cleared


def test_the_caption_page_lights_the_word_heard_in_a_real_browser(serve, browser):
    words, seen, cleared = asyncio.run(run(serve, browser))
    texts = [w["text"] for w in words]
    assert texts == ["Thanks", "for", "the", "follow", "and", "welcome", "to", "the", "stream",
                     "Enjoy", "the", "music", "tonight"], texts
    # Times from the phrase's start, in order, each word after the last.
    for a, b in zip(words, words[1:]):
        assert a["start"] < a["end"] <= b["start"], (a, b)
    assert len(seen) == 2
    for event, lit in seen:
        assert lit is not None, f"nothing lit while {event['text']!r} was heard"
        # The page shows the word the event named, or the next if it began in between.
        assert lit["index"] in (event["index"], event["index"] + 1), (event, lit)
        assert lit["text"] == texts[lit["index"]], lit
        assert lit["colour"] == "rgb(255, 32, 0)", lit
        assert lit["shown"] == PHRASE, lit
    assert (ARTIFACTS / "captions.png").stat().st_size > 1000
    assert cleared == "", f"the caption stayed after the phrase: {cleared!r}"

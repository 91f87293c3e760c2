"""The Speaker.bot WebSocket request the Python tests share: send a request, return its reply,
skipping the events that come first."""

import asyncio
import json


async def ask(ws, body, timeout=60):
    """Sends `body` (with its `id`) on `ws` and returns the reply with the same `id`."""
    await ws.send(json.dumps(body))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("id") == body["id"]:
            return msg

"""The WebSocket stream: every event pushed as JSON to an authenticated client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from tradeguard.api.deps import API, authenticate, client_of
from tradeguard.api.gate import bearer_token
from tradeguard.api.params import MAX_VALUE_CHARS
from tradeguard.api.serialisers import event_json
from tradeguard.api.state import ApiState
from tradeguard.secrets.redact import redact

WS_AUTH_TIMEOUT_S = 5.0
STREAM_QUEUE = 2_000  # events a client may be behind before it is closed with 4008
LAGGED = 4008

router = APIRouter()


def token_of(frame: str | None) -> str | None:
    """Return the token of a first frame `{"token": "..."}`; None for any other shape."""
    if frame is None:
        return None  # a binary frame
    try:
        doc = json.loads(frame)
    except ValueError:
        return None
    token = doc.get("token") if isinstance(doc, dict) else None
    return token if isinstance(token, str) else None


@router.websocket(f"{API}/stream")
async def stream(
    ws: WebSocket,
    # declared, so the app-wide parameter check refuses it twice, with a NUL or over-long,
    # before the socket is accepted
    token: Annotated[str | None, Query(max_length=MAX_VALUE_CHARS)] = None,
) -> None:
    """Push every event as JSON; authenticate with ?token=, the `Authorization: Bearer` header
    the HTTP routes take, or a first {"token": ...}."""
    api: ApiState = ws.app.state.api
    node = api.node
    await ws.accept()
    client = client_of(ws)
    reason = None
    try:
        token = token or bearer_token(ws.scope)  # 400: the header given twice, differently
        if not token:
            first = await asyncio.wait_for(ws.receive(), WS_AUTH_TIMEOUT_S)
            if first["type"] == "websocket.disconnect":
                return
            token = token_of(first.get("text"))
            reason = "malformed first frame" if token is None else None
        info = authenticate(api, token, client, "stream", reason)
    except (HTTPException, TimeoutError) as exc:
        why = exc.detail if isinstance(exc, HTTPException) else "authentication timed out"
        with contextlib.suppress(Exception):
            await ws.close(code=4401, reason=str(why)[:120])
        return
    if info.bot is not None:  # every event of the account: not for a token bound to one bot
        with contextlib.suppress(Exception):
            await ws.close(code=4403, reason=f"token bound to bot {info.bot!r}"[:120])
        return
    queue = node.bus.queue(STREAM_QUEUE)
    await ws.send_text(json.dumps({"type": "hello", "token_id": info.id, "role": info.role.label}))
    closed = asyncio.Event()

    async def watch() -> None:
        with contextlib.suppress(Exception):
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
        closed.set()

    watcher = asyncio.create_task(watch())
    try:
        while not closed.is_set():
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(closed.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            stopper.cancel()
            if queue.dropped:  # the event got comes after a hole: end here, and say so
                node.bus.release(queue)
                why = f"fell behind: {queue.dropped} event(s) dropped; reconnect and read the state"
                with contextlib.suppress(Exception):
                    await ws.close(code=LAGGED, reason=why[:120])
                break
            await ws.send_text(redact(json.dumps(event_json(getter.result()), default=str)))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        node.bus.release(queue)
        watcher.cancel()

"""The writer task behind a queued sandbox websocket: what the Binance and Kraken sockets share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Protocol

from aiohttp import web

from tradeguard.sandbox.faults import Faults


class QueuedSocket(Protocol):
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str | None]
    sent: int
    queued_bytes: int  # the text waiting in `queue`
    close_code: int


def start_task(tasks: set[asyncio.Task[None]], coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` as a task held in `tasks` until it ends."""
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def write_queue(conn: QueuedSocket, faults: Faults, conns: set[Any]) -> None:
    """Send `conn`'s queued texts until a None, a failed send or `faults.disconnect_ws_every_n`
    messages; then forget the connection and close its socket with `conn.close_code`."""
    try:
        while True:
            text = await conn.queue.get()
            if text is None:
                break
            conn.queued_bytes -= len(text)
            await conn.ws.send_str(text)
            conn.sent += 1
            every = faults.disconnect_ws_every_n
            if every and conn.sent >= every:
                break
    except (ConnectionError, RuntimeError):
        pass
    finally:
        conns.discard(conn)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=conn.close_code)


def no_json_constant(name: str) -> Any:
    """`parse_constant` for json.loads: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not JSON")

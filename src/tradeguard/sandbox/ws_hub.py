"""WebSocket subscriptions of the local prediction-market servers: who hears what."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Payload = Callable[[int], dict[str, Any]]  # subscription id -> message


@dataclass(slots=True)
class WsConn:
    ws: web.WebSocketResponse
    account: str
    subs: dict[int, tuple[str, set[str]]] = field(default_factory=dict)  # sid -> channel, keys


class WsHub:
    """Connections and their subscriptions; sends never block the matching path."""

    def __init__(self) -> None:
        self.conns: list[WsConn] = []
        self._sid = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, conn: WsConn, channel: str, keys: set[str]) -> int:
        sid = next(self._sid)
        conn.subs[sid] = (channel, keys)
        return sid

    def send(self, conn: WsConn, payload: dict[str, Any]) -> None:
        if conn.ws.closed:
            return
        task = asyncio.get_running_loop().create_task(conn.ws.send_json(payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def publish(self, channel: str, key: str, payload: Payload, account: str = "") -> None:
        """Send to every subscription of `channel` covering `key` (only `account`'s when given)."""
        for conn in self.conns:
            if account and conn.account != account:
                continue
            for sid, (ch, keys) in conn.subs.items():
                if ch == channel and (not keys or key in keys):
                    self.send(conn, payload(sid))

    async def close(self) -> None:
        await self.drop_all()

    async def drop_all(self) -> int:
        """Close every websocket now (the venue's side going away); return how many were open."""
        conns = list(self.conns)
        for conn in conns:
            await conn.ws.close()
        return len(conns)


def refuse_if_down(refuse_ws: bool) -> None:
    """Refuse a new websocket with 503 while the fault `refuse_ws` is on (REST still answers)."""
    if refuse_ws:
        raise web.HTTPServiceUnavailable(text="websockets are down (fault refuse_ws)")

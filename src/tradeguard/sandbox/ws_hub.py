"""WebSocket subscriptions of the local prediction-market servers: who hears what.

Bounds: a connection holds at most `MAX_SUBSCRIPTIONS`, naming at most `MAX_KEYS` keys (asset
ids, tickers) in all; one with `MAX_PENDING` messages not yet
sent (a client that stopped reading) is cut, what it had pending let go; past `MAX_CONNECTIONS`
open sockets a new one is refused (HTTP 429).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Payload = Callable[[int], dict[str, Any]]  # subscription id -> message
MAX_SUBSCRIPTIONS = 256
MAX_KEYS = 10_000  # asset ids or tickers one connection's subscriptions name in all
MAX_KEY_CHARS = 128  # one asset id or ticker (a Polymarket token id has 77 digits)
MAX_PENDING = 10_000
MAX_CONNECTIONS = 256


@dataclass(slots=True)
class WsConn:
    ws: web.WebSocketResponse
    account: str
    subs: dict[int, tuple[str, set[str]]] = field(default_factory=dict)  # sid -> channel, keys
    transport: asyncio.Transport | None = None  # cut when the client stops reading
    pending: int = 0  # messages handed to the socket, not yet sent


class WsHub:
    """Connections and their subscriptions; sends never block the matching path."""

    def __init__(self) -> None:
        self.conns: list[WsConn] = []
        self.unbound = 0  # sockets open that have not said who they are yet (counted too)
        self._sid = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, conn: WsConn, channel: str, keys: set[str]) -> int | None:
        """The new subscription's id, or None when `conn` holds MAX_SUBSCRIPTIONS already or
        `keys` would take it past MAX_KEYS."""
        if subscribe_refusal(conn, keys, "key"):
            return None
        sid = next(self._sid)
        conn.subs[sid] = (channel, keys)
        return sid

    def widen(self, conn: WsConn, channel: str, keys: set[str]) -> bool:
        """Add `keys` to the connection's one subscription of `channel` (made if none): a
        subscription sent again widens it rather than doubling what the client hears. False
        (nothing changed) when that would take the connection past MAX_KEYS or a key is
        longer than MAX_KEY_CHARS."""
        for ch, held in conn.subs.values():
            if ch == channel:
                if held and keys:
                    if refusal(conn, keys, held, "key"):
                        return False
                    held.update(keys)
                else:  # no keys: every key of the channel
                    held.clear()
                return True
        return self.subscribe(conn, channel, set(keys)) is not None

    def send(self, conn: WsConn, payload: dict[str, Any]) -> None:
        if conn.ws.closed:
            return
        if conn.pending >= MAX_PENDING:
            if conn.transport is not None:
                conn.transport.abort()  # its pending sends fail and are let go
            return
        conn.pending += 1
        task = asyncio.get_running_loop().create_task(conn.ws.send_json(payload))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._sent, conn))

    def _sent(self, conn: WsConn, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        conn.pending -= 1
        if not task.cancelled():
            task.exception()  # a send to a socket gone: nothing to report

    def publish(self, channel: str, key: str, payload: Payload, account: str = "") -> None:
        """Send to every subscription of `channel` covering `key` (only `account`'s when given)."""
        for conn in self.conns:
            if account and conn.account != account:
                continue
            for sid, (ch, keys) in conn.subs.items():
                if ch == channel and (not keys or key in keys):
                    self.send(conn, payload(sid))

    def refuse_if_full(self) -> None:
        """Refuse a new websocket with 429 while MAX_CONNECTIONS are open."""
        open_now = len(self.conns) + self.unbound
        if open_now >= MAX_CONNECTIONS:
            raise web.HTTPTooManyRequests(
                text=f"too many websockets: {open_now} open, at most {MAX_CONNECTIONS}"
            )

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


def refusal(conn: WsConn, keys: set[str], held: set[str], noun: str) -> str:
    """Why `keys` (a `noun` each) cannot be added to `conn` beside the `held` ones, or ""."""
    if any(len(k) > MAX_KEY_CHARS for k in keys):
        return f"an {noun} has at most {MAX_KEY_CHARS} characters"
    if sum(len(ks) for _, ks in conn.subs.values()) + len(keys - held) > MAX_KEYS:
        return f"at most {MAX_KEYS} {noun}s a socket; this one named {len(keys - held)} more"
    return ""


def subscribe_refusal(conn: WsConn, keys: set[str], noun: str) -> str:
    """Why a new subscription to `keys` (a `noun` each) is refused on `conn`, or ""."""
    if len(conn.subs) >= MAX_SUBSCRIPTIONS:
        return f"at most {MAX_SUBSCRIPTIONS} subscriptions a socket"
    return refusal(conn, keys, set(), noun)

"""What Kraken's public and private websockets v2 share: connections, their writers and caps.

Each connection hears `status` first and answers `ping` with `pong`; every other request goes
to the endpoint's `request`. Errors take Kraken's shape
`{"error": ..., "method": ..., "req_id": ..., "success": false, "time_in": ..., "time_out": ...}`.

Bounds: a frame over `MAX_FRAME_BYTES` closes the socket (1009), more than `MAX_REQUESTS` requests
in `RATE_WINDOW_S` are refused, `MAX_REFUSALS` refusals or a backlog of `MAX_BACKLOG` unsent
messages or `MAX_BACKLOG_BYTES` of them (a reader that stopped reading) close it (1008); past
`MAX_CONNECTIONS` open sockets a new one is refused (HTTP 429), and a socket without a
subscription that sends no whole request for `IDLE_S` (silent, or a frame begun and never
finished) is closed (1008). A socket cut off for its backlog lets go of it, and one not closed
`CLOSE_TIMEOUT_S` after it was dropped (a peer that reads nothing) is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from tradeguard.sandbox.kraken import ws_feed as feed
from tradeguard.sandbox.ws_writer import no_json_constant, start_task, write_queue

if TYPE_CHECKING:
    from tradeguard.sandbox.kraken.server import KrakenSandbox

MAX_FRAME_BYTES = 16_384
MAX_REQUESTS = 100
RATE_WINDOW_S = 10.0
MAX_REFUSALS = 50
MAX_BACKLOG = 10_000
MAX_BACKLOG_BYTES = 4 * 1024 * 1024  # ~60 snapshots of a 1,000-level book
MAX_CONNECTIONS = 256  # each may hold MAX_BACKLOG_BYTES
HEARTBEAT_S = 1.0
IDLE_S = 30.0
CLOSE_TIMEOUT_S = 5.0  # a dropped socket still not closed by then is aborted


class Refused(Exception):
    """A request answered with Kraken's error shape."""

    def __init__(self, message: str, symbol: str | None = None) -> None:
        super().__init__(message)
        self.symbol = symbol


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    conn_id: int
    subs: dict[Any, Any] = field(default_factory=dict)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    window: list[float] = field(default_factory=lambda: [0.0, 0])  # window start, requests
    refusals: int = 0
    last_request: float = field(default_factory=time.monotonic)
    sent: int = 0
    queued_bytes: int = 0  # the text waiting in `queue`
    close_code: int = WSCloseCode.OK
    transport: asyncio.Transport | None = None
    account: str | None = None  # private socket: the account its token named
    sequence: int = 0  # private socket: the number of its last channel message


class WsEndpoint:
    """The open connections of one websocket endpoint, each with its writer and its caps."""

    def __init__(self, ex: KrakenSandbox) -> None:
        self.ex = ex
        self.conns: set[Conn] = set()
        self._ids = itertools.count(1)
        self._writers: set[asyncio.Task[None]] = set()
        self.heartbeat_s = HEARTBEAT_S
        self.idle_s = IDLE_S

    # -- connections ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.ex.faults.refuse_ws:
            raise web.HTTPServiceUnavailable(text="websockets are down (fault refuse_ws)")
        if len(self.conns) >= MAX_CONNECTIONS:
            raise web.HTTPTooManyRequests(
                text=f"too many websockets: {len(self.conns)} open, at most {MAX_CONNECTIONS}"
            )
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True)
        await ws.prepare(request)
        conn = Conn(ws=ws, conn_id=next(self._ids), transport=request.transport)
        self.conns.add(conn)
        start_task(self._writers, write_queue(conn, self.ex.faults, self.conns))
        status = {"api_version": "v2", "connection_id": conn.conn_id, "system": "online",
                  "version": "2.0.0"}  # fmt: skip
        self.send(conn, {"channel": "status", "type": "update", "data": [status]})
        try:
            async for msg in ws:
                conn.last_request = time.monotonic()
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._refuse(conn, None, None, "Malformed request", self.now_iso())
        finally:
            self._drop(conn)
        return ws

    def _drop(self, conn: Conn, code: int = WSCloseCode.OK) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            conn.subs.clear()
            conn.close_code = code
            conn.queue.put_nowait(None)  # the writer closes the socket with `code`
            # A peer that reads nothing keeps the writer waiting to send: cut the socket.
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT_S, _abort, conn)

    def drop_all(self) -> int:
        """Drop every connection now (the venue's side going away); return how many were open."""
        conns = list(self.conns)
        for conn in conns:
            self._drop(conn, WSCloseCode.GOING_AWAY)
        return len(conns)

    async def close_all(self) -> None:
        for conn in list(self.conns):
            self._drop(conn)
            with contextlib.suppress(Exception):
                await conn.ws.close()
        for task in list(self._writers):
            task.cancel()

    def send(self, conn: Conn, message: dict[str, Any]) -> None:
        """Queue one message; a reader whose backlog would pass `MAX_BACKLOG` messages or
        `MAX_BACKLOG_BYTES` is disconnected."""
        if conn not in self.conns:
            return
        text = json.dumps(message)
        if conn.queue.qsize() >= MAX_BACKLOG or conn.queued_bytes + len(text) > MAX_BACKLOG_BYTES:
            while not conn.queue.empty():  # what it did not read is let go
                conn.queue.get_nowait()
            conn.queued_bytes = 0
            self._drop(conn, WSCloseCode.POLICY_VIOLATION)
            return
        conn.queued_bytes += len(text)
        conn.queue.put_nowait(text)

    async def heartbeats(self) -> None:
        """Send `heartbeat` to every connection with a subscription, every `heartbeat_s`; close
        one without a subscription and without a request for `idle_s`."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            idle_since = time.monotonic() - self.idle_s
            for conn in list(self.conns):
                if conn.subs:
                    self.send(conn, {"channel": "heartbeat"})
                elif conn.last_request < idle_since:
                    self._drop(conn, WSCloseCode.POLICY_VIOLATION)

    # -- requests ------------------------------------------------------------------------

    def now_iso(self) -> str:
        return feed.iso(self.ex.now_ms())

    def _on_text(self, conn: Conn, text: str) -> None:
        time_in = self.now_iso()
        if not self._within_rate(conn):
            self._refuse(conn, None, None, "Exceeded msg rate", time_in)
            return
        try:
            req = json.loads(text, parse_constant=no_json_constant)
        except (ValueError, RecursionError):
            self._refuse(conn, None, None, "Malformed request", time_in)
            return
        if not isinstance(req, dict):
            self._refuse(conn, None, None, "Malformed request", time_in)
            return
        method, req_id = req.get("method"), req.get("req_id")
        if req_id is not None and not (type(req_id) is int and 0 <= req_id < 2**63):
            self._refuse(conn, None, None, "Malformed request: req_id must be an integer", time_in)
            return
        if method not in ("ping", "subscribe", "unsubscribe"):
            shown = method if isinstance(method, str) and len(method) <= 32 else None
            self._refuse(conn, shown, req_id, "Method not found", time_in)
            return
        if method == "ping":
            self.send(conn, {"method": "pong", "req_id": req_id, "time_in": time_in,
                             "time_out": self.now_iso()})  # fmt: skip
            return
        try:
            self.request(conn, method, req_id, req.get("params"), time_in)
        except Refused as exc:
            self._refuse(conn, method, req_id, str(exc), time_in, exc.symbol)

    def request(
        self, conn: Conn, method: str, req_id: int | None, params: Any, time_in: str
    ) -> None:
        """Answer `subscribe` / `unsubscribe`; raise Refused to answer with an error."""
        raise NotImplementedError

    def acknowledge(
        self, conn: Conn, method: str, req_id: int | None, result: dict[str, Any], time_in: str
    ) -> None:
        self.send(conn, {"method": method, "req_id": req_id, "result": result, "success": True,
                         "time_in": time_in, "time_out": self.now_iso()})  # fmt: skip

    def _within_rate(self, conn: Conn) -> bool:
        now = time.monotonic()
        if now - conn.window[0] >= RATE_WINDOW_S:
            conn.window[0], conn.window[1] = now, 0
        conn.window[1] += 1
        return conn.window[1] <= MAX_REQUESTS

    def _refuse(
        self, conn: Conn, method: str | None, req_id: int | None, why: str, time_in: str,
        symbol: str | None = None,
    ) -> None:  # fmt: skip
        answer: dict[str, Any] = {"error": why, "success": False}
        if method is not None:
            answer["method"] = method
        if req_id is not None:
            answer["req_id"] = req_id
        if symbol is not None:
            answer["symbol"] = symbol
        answer.update({"time_in": time_in, "time_out": self.now_iso()})
        self.send(conn, answer)
        conn.refusals += 1
        if conn.refusals >= MAX_REFUSALS:
            self._drop(conn, WSCloseCode.POLICY_VIOLATION)


def _abort(conn: Conn) -> None:
    if conn.transport is not None and not conn.transport.is_closing():
        conn.transport.abort()

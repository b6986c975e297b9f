"""Websocket connections: market streams (raw and combined), listen-key user streams, fan-out.

Bounds: a frame over `MAX_FRAME_BYTES` closes the socket (1009); a socket whose unsent backlog
passes `MAX_BACKLOG` messages or `MAX_BACKLOG_BYTES` (a client that stopped reading, or sends
requests without reading the answers) is cut, its backlog let go; past `MAX_CONNECTIONS`
open sockets a new one is refused (HTTP 429).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.ws_writer import no_json_constant, start_task, write_queue

KLINE_INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
    "1d", "3d", "1w", "1M",
)  # fmt: skip
_KINDS = frozenset(
    {"trade", "aggtrade", "bookticker", "depth", "depth@100ms", "depth@1000ms", "ticker",
     "miniticker"}
)  # fmt: skip
_NAME_RE = re.compile(r"^([a-z0-9]{2,30})@(.+)$")
MAX_FRAME_BYTES = 65_536  # a SUBSCRIBE of ~2,000 stream names
MAX_BACKLOG = 10_000
MAX_BACKLOG_BYTES = 4 * 1024 * 1024
MAX_CONNECTIONS = 256  # each may hold MAX_BACKLOG_BYTES


def stream_name(raw: str, symbols: Callable[[str], bool]) -> str | None:
    """The canonical name of a market stream (`btcusdt@kline_1m`), or None if unsupported.

    The symbol and kind are lower-cased as Binance does; a kline interval keeps its case
    (`1m` is a minute, `1M` a month).
    """
    m = _NAME_RE.match(raw.strip().lower())
    if m is None or not symbols(m.group(1).upper()):
        return None
    kind = m.group(2)
    if kind.startswith("kline_"):
        interval = raw.strip().split("@", 1)[1][len("kline_") :]
        return f"{m.group(1)}@kline_{interval}" if interval in KLINE_INTERVALS else None
    return f"{m.group(1)}@{kind}" if kind in _KINDS else None


@dataclass(eq=False)
class WsConn:
    """One websocket: its mode, market streams, user stream and outgoing queue."""

    ws: web.WebSocketResponse
    mode: str  # "raw", "combined" or "wsapi"
    streams: set[str] = field(default_factory=set)
    account_id: str | None = None  # raw listen-key user stream
    subs: dict[int, str] = field(default_factory=dict)  # ws-api subscription id -> account
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    sent: int = 0
    queued_bytes: int = 0  # the text waiting in `queue`
    transport: asyncio.Transport | None = None
    close_code: int = WSCloseCode.OK


class StreamHub:
    """Every open websocket and the routing of events to them."""

    def __init__(self, faults: Faults, symbols: Callable[[str], bool]) -> None:
        self.faults = faults
        self.conns: set[WsConn] = set()
        self._symbols = symbols
        self._writers: set[asyncio.Task[None]] = set()

    async def open(self, request: web.Request, mode: str) -> WsConn:
        """Accept a websocket and start its writer (refused while `faults.refuse_ws`)."""
        if self.faults.refuse_ws:
            raise web.HTTPServiceUnavailable(text="websockets are down (fault refuse_ws)")
        if len(self.conns) >= MAX_CONNECTIONS:
            raise web.HTTPTooManyRequests(
                text=f"too many websockets: {len(self.conns)} open, at most {MAX_CONNECTIONS}"
            )
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        conn = WsConn(ws=ws, mode=mode, transport=request.transport)
        self.conns.add(conn)
        start_task(self._writers, write_queue(conn, self.faults, self.conns))
        return conn

    async def close_all(self) -> None:
        """Close every websocket and stop the writers."""
        for conn in list(self.conns):
            await conn.ws.close()
        for task in list(self._writers):
            task.cancel()

    def drop_all(self) -> int:
        """Drop every connection now; return how many were open."""
        n = len(self.conns)
        for conn in list(self.conns):
            conn.queue.put_nowait(None)
        return n

    def send(self, conn: WsConn, payload: Any) -> None:
        """Queue one JSON message (twice under the duplicate-messages fault)."""
        text = json.dumps(payload)
        for _ in range(2 if self.faults.duplicate_ws_messages else 1):
            if conn not in self.conns:
                return  # cut: nothing more is kept for it
            if (
                conn.queue.qsize() >= MAX_BACKLOG
                or conn.queued_bytes + len(text) > MAX_BACKLOG_BYTES
            ):
                self._cut(conn)
                return
            conn.queue.put_nowait(text)
            conn.queued_bytes += len(text)

    def _cut(self, conn: WsConn) -> None:
        """Drop a socket whose client does not read: its backlog let go, the socket aborted
        (a close frame would only wait behind what it does not read)."""
        self.conns.discard(conn)
        while not conn.queue.empty():
            conn.queue.get_nowait()
        conn.queued_bytes = 0
        conn.queue.put_nowait(None)
        if conn.transport is not None:
            conn.transport.abort()

    def names(self, raw: list[str]) -> tuple[list[str], str | None]:
        """Canonical stream names, and the first unsupported one (None if all are valid)."""
        out: list[str] = []
        for r in raw:
            name = stream_name(r, self._symbols)
            if name is None:
                return out, r
            out.append(name)
        return out, None

    async def read_loop(
        self, conn: WsConn, on_wsapi: Callable[[WsConn, dict[str, Any]], None]
    ) -> None:
        """Answer requests on a connection until it closes."""
        try:
            async for msg in conn.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = json.loads(msg.data, parse_constant=no_json_constant)
                except (ValueError, RecursionError):  # RecursionError: deep nesting
                    self.send(conn, {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
                    continue
                if not isinstance(req, dict):  # a list or a bare value: answer, keep the socket
                    why = "Invalid request: expected a JSON object"
                    self.send(conn, {"error": {"code": 3, "msg": why}, "id": None})
                    continue
                if not _request_id_ok(req.get("id")):  # echoed back, so it must be JSON again
                    self.send(conn, _bad_id_answer(conn.mode))
                    continue
                if conn.mode == "wsapi":
                    on_wsapi(conn, req)
                else:
                    self.stream_request(conn, req)
        finally:
            self.conns.discard(conn)
            conn.queue.put_nowait(None)

    def stream_request(self, conn: WsConn, req: dict[str, Any]) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS on a market stream connection."""
        method = req.get("method")
        rid = req.get("id")
        raw = req.get("params") or []
        if not isinstance(raw, list):
            msg = "Invalid request: params must be a list of stream names"
            self.send(conn, {"error": {"code": 2, "msg": msg}, "id": rid})
            return
        params = [str(p) for p in raw]
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names, bad = self.names(params)
            if bad is not None:
                msg = f"Invalid request: unknown stream '{bad}'"
                self.send(conn, {"error": {"code": 2, "msg": msg}, "id": rid})
                return
            if method == "SUBSCRIBE":
                conn.streams.update(names)
            else:
                conn.streams.difference_update(names)
            self.send(conn, {"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            self.send(conn, {"result": sorted(conn.streams), "id": rid})
        else:
            msg = f"Invalid request: unknown method {method!r}"
            self.send(conn, {"error": {"code": 2, "msg": msg}, "id": rid})

    def to_account(self, account_id: str, event: dict[str, Any]) -> None:
        """Send a user data event to every stream of that account."""
        for conn in list(self.conns):
            if conn.account_id == account_id:
                self.send(conn, event)
            for sub_id, acc in conn.subs.items():
                if acc == account_id:
                    self.send(conn, {"subscriptionId": sub_id, "event": event})

    def to_stream(self, name: str, event: dict[str, Any]) -> None:
        """Send a market event to the subscribers of stream `name` (depth covers depth@100ms)."""
        is_depth = name.endswith("@depth")
        if self.faults.silent_streams and self.faults.silenced(name):
            return
        for conn in list(self.conns):
            for sub in conn.streams:
                if sub == name or (is_depth and sub.startswith(name + "@")):
                    if conn.mode == "combined":
                        self.send(conn, {"stream": sub, "data": event})
                    else:
                        self.send(conn, event)
                    break

    def wanted(self, prefix: str) -> set[str]:
        """Subscribed stream names starting with `prefix` (e.g. the klines of one symbol)."""
        return {s for conn in self.conns for s in conn.streams if s.startswith(prefix)}


def _request_id_ok(rid: object) -> bool:
    """Binance takes an unsigned integer, a string or null as a request id."""
    if rid is None or isinstance(rid, str):
        return True
    return type(rid) is int and 0 <= rid < 2**64


def _bad_id_answer(mode: str) -> dict[str, Any]:
    msg = "Invalid request: request ID must be an unsigned integer, a string or null"
    if mode == "wsapi":
        return {"id": None, "status": 400, "error": {"code": -1100, "msg": msg}}
    return {"error": {"code": 2, "msg": msg}, "id": None}

"""Kraken's public websocket API v2 (`<ws_url>`): ticker, book, trade and ohlc channels.

Each connection hears `status` first, then answers `ping` with `pong` and `subscribe` /
`unsubscribe` with one acknowledgement per symbol followed by a snapshot; every engine result
(`KrakenSandbox.publish`) sends the updates it implies; a connection with a subscription hears
a `heartbeat` every `HEARTBEAT_S`. Errors take Kraken's shape
`{"error": ..., "method": ..., "req_id": ..., "success": false, "time_in": ..., "time_out": ...}`.

Bounds: a frame over `MAX_FRAME_BYTES` closes the socket (1009), more than `MAX_REQUESTS` requests
in `RATE_WINDOW_S` are refused, `MAX_REFUSALS` refusals or a backlog of `MAX_BACKLOG` unsent
messages or `MAX_BACKLOG_BYTES` of them (a reader that stopped reading) close it (1008), and a
connection holds at most `MAX_SUBSCRIPTIONS` subscriptions; past `MAX_CONNECTIONS` open sockets a
new one is refused (HTTP 429), and a socket without a subscription that sends no whole request
for `IDLE_S` (silent, or a frame begun and never finished) is closed (1008). A socket cut off
for its backlog lets go of it, and one not closed `CLOSE_TIMEOUT_S` after it was dropped (a peer
that reads nothing) is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from tradeguard.sandbox.kraken import ws_feed as feed
from tradeguard.sandbox.orders import MarketSpec

if TYPE_CHECKING:
    from tradeguard.sandbox.kraken.server import KrakenSandbox
    from tradeguard.sandbox.matching import Result

MAX_FRAME_BYTES = 16_384
MAX_REQUESTS = 100
RATE_WINDOW_S = 10.0
MAX_REFUSALS = 50
MAX_BACKLOG = 10_000
MAX_BACKLOG_BYTES = 4 * 1024 * 1024  # ~60 snapshots of a 1,000-level book
MAX_SUBSCRIPTIONS = 200
MAX_CONNECTIONS = 256  # each may hold MAX_BACKLOG_BYTES
HEARTBEAT_S = 1.0
IDLE_S = 30.0
CLOSE_TIMEOUT_S = 5.0  # a dropped socket still not closed by then is aborted
_CHANNELS = ("ticker", "book", "trade", "ohlc")
_FIELDS = frozenset({"channel", "symbol", "depth", "interval", "snapshot", "event_trigger"})
_TRIGGERS = ("trades", "bbo")


class Refused(Exception):
    """A request answered with Kraken's error shape."""

    def __init__(self, message: str, symbol: str | None = None) -> None:
        super().__init__(message)
        self.symbol = symbol


@dataclass(slots=True)
class Options:
    """A subscription's channel and its options, as requested."""

    channel: str
    depth: int = 10
    interval: int = 0
    trigger: str = "trades"


@dataclass(eq=False)
class Sub:
    channel: str
    spec: MarketSpec
    depth: int = 10
    interval: int = 0
    trigger: str = "trades"
    asks: dict[Decimal, Decimal] = field(default_factory=dict)  # the book the reader holds
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    best: Any = None  # the best bid and ask last sent (ticker on bbo)


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    conn_id: int
    subs: dict[tuple[str, str, int], Sub] = field(default_factory=dict)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    window: list[float] = field(default_factory=lambda: [0.0, 0])  # window start, requests
    refusals: int = 0
    last_request: float = field(default_factory=time.monotonic)
    sent: int = 0
    queued_bytes: int = 0  # the text waiting in `queue`
    close_code: int = WSCloseCode.OK
    transport: asyncio.Transport | None = None


class KrakenWs:
    """The connections of the public websocket and what each is subscribed to."""

    def __init__(self, ex: KrakenSandbox) -> None:
        self.ex = ex
        self.conns: set[Conn] = set()
        self._ids = itertools.count(1)
        self._writers: set[asyncio.Task[None]] = set()
        self.heartbeat_s = HEARTBEAT_S
        self.idle_s = IDLE_S
        self._days: dict[str, feed.DayStats] = {}  # symbol -> its 24-hour figures
        self._bars: dict[tuple[str, int], feed.OhlcBars] = {}  # (symbol, interval) -> candles

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
        task = asyncio.get_running_loop().create_task(self._writer(conn))
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)
        status = {"api_version": "v2", "connection_id": conn.conn_id, "system": "online",
                  "version": "2.0.0"}  # fmt: skip
        self.send(conn, {"channel": "status", "type": "update", "data": [status]})
        try:
            async for msg in ws:
                conn.last_request = time.monotonic()
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._refuse(conn, None, None, "Malformed request", self._now_iso())
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

    async def _writer(self, conn: Conn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    break
                conn.queued_bytes -= len(text)
                await conn.ws.send_str(text)
                conn.sent += 1
                every = self.ex.faults.disconnect_ws_every_n
                if every and conn.sent >= every:
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.conns.discard(conn)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=conn.close_code)

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

    def _now_iso(self) -> str:
        return feed.iso(self.ex.now_ms())

    def _on_text(self, conn: Conn, text: str) -> None:
        time_in = self._now_iso()
        if not self._within_rate(conn):
            self._refuse(conn, None, None, "Exceeded msg rate", time_in)
            return
        try:
            req = json.loads(text, parse_constant=_no_constant)
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
                             "time_out": self._now_iso()})  # fmt: skip
            return
        try:
            self._subscription(conn, method, req_id, req.get("params"), time_in)
        except Refused as exc:
            self._refuse(conn, method, req_id, str(exc), time_in, exc.symbol)

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
        answer.update({"time_in": time_in, "time_out": self._now_iso()})
        self.send(conn, answer)
        conn.refusals += 1
        if conn.refusals >= MAX_REFUSALS:
            self._drop(conn, WSCloseCode.POLICY_VIOLATION)

    def _subscription(
        self, conn: Conn, method: str, req_id: int | None, params: Any, time_in: str
    ) -> None:
        if not isinstance(params, dict):
            raise Refused("Subscription field must be an object")
        unknown = sorted(k for k in params if k not in _FIELDS)
        if unknown:
            raise Refused(f"Subscription object unsupported field: {str(unknown[0])[:32]}")
        channel = params.get("channel")
        if channel not in _CHANNELS:
            raise Refused("Subscription name invalid")
        names = params.get("symbol")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise Refused("Pair field must be an array")
        if len(names) > MAX_SUBSCRIPTIONS:
            raise Refused(f"Subscription limit exceeded: at most {MAX_SUBSCRIPTIONS} symbols")
        template = _template(channel, params)
        snapshot = params.get("snapshot", True)
        if not isinstance(snapshot, bool):
            raise Refused("Malformed request: snapshot must be true or false")
        for name in names:
            spec = self._spec(name)
            key = (channel, spec.symbol, template.interval)
            if method == "subscribe":
                self._add(conn, key, template, spec, name)
            elif conn.subs.pop(key, None) is None:
                raise Refused("Subscription Not Found", name)
            result = {"channel": channel, "symbol": name, **_extras(template)}
            if method == "subscribe":
                result["snapshot"] = snapshot
            done = self._now_iso()
            self.send(conn, {"method": method, "req_id": req_id, "result": result,
                             "success": True, "time_in": time_in, "time_out": done})  # fmt: skip
            if method == "subscribe" and snapshot:
                self._snapshot(conn, conn.subs[key])

    def _spec(self, name: str) -> MarketSpec:
        for spec in self.ex.engine.markets.values():
            if feed.ws_symbol(spec) == name:
                return spec
        raise Refused(f"Currency pair not supported {name[:32]}", name[:32])

    def _add(
        self, conn: Conn, key: tuple[str, str, int], template: Options, spec: MarketSpec, name: str
    ) -> None:
        if key in conn.subs:
            raise Refused("Already subscribed", name)
        if len(conn.subs) >= MAX_SUBSCRIPTIONS:
            raise Refused(f"Subscription limit exceeded: at most {MAX_SUBSCRIPTIONS}", name)
        conn.subs[key] = Sub(
            template.channel, spec, template.depth, template.interval, template.trigger
        )

    # -- market data ---------------------------------------------------------------------

    def _snapshot(self, conn: Conn, sub: Sub) -> None:
        engine, spec, now = self.ex.engine, sub.spec, self.ex.now_ms()
        if sub.channel == "book":
            depth = engine.depth(spec.symbol, sub.depth)
            sub.asks, sub.bids = dict(depth["asks"]), dict(depth["bids"])
            msg = feed.book_message(
                spec, "snapshot", depth["asks"], depth["bids"], (depth["asks"], depth["bids"])
            )
        elif sub.channel == "ticker":
            sub.best = engine.best(spec.symbol)
            msg = _channel("ticker", "snapshot", [self._ticker(spec, now)])
        elif sub.channel == "trade":
            trades = (engine.trades.get(spec.symbol) or [])[-feed.TRADE_SNAPSHOT :]
            msg = _channel("trade", "snapshot", [feed.trade_row(spec, t) for t in trades])
        else:
            start = now - sub.interval * 60_000 * feed.OHLC_SNAPSHOT
            trades = engine.trades.get(spec.symbol) or []
            msg = _channel("ohlc", "snapshot", feed.ohlc_rows(spec, trades, sub.interval, start))
        if msg["data"]:  # ccxt reads the symbol from the first row: no rows, no snapshot
            self.send(conn, msg)

    def on_result(self, result: Result, symbols: set[str]) -> None:
        """Send the updates an engine result implies to every subscription it touches."""
        touched = set(symbols) | {t.symbol for t in result.trades}
        if not self.conns or not touched:
            return
        for conn in list(self.conns):
            for sub in list(conn.subs.values()):
                if sub.spec.symbol in touched:
                    trades = [t for t in result.trades if t.symbol == sub.spec.symbol]
                    self._update(conn, sub, trades)

    def _update(self, conn: Conn, sub: Sub, trades: list[Any]) -> None:
        engine, spec = self.ex.engine, sub.spec
        if sub.channel == "book":
            self._book_update(conn, sub)
        elif sub.channel == "ticker":
            best = engine.best(spec.symbol)
            moved = best != sub.best
            sub.best = best
            if (sub.trigger == "bbo" and moved) or (sub.trigger == "trades" and trades):
                row = self._ticker(spec, self.ex.now_ms())
                self.send(conn, _channel("ticker", "update", [row]))
        elif trades and sub.channel == "trade":
            self.send(conn, _channel("trade", "update", [feed.trade_row(spec, t) for t in trades]))
        elif trades:
            key = (spec.symbol, sub.interval)
            bars = self._bars.get(key) or self._bars.setdefault(key, feed.OhlcBars(sub.interval))
            rows = bars.update(spec, engine.trades.get(spec.symbol) or [], trades[0].time_ms)
            self.send(conn, _channel("ohlc", "update", rows))

    def _ticker(self, spec: MarketSpec, now_ms: int) -> dict[str, Any]:
        day = self._days.setdefault(spec.symbol, feed.DayStats())
        return feed.ticker_row(self.ex.engine, spec, now_ms, day)

    def _book_update(self, conn: Conn, sub: Sub) -> None:
        depth = self.ex.engine.depth(sub.spec.symbol, sub.depth)
        asks = feed.book_diff(sub.asks, depth["asks"])
        bids = feed.book_diff(sub.bids, depth["bids"])
        if not asks and not bids:
            return
        sub.asks, sub.bids = dict(depth["asks"]), dict(depth["bids"])
        msg = feed.book_message(sub.spec, "update", asks, bids, (depth["asks"], depth["bids"]))
        msg["data"][0]["timestamp"] = self._now_iso()
        self.send(conn, msg)

    def subscriptions(self) -> list[tuple[str, str]]:
        """Every (channel, symbol) subscribed on any connection, for tests and the admin view."""
        return sorted(
            (s.channel, feed.ws_symbol(s.spec)) for c in self.conns for s in c.subs.values()
        )


def _channel(name: str, kind: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channel": name, "type": kind, "data": data}


def _template(channel: str, params: dict[str, Any]) -> Options:
    """The channel's options, each checked."""
    sub = Options(channel)
    if channel == "book":
        depth = params.get("depth", 10)
        if type(depth) is not int or depth not in feed.BOOK_DEPTHS:
            raise Refused(f"Subscription depth not supported: pick one of {feed.BOOK_DEPTHS}")
        sub.depth = depth
    elif "depth" in params:
        raise Refused("Subscription object unsupported field: depth")
    if channel == "ohlc":
        interval = params.get("interval")
        if interval is None:
            raise Refused("Subscription ohlc requires interval")
        if type(interval) is not int or interval not in feed.OHLC_INTERVALS:
            raise Refused(
                f"Subscription ohlc interval not supported: pick one of {feed.OHLC_INTERVALS}"
            )
        sub.interval = interval
    elif "interval" in params:
        raise Refused("Subscription object unsupported field: interval")
    if channel == "ticker":
        trigger = params.get("event_trigger", "trades")
        if trigger not in _TRIGGERS:
            raise Refused("Subscription event_trigger not supported: pick trades or bbo")
        sub.trigger = trigger
    elif "event_trigger" in params:
        raise Refused("Subscription object unsupported field: event_trigger")
    return sub


def _extras(sub: Options) -> dict[str, Any]:
    if sub.channel == "book":
        return {"depth": sub.depth}
    if sub.channel == "ohlc":
        return {"interval": sub.interval}
    if sub.channel == "ticker":
        return {"event_trigger": sub.trigger}
    return {}


def _abort(conn: Conn) -> None:
    if conn.transport is not None and not conn.transport.is_closing():
        conn.transport.abort()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

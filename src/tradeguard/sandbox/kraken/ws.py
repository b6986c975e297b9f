"""Kraken's public websocket API v2 (`<ws_url>`): ticker, book, trade and ohlc channels.

Connections, their writers and caps are `ws_conn`'s (shared with the private socket). Each
`subscribe` / `unsubscribe` is answered with one acknowledgement per symbol followed by a
snapshot; every engine result (`KrakenSandbox.publish`) sends the updates it implies; a
connection with a subscription hears a `heartbeat` every `HEARTBEAT_S`. A connection holds at
most `MAX_SUBSCRIPTIONS` subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.sandbox.kraken import ws_feed as feed
from tradeguard.sandbox.kraken.ws_conn import (  # noqa: F401 (the caps, read here by tests)
    HEARTBEAT_S,
    IDLE_S,
    MAX_BACKLOG,
    MAX_BACKLOG_BYTES,
    MAX_CONNECTIONS,
    MAX_FRAME_BYTES,
    MAX_REFUSALS,
    MAX_REQUESTS,
    RATE_WINDOW_S,
    Conn,
    Refused,
    WsEndpoint,
)
from tradeguard.sandbox.orders import MarketSpec

if TYPE_CHECKING:
    from tradeguard.sandbox.kraken.server import KrakenSandbox
    from tradeguard.sandbox.matching import Result

MAX_SUBSCRIPTIONS = 200

_CHANNELS = ("ticker", "book", "trade", "ohlc")
_FIELDS = frozenset({"channel", "symbol", "depth", "interval", "snapshot", "event_trigger"})
_TRIGGERS = ("trades", "bbo")


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


class KrakenWs(WsEndpoint):
    """The connections of the public websocket and what each is subscribed to."""

    def __init__(self, ex: KrakenSandbox) -> None:
        super().__init__(ex)
        self._days: dict[str, feed.DayStats] = {}  # symbol -> its 24-hour figures
        self._bars: dict[tuple[str, int], feed.OhlcBars] = {}  # (symbol, interval) -> candles

    # -- requests ------------------------------------------------------------------------

    def request(
        self, conn: Conn, method: str, req_id: int | None, params: Any, time_in: str
    ) -> None:
        self._subscription(conn, method, req_id, params, time_in)

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
            self.acknowledge(conn, method, req_id, result, time_in)
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
        msg["data"][0]["timestamp"] = self.now_iso()
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

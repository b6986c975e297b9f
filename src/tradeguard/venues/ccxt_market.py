"""Public market data of a ccxt venue for the live hub: klines, books, trades, quotes.

Every REST call goes through the venue's own request path (rate limiter, error mapping);
streams use ccxt.pro's `watch_ohlcv`, `watch_order_book` (REST snapshot, then diffs with
update-id checks: a gap raises and the hub resubscribes, which takes a new snapshot),
`watch_trades` and the venue's quote stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.marketdata.events import BookSnapshot
from tradeguard.marketdata.live.subscriptions import timeframe_s
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.money import ZERO, dec
from tradeguard.venues.ccxt_trade_tap import TradeTap

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback
    from tradeguard.venues.ccxt_venue import CcxtVenue

_STREAMS = {
    "candles": "watchOHLCV",
    "book": "watchOrderBook",
    "trades": "watchTrades",
    "quotes": "watchBidsAsks",
}


def _d(value: Any) -> Decimal:
    return ZERO if value is None else dec(value)


def candle_from_row(symbol: str, row: Sequence[Any], interval_s: int) -> Candle:
    """Map one ccxt OHLCV row `[ts, open, high, low, close, volume]` to a Candle."""
    ts, o, h, low, c, v = row[:6]
    return Candle(symbol, int(ts), dec(o), dec(h), dec(low), dec(c), _d(v), interval_s)


def book_from_ccxt(symbol: str, book: Mapping[str, Any], depth: int) -> BookSnapshot:
    """Map a ccxt order book (best levels first) to a snapshot of its top `depth` levels."""
    bids = tuple((dec(p), dec(a)) for p, a, *_ in book["bids"][:depth])
    asks = tuple((dec(p), dec(a)) for p, a, *_ in book["asks"][:depth])
    return BookSnapshot(
        symbol, int(book.get("timestamp") or 0), int(book.get("nonce") or 0), bids, asks
    )


def trade_from_ccxt(raw: Mapping[str, Any]) -> TradeTick:
    """Map one ccxt public trade to a TradeTick (side is the aggressor's)."""
    return TradeTick(
        symbol=str(raw["symbol"]),
        ts=int(raw.get("timestamp") or 0),
        trade_id=str(raw.get("id") or ""),
        price=dec(raw["price"], "price"),
        amount=dec(raw["amount"], "amount"),
        side=str(raw.get("side") or ""),
    )


_CLOSED_KEPT = 64  # flagged open times remembered per (market, interval)


def _closed_klines(client: Any) -> dict[tuple[str, str], set[int]]:
    """Keep the open times of klines the venue flags closed (`x`), which ccxt's rows drop.

    ccxt hands a kline message to `handle_ohlcv`, which keeps only [t, o, h, l, c, v]; the
    wrapper notes the flag first. Installed once per client; a client without the handler
    (another venue) never flags, and its candles close when the next one starts.
    """
    kept: dict[tuple[str, str], set[int]] | None = getattr(client, "_tg_closed_klines", None)
    if kept is not None:
        return kept
    kept = {}
    client._tg_closed_klines = kept
    handle = getattr(client, "handle_ohlcv", None)
    if handle is None:
        return kept

    def noting(ws_client: Any, message: Any) -> Any:
        k = message.get("k") if isinstance(message, dict) else None
        if isinstance(k, dict) and k.get("x") is True and k.get("s") and k.get("i"):
            opened = kept.setdefault((str(k["s"]), str(k["i"])), set())
            opened.add(int(k["t"]))
            if len(opened) > _CLOSED_KEPT:
                opened.discard(min(opened))
        return handle(ws_client, message)

    client.handle_ohlcv = noting
    return kept


class CcxtMarketData:
    """The `MarketSource` of one `CcxtVenue` (sharing its client and rate limiter)."""

    def __init__(self, venue: CcxtVenue) -> None:
        self.venue = venue
        self.name = venue.name
        self.client = venue.client
        self._seen_trades: dict[str, Any] = {}
        self._closed = _closed_klines(self.client)
        self._tap = TradeTap.of(self.client)

    def closed_flag(self, symbol: str, timeframe: str, ts: int) -> bool:
        """Whether the venue's kline stream flagged the candle opened at `ts` as closed."""
        try:
            market_id = self.client.market_id(symbol)
        except Exception:
            return False
        return ts in self._closed.get((market_id, timeframe), ())

    def streams(self) -> set[str]:
        has = self.client.has
        out = {kind for kind, feature in _STREAMS.items() if has.get(feature)}
        if has.get("watchTicker"):
            out.add("quotes")
        return out

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        rows = await self.venue._call(
            "fetch_ohlcv", self.client.fetch_ohlcv, symbol, timeframe, since_ms, limit
        )
        interval = timeframe_s(timeframe)
        return [candle_from_row(symbol, r, interval) for r in rows]

    async def watch_candles(self, symbol: str, timeframe: str) -> list[Candle]:
        rows = await self.client.watch_ohlcv(symbol, timeframe)
        interval = timeframe_s(timeframe)
        return [candle_from_row(symbol, r, interval) for r in rows]

    async def fetch_book(self, symbol: str, depth: int) -> BookSnapshot:
        book = await self.venue._call(
            "fetch_order_book", self.client.fetch_order_book, symbol, depth
        )
        return book_from_ccxt(symbol, book, depth)

    async def watch_book(self, symbol: str, depth: int) -> BookSnapshot:
        book = await self.client.watch_order_book(symbol)
        return book_from_ccxt(symbol, book, depth)

    async def fetch_trades(self, symbol: str, since_ms: int | None) -> list[TradeTick]:
        raw = await self.venue._call("fetch_trades", self.client.fetch_trades, symbol, since_ms)
        return [trade_from_ccxt(t) for t in raw]

    async def watch_trades(self, symbol: str) -> list[TradeTick]:
        if self._tap is not None:  # Binance: trades read from their frames (the fast path)
            return await self._tap.watch(symbol)
        raw = await self.client.watch_trades(symbol)
        return [trade_from_ccxt(t) for t in raw]

    async def fetch_quote(self, symbol: str) -> Quote | None:
        t = await self.venue._call("fetch_ticker", self.client.fetch_ticker, symbol)
        if t.get("bid") is None or t.get("ask") is None:
            return None
        return Quote(
            symbol, int(t.get("timestamp") or self.venue.clock.now_ms()), dec(t["bid"]),
            _d(t.get("bidVolume")), dec(t["ask"]), _d(t.get("askVolume")),
        )  # fmt: skip

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self.venue.stream_quotes(symbols)

    def stream_quotes_reporting(
        self, symbols: list[str], fallback: RestFallback
    ) -> AsyncIterator[Quote]:
        """`stream_quotes`, telling `fallback` while REST snapshots stand in for the websocket."""
        return self.venue.stream_quotes(symbols, fallback)

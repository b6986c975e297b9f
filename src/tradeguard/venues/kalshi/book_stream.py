"""Kalshi's `orderbook_delta` channel: a snapshot per market, then sequenced level changes.

Kalshi's book holds bids only, on both sides (a YES ask at p is a NO bid at 1 - p). Each
subscription numbers its messages (`seq`); a message that does not follow the last one raises
`StreamGap`, and the caller resubscribes for fresh snapshots.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp

from tradeguard.model.market import Quote
from tradeguard.model.money import dec
from tradeguard.model.outcome import Outcome, parse_outcome_symbol
from tradeguard.venues.outcome_quotes import DEPTH, outcome_depth_quote
from tradeguard.venues.outcome_stream import StreamGap


def _rows(rows: Any) -> dict[Decimal, Decimal]:
    out: dict[Decimal, Decimal] = {}
    for row in rows if isinstance(rows, list) else ():
        try:
            price, count = row
            out[dec(price)] = dec(count)
        except (TypeError, ValueError, ArithmeticError):
            continue  # no price anyone can trade at; the quote keeps the rows that are
    return out


class KalshiBook:
    """One market's YES and NO bids, price -> contracts."""

    __slots__ = ("no", "yes")

    def __init__(self) -> None:
        self.yes: dict[Decimal, Decimal] = {}
        self.no: dict[Decimal, Decimal] = {}

    def reset(self, msg: Any) -> None:
        """Take a snapshot message (`yes_dollars` / `no_dollars` rows of [price, count]); a row
        no venue would send (not a pair, a price or count that is no number) is left out."""
        msg = msg if isinstance(msg, dict) else {}
        self.yes, self.no = _rows(msg.get("yes_dollars")), _rows(msg.get("no_dollars"))

    def change(self, side: str, price: Decimal, delta: Decimal) -> None:
        """Add `delta` contracts at `price` on side "yes" or "no" (a level at 0 goes)."""
        levels = self.yes if side == "yes" else self.no
        left = levels.get(price, Decimal(0)) + delta
        if left > 0:
            levels[price] = left
        else:
            levels.pop(price, None)

    def quote(self, symbol: str, outcome: Outcome, ts: int, depth: int = DEPTH) -> Quote:
        """One outcome's quote with `depth` levels a side."""
        return outcome_depth_quote(symbol, outcome, self.yes.items(), self.no.items(), ts, depth)


class KalshiBookFeed:
    """Apply `orderbook_snapshot` / `orderbook_delta` messages; check each sid's sequence."""

    def __init__(self, symbols: list[str], quote: str = "USD") -> None:
        self.books: dict[str, KalshiBook] = {}
        self.wanted: dict[str, list[tuple[str, Outcome]]] = {}
        for symbol in symbols:
            ticker, outcome, _ = parse_outcome_symbol(symbol)
            self.books.setdefault(ticker, KalshiBook())
            self.wanted.setdefault(ticker, []).append((symbol, outcome))
        self.quote_asset = quote
        self._seq: dict[int, int] = {}

    @property
    def tickers(self) -> list[str]:
        return sorted(self.books)

    def apply(self, data: dict[str, Any], ts: int) -> list[Quote]:
        """Apply one message; return the changed quotes of the symbols asked for."""
        kind = data.get("type")
        if kind not in ("orderbook_snapshot", "orderbook_delta"):
            return []
        sid, seq = int(data.get("sid", 0)), data.get("seq")
        if seq is not None:
            last = self._seq.get(sid)
            if kind == "orderbook_delta" and (last is None or int(seq) != last + 1):
                raise StreamGap(f"sid {sid}: message {seq} after {last}")
            self._seq[sid] = int(seq)
        msg = data["msg"]
        ticker = msg["market_ticker"]
        book = self.books.get(ticker)
        if book is None:
            return []
        if kind == "orderbook_snapshot":
            book.reset(msg)
        else:
            book.change(msg["side"], dec(msg["price_dollars"]), dec(msg["delta_fp"]))
        return [book.quote(s, o, ts) for s, o in self.wanted[ticker]]


async def kalshi_ws_quotes(
    ws_url: str,
    headers: Callable[[], dict[str, str]],
    symbols: list[str],
    now_ms: Callable[[], int],
) -> AsyncIterator[Quote]:
    """Quotes of `symbols` from one signed WebSocket session (ends when it closes)."""
    feed = KalshiBookFeed(symbols)
    params = {"channels": ["orderbook_delta"], "market_tickers": feed.tickers}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, headers=headers(), heartbeat=10) as ws,
    ):
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": params})
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = msg.json()
            if data.get("type") == "error":
                raise ValueError(f"kalshi book subscription refused: {data.get('msg')}")
            for q in feed.apply(data, now_ms()):
                yield q

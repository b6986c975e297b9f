"""The local Kalshi's `orderbook_delta` channel: a snapshot on subscribe, then sequenced deltas.

Each subscription (sid) numbers its messages from 1. Book changes are coalesced per event-loop
turn: every change of a market within one turn becomes one set of `orderbook_delta` messages,
each carrying the change in contracts at one price (`delta_fp`), as Kalshi sends them.
`skip_seq` makes the next delta jump a sequence number, as a lost message would.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ONE
from tradeguard.sandbox.binary_book import BinaryBook
from tradeguard.sandbox.coalesce import CoalescedFeed
from tradeguard.sandbox.kalshi.wire import dollars, fp
from tradeguard.sandbox.ws_hub import WsHub

Levels = dict[tuple[str, Decimal], Decimal]  # (side "yes"/"no", price) -> contracts bid


class KalshiBookFeed(CoalescedFeed):
    """What subscribers of `orderbook_delta` have been told, and the next message of each sid."""

    def __init__(self, hub: WsHub, book: BinaryBook, on_flush: Callable[[str], None]) -> None:
        self.hub, self.book, self.on_flush = hub, book, on_flush
        self.sent: dict[str, Levels] = {}
        self.skip_seq = 0
        self._seq: dict[int, int] = {}
        super().__init__()
        book.listeners.append(self.changed)

    def levels(self, ticker: str) -> Levels:
        bids, asks = self.book.levels(ticker)
        out: Levels = {("yes", p): q for p, q in bids}
        out.update({("no", ONE - p): q for p, q in asks})
        return out

    def next_seq(self, sid: int) -> int:
        seq = self._seq.get(sid, 0) + 1
        self._seq[sid] = seq
        return seq

    def snapshot(self, sid: int, ticker: str) -> dict[str, Any]:
        """The snapshot a new subscription starts from: the book as last published."""
        levels = self.sent.setdefault(ticker, self.levels(ticker))
        rows = {side: sorted((p, q) for (s, p), q in levels.items() if s == side)
                for side in ("yes", "no")}  # fmt: skip
        msg = {
            "market_ticker": ticker,
            "yes_dollars": [[dollars(p), fp(q)] for p, q in rows["yes"]],
            "no_dollars": [[dollars(p), fp(q)] for p, q in rows["no"]],
        }
        return {"type": "orderbook_snapshot", "sid": sid, "seq": self.next_seq(sid), "msg": msg}

    def flush(self) -> None:
        """Publish the level changes of every market changed since the last flush."""
        for ticker in self.take_dirty():
            old = self.sent.get(ticker, {})
            new = self.levels(ticker)
            self.sent[ticker] = new
            for key in sorted(old.keys() | new.keys()):
                delta = new.get(key, Decimal(0)) - old.get(key, Decimal(0))
                if delta:
                    self._delta(ticker, key, delta)
            self.on_flush(ticker)

    def _delta(self, ticker: str, key: tuple[str, Decimal], delta: Decimal) -> None:
        side, price = key
        msg = {
            "market_ticker": ticker, "price_dollars": dollars(price), "delta_fp": fp(delta),
            "side": side,
        }  # fmt: skip

        def payload(sid: int) -> dict[str, Any]:
            if self.skip_seq:
                self.skip_seq -= 1
                self.next_seq(sid)
            return {"type": "orderbook_delta", "sid": sid, "seq": self.next_seq(sid), "msg": msg}

        self.hub.publish("orderbook_delta", ticker, payload)

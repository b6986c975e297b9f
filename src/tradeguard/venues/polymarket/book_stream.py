"""Polymarket's `market` channel: a `book` per token, then `price_change` level updates.

A `book` replaces the token's levels; a `price_change` sets each listed level's new size
(0 removes it). Polymarket numbers nothing, so a lost message is caught only by the REST
snapshot the stream wrapper takes after a reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp

from tradeguard.model.market import Quote
from tradeguard.model.money import dec
from tradeguard.venues.outcome_quotes import depth_quote

log = logging.getLogger(__name__)


class TokenBook:
    """One outcome token's bids and asks, price -> size."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def reset(self, book: Any) -> None:
        """Take a book's levels (a REST `/book` answer or a `book` event); a level no venue
        would send (not an object, a price or size that is no number) is left out."""
        book = book if isinstance(book, dict) else {}
        self.bids, self.asks = _levels(book.get("bids")), _levels(book.get("asks"))

    def set(self, side: str, price: Decimal, size: Decimal) -> None:
        levels = self.bids if side == "BUY" else self.asks
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)

    def quote(self, symbol: str, ts: int) -> Quote:
        return depth_quote(symbol, self.bids.items(), self.asks.items(), ts)


def _levels(rows: Any) -> dict[Decimal, Decimal]:
    out: dict[Decimal, Decimal] = {}
    for level in rows if isinstance(rows, list) else ():
        try:
            out[dec(level["price"])] = dec(level["size"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # no price anyone can trade at; the quote keeps the levels that are
    return out


class MarketChannelFeed:
    """Apply `book` and `price_change` events to the tokens asked for."""

    def __init__(self, symbol_of_token: dict[str, str]) -> None:
        self.symbol_of = dict(symbol_of_token)
        self.books = {token: TokenBook() for token in self.symbol_of}

    def apply(self, event: Any, ts: int) -> list[Quote]:
        """Apply one event; return the changed tokens' quotes. An event no venue would send (a
        field missing or of the wrong type, a number that is none) is skipped with a warning."""
        try:
            return self._apply(event, ts)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            log.warning("polymarket market channel: an event skipped (%s): %.200r", exc, event)
            return []

    def _apply(self, event: Any, ts: int) -> list[Quote]:
        kind = event.get("event_type")
        touched: set[str] = set()
        if kind == "book":
            token = str(event["asset_id"])
            if token in self.books:
                self.books[token].reset(event)
                touched.add(token)
        elif kind == "price_change":
            for change in event.get("price_changes") or []:
                token = str(change["asset_id"])
                if token in self.books:
                    price, size = dec(change["price"]), dec(change["size"])
                    self.books[token].set(str(change["side"]), price, size)
                    touched.add(token)
        return [self.books[t].quote(self.symbol_of[t], ts) for t in sorted(touched)]


async def market_ws_quotes(
    ws_url: str, symbol_of_token: dict[str, str], now_ms: Callable[[], int]
) -> AsyncIterator[Quote]:
    """Quotes of the given tokens from one `market` channel session (ends when it closes)."""
    feed = MarketChannelFeed(symbol_of_token)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, heartbeat=10) as ws,
    ):
        await ws.send_json({"assets_ids": sorted(feed.books), "type": "market"})
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = msg.json()
            if isinstance(data, dict) and "error" in data:
                raise ValueError(f"polymarket market channel refused: {data['error']}")
            for event in data if isinstance(data, list) else [data]:
                for q in feed.apply(event, now_ms()):
                    yield q

"""Polymarket's `market` channel: a `book` per token, then `price_change` level updates.

A `book` replaces the token's levels; a `price_change` sets each listed level's new size
(0 removes it). Polymarket numbers nothing, so a lost message is caught only by the REST
snapshot the stream wrapper takes after a reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp

from tradeguard.model.market import Quote
from tradeguard.model.money import dec
from tradeguard.venues.outcome_quotes import depth_quote


class TokenBook:
    """One outcome token's bids and asks, price -> size."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def reset(self, book: dict[str, Any]) -> None:
        self.bids = {dec(lv["price"]): dec(lv["size"]) for lv in book.get("bids") or []}
        self.asks = {dec(lv["price"]): dec(lv["size"]) for lv in book.get("asks") or []}

    def set(self, side: str, price: Decimal, size: Decimal) -> None:
        levels = self.bids if side == "BUY" else self.asks
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)

    def quote(self, symbol: str, ts: int) -> Quote:
        return depth_quote(symbol, self.bids.items(), self.asks.items(), ts)


class MarketChannelFeed:
    """Apply `book` and `price_change` events to the tokens asked for."""

    def __init__(self, symbol_of_token: dict[str, str]) -> None:
        self.symbol_of = dict(symbol_of_token)
        self.books = {token: TokenBook() for token in self.symbol_of}

    def apply(self, event: dict[str, Any], ts: int) -> list[Quote]:
        """Apply one event; return the changed tokens' quotes."""
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

"""Binance public trades read straight from their frames, for the live hub.

ccxt's generic trade parse (safe_* lookups, Precise fee maths, ISO dates, a cache) is most of
the node's per-message work at thousands of messages a second (`benchmarks/live_data.py`). A
Binance `trade` frame holds the six fields a `TradeTick` needs; the tap reads them and skips the
parse. Subscribing, reconnecting and every other stream stay ccxt's: `client.watch_trades` is
kept waiting as the subscription, and its failure (a dropped socket) is raised to the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tradeguard.model.market import TradeTick
from tradeguard.model.money import dec


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # read, so a closed client's error is not logged as never retrieved


class TradeTap:
    """Public trades of one ccxt Binance client, decoded from their frames."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.symbols: dict[str, str] = {}  # market id -> symbol, for the symbols watched
        self.ticks: dict[str, list[TradeTick]] = {}
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._subs: dict[str, asyncio.Future[Any]] = {}
        handle = client.handle_trade

        def tap(ws_client: Any, message: Any) -> Any:
            if isinstance(message, dict) and message.get("e") == "trade":
                symbol = self.symbols.get(message.get("s", ""))
                if symbol is not None:
                    self._take(symbol, message)
                    return None
            return handle(ws_client, message)

        client.handle_trade = tap

    @staticmethod
    def of(client: Any) -> TradeTap | None:
        """The tap of `client` (installed once), or None for a client it does not fit."""
        if getattr(client, "id", "") != "binance" or not hasattr(client, "handle_trade"):
            return None
        tap: TradeTap | None = getattr(client, "_tg_trade_tap", None)
        if tap is None:
            tap = TradeTap(client)
            client._tg_trade_tap = tap
        return tap

    def _take(self, symbol: str, m: dict[str, Any]) -> None:
        tick = TradeTick(
            symbol=symbol, ts=int(m["T"]), trade_id=str(m["t"]), price=dec(m["p"], "price"),
            amount=dec(m["q"], "amount"), side="sell" if m.get("m") else "buy",
        )  # fmt: skip
        self.ticks.setdefault(symbol, []).append(tick)
        waiter = self._waiters.get(symbol)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _subscription(self, symbol: str) -> asyncio.Future[Any]:
        """The ccxt subscription of `symbol`'s trades; a failed one raises here (once)."""
        sub = self._subs.get(symbol)
        if sub is not None and sub.done():
            del self._subs[symbol]
            error = None if sub.cancelled() else sub.exception()
            if error is not None:
                raise error
            sub = None  # ccxt resolved it (a frame the tap left to it): subscribe on
        if sub is None:
            sub = self._subs[symbol] = asyncio.ensure_future(self.client.watch_trades(symbol))
            sub.add_done_callback(_retrieve)
        return sub

    async def watch(self, symbol: str) -> list[TradeTick]:
        """Wait for the next public trades of `symbol`; raise when its subscription fails."""
        if symbol not in self.symbols.values():
            if not self.client.markets:
                await self.client.load_markets()
            self.symbols[self.client.market_id(symbol)] = symbol
        while not self.ticks.get(symbol):
            sub = self._subscription(symbol)
            waiter = self._waiters[symbol] = asyncio.get_running_loop().create_future()

            def wake(_: Any, w: asyncio.Future[None] = waiter) -> None:
                if not w.done():
                    w.set_result(None)

            sub.add_done_callback(wake)
            try:
                await waiter
            finally:
                sub.remove_done_callback(wake)
        out = self.ticks[symbol]
        self.ticks[symbol] = []
        return out

    def close(self) -> None:
        """Drop the subscriptions (the client is closing)."""
        for sub in self._subs.values():
            with contextlib.suppress(Exception):
                sub.cancel()
        self._subs.clear()

"""Kraken's public REST endpoints (`/0/public/...`) over the sandbox's markets and books."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeguard.model.money import ZERO
from tradeguard.sandbox.kraken.names import (
    altname,
    asset_id,
    pair_altname,
    pair_id,
    well_formed,
)
from tradeguard.sandbox.kraken.wire import UNKNOWN_PAIR, KrakenError, num, secs
from tradeguard.sandbox.orders import MarketSpec

if TYPE_CHECKING:
    from tradeguard.sandbox.kraken.server import KrakenSandbox

_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)


def decimals(step: Decimal) -> int:
    """Decimal places of a tick or lot step (0.01 -> 2)."""
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


class KrakenPublic:
    """Time, Assets, AssetPairs, Ticker, Depth, OHLC and Trades."""

    def __init__(self, ex: KrakenSandbox) -> None:
        self.ex = ex

    def register(self, r: web.UrlDispatcher, wrap: Callable[..., Any]) -> None:
        routes: dict[str, Callable[[web.Request], Awaitable[Any]]] = {
            "Time": self.time, "Assets": self.assets, "AssetPairs": self.asset_pairs,
            "Ticker": self.ticker, "Depth": self.depth, "OHLC": self.ohlc, "Trades": self.trades,
        }  # fmt: skip
        for name, fn in routes.items():
            r.add_get(f"/0/public/{name}", wrap(fn))

    def _pairs(self, request: web.Request, required: bool = True) -> list[MarketSpec]:
        raw = request.query.get("pair", "")
        if not raw:
            if required:
                raise KrakenError("EGeneral:Invalid arguments:pair")
            return list(self.ex.engine.markets.values())
        out = []
        names = raw.split(",")
        if not all(map(well_formed, names)):  # each pair's rule: a list may be longer
            raise KrakenError("EGeneral:Invalid arguments:pair")
        for name in names:
            symbol = self.ex.pair_symbols.get(name.upper())
            if symbol is None:
                raise KrakenError(UNKNOWN_PAIR)
            out.append(self.ex.engine.markets[symbol])
        return out

    async def time(self, request: web.Request) -> Any:
        now = self.ex.now_ms()
        return {"unixtime": now // 1000, "rfc1123": formatdate(now / 1000, usegmt=True)}

    async def assets(self, request: web.Request) -> Any:
        names = sorted({a for s in self.ex.engine.markets.values() for a in (s.base, s.quote)})
        return {
            asset_id(a): {"aclass": "currency", "altname": altname(a), "decimals": 10,
                          "display_decimals": 5, "status": "enabled"}
            for a in names
        }  # fmt: skip

    async def asset_pairs(self, request: web.Request) -> Any:
        out = {}
        for s in self._pairs(request, required=False):
            taker = num(s.taker_fee * 100)
            maker = num(s.maker_fee * 100)
            out[pair_id(s.base, s.quote)] = {
                "altname": pair_altname(s.base, s.quote),
                "wsname": f"{altname(s.base)}/{altname(s.quote)}",
                "aclass_base": "currency", "base": asset_id(s.base),
                "aclass_quote": "currency", "quote": asset_id(s.quote),
                "lot": "unit", "cost_decimals": 5,
                "pair_decimals": decimals(s.tick), "lot_decimals": decimals(s.step),
                "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
                "fees": [[0, float(taker)]], "fees_maker": [[0, float(maker)]],
                "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
                "ordermin": num(s.min_qty), "costmin": num(s.min_notional),
                "tick_size": num(s.tick), "status": "online",
            }  # fmt: skip
        return out

    async def ticker(self, request: web.Request) -> Any:
        out = {}
        for s in self._pairs(request, required=False):
            bid, ask = self.ex.engine.best(s.symbol)
            trades = self.ex.engine.trades.get(s.symbol) or []
            last = self.ex.engine.last_price(s.symbol) or ZERO
            volume = sum((t.qty for t in trades), ZERO)
            prices = [t.price for t in trades] or [last]
            out[pair_id(s.base, s.quote)] = {
                "a": [num(ask[0]), "1", num(ask[1])] if ask else ["0", "0", "0"],
                "b": [num(bid[0]), "1", num(bid[1])] if bid else ["0", "0", "0"],
                "c": [num(last), num(trades[-1].qty) if trades else "0"],
                "v": [num(volume), num(volume)],
                "p": [num(last), num(last)],
                "t": [len(trades), len(trades)],
                "l": [num(min(prices)), num(min(prices))],
                "h": [num(max(prices)), num(max(prices))],
                "o": num(prices[0]),
            }
        return out

    async def depth(self, request: web.Request) -> Any:
        (s,) = self._pairs(request)[:1]
        count = _int(request.query.get("count", "100"), "count")
        book = self.ex.engine.depth(s.symbol, count or None)
        now = secs(self.ex.now_ms())

        def rows(levels: list[tuple[Decimal, Decimal]]) -> list[list[Any]]:
            return [[num(p), num(q), int(now)] for p, q in levels]

        return {pair_id(s.base, s.quote): {"asks": rows(book["asks"]), "bids": rows(book["bids"])}}

    async def ohlc(self, request: web.Request) -> Any:
        (s,) = self._pairs(request)[:1]
        interval = _int(request.query.get("interval", "1"), "interval")
        if interval not in _INTERVALS:
            raise KrakenError("EGeneral:Invalid arguments:interval")
        since_s = _int(request.query.get("since", "0"), "since")
        size_ms = interval * 60_000
        bars: dict[int, list[Any]] = {}
        for t in self.ex.engine.trades.get(s.symbol) or []:
            start = t.time_ms // size_ms * size_ms
            if start // 1000 < since_s:
                continue
            bar = bars.get(start)
            if bar is None:
                bars[start] = [start // 1000, t.price, t.price, t.price, t.price, ZERO, ZERO, 0]
                bar = bars[start]
            bar[2], bar[3], bar[4] = max(bar[2], t.price), min(bar[3], t.price), t.price
            bar[5] += t.quote_qty
            bar[6] += t.qty
            bar[7] += 1
        rows = [
            [b[0], num(b[1]), num(b[2]), num(b[3]), num(b[4]), num(b[5] / b[6]), num(b[6]), b[7]]
            for _, b in sorted(bars.items())
        ]
        last = rows[-1][0] if rows else since_s
        return {pair_id(s.base, s.quote): rows, "last": last}

    async def trades(self, request: web.Request) -> Any:
        (s,) = self._pairs(request)[:1]
        since_ns = _int(request.query.get("since", "0"), "since")
        rows = []
        last_ns = since_ns
        for t in self.ex.engine.trades.get(s.symbol) or []:
            ns = t.time_ms * 1_000_000
            if ns <= since_ns:
                continue
            side = "s" if t.buyer_is_maker else "b"
            rows.append([num(t.price), num(t.qty), secs(t.time_ms), side, "l", "", t.trade_id])
            last_ns = max(last_ns, ns)
        return {pair_id(s.base, s.quote): rows[-1000:], "last": str(last_ns)}


# ASCII digits (str.isdigit() also takes "²"), matched whole: `$` let "5\n" through
_INT = re.compile(r"-?[0-9]{1,19}")


def _int(text: str, name: str) -> int:
    if not _INT.fullmatch(text):
        raise KrakenError(f"EGeneral:Invalid arguments:{name}")
    return int(text)

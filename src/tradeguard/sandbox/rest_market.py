"""Public REST endpoints: server time, exchange info, books, tickers, trades and klines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeguard.model.money import ZERO
from tradeguard.sandbox.klines import INTERVAL_MS, kline_row
from tradeguard.sandbox.matching import Trade
from tradeguard.sandbox.params import ApiError, int_param, limit_param, required
from tradeguard.sandbox.wire import agg_trade, book_ticker_row, d8, symbol_info, ticker_row

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

_AVG_PRICE_MINS = 5


class MarketRoutes:
    """Handlers of the public market data endpoints."""

    def __init__(self, ex: SandboxExchange) -> None:
        self.ex = ex
        self.engine = ex.engine

    def register(self, r: web.UrlDispatcher) -> None:
        """Add the routes to an app's router."""
        r.add_get("/api/v3/ping", self.ping)
        r.add_get("/api/v3/time", self.time)
        r.add_get("/sapi/v1/system/status", self.system_status)
        r.add_get("/api/v3/exchangeInfo", self.exchange_info)
        r.add_get("/api/v3/depth", self.depth)
        r.add_get("/api/v3/ticker/24hr", self.ticker_24hr)
        r.add_get("/api/v3/ticker/bookTicker", self.book_ticker)
        r.add_get("/api/v3/ticker/price", self.ticker_price)
        r.add_get("/api/v3/avgPrice", self.avg_price)
        r.add_get("/api/v3/klines", self.klines)
        r.add_get("/api/v3/uiKlines", self.klines)
        r.add_get("/api/v3/trades", self.trades)
        r.add_get("/api/v3/historicalTrades", self.trades)
        r.add_get("/api/v3/aggTrades", self.agg_trades)

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.ex.now_ms()})

    async def system_status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": 0, "msg": "normal"})

    async def exchange_info(self, request: web.Request) -> web.Response:
        wanted = self._symbols_param(request.query)
        specs = [s for s in self.engine.markets.values() if wanted is None or s.symbol in wanted]
        limits = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": self.ex.limiter.limit_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        ]  # fmt: skip
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self.ex.now_ms(),
                "rateLimits": limits,
                "exchangeFilters": [],
                "symbols": [symbol_info(s) for s in specs],
            }
        )

    def _symbols_param(self, query: Any) -> set[str] | None:
        if "symbol" in query:
            self.engine.market(query["symbol"])
            return {query["symbol"]}
        if "symbols" in query:
            try:
                names = json.loads(query["symbols"])
            except (json.JSONDecodeError, RecursionError):  # RecursionError: deep nesting
                raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from None
            for n in names:
                self.engine.market(n)
            return set(names)
        return None

    def _rows(self, query: Any, row: Any) -> web.Response:
        wanted = self._symbols_param(query)
        if "symbol" in query:
            return web.json_response(row(query["symbol"]))
        return web.json_response(
            [row(s) for s in self.engine.markets if wanted is None or s in wanted]
        )

    async def depth(self, request: web.Request) -> web.Response:
        symbol = required(request.query, "symbol")
        limit = limit_param(request.query, 100, 5000)
        d = self.engine.depth(symbol, limit)
        return web.json_response(
            {
                "lastUpdateId": self.ex.publisher.update_id[symbol],
                "bids": [[d8(p), d8(q)] for p, q in d["bids"]],
                "asks": [[d8(p), d8(q)] for p, q in d["asks"]],
            }
        )

    async def book_ticker(self, request: web.Request) -> web.Response:
        return self._rows(request.query, lambda s: book_ticker_row(self.engine, s))

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        now = self.ex.now_ms()
        return self._rows(request.query, lambda s: ticker_row(self.engine, s, now))

    async def ticker_price(self, request: web.Request) -> web.Response:
        def row(s: str) -> dict[str, str]:
            return {"symbol": s, "price": d8(self.engine.last_price(s) or ZERO)}

        return self._rows(request.query, row)

    async def avg_price(self, request: web.Request) -> web.Response:
        symbol = required(request.query, "symbol")
        self.engine.market(symbol)
        now = self.ex.now_ms()
        since = now - _AVG_PRICE_MINS * 60_000
        trades = [t for t in self.engine.trades[symbol] if t.time_ms >= since]
        qty = sum((t.qty for t in trades), ZERO)
        price = sum((t.quote_qty for t in trades), ZERO) / qty if qty else None
        price = price if price is not None else (self.engine.last_price(symbol) or ZERO)
        last = trades[-1].time_ms if trades else now
        return web.json_response({"mins": _AVG_PRICE_MINS, "price": d8(price), "closeTime": last})

    async def klines(self, request: web.Request) -> web.Response:
        q = request.query
        symbol = required(q, "symbol")
        self.engine.market(symbol)
        interval = required(q, "interval")
        if interval not in INTERVAL_MS:
            raise ApiError(-1120, "Invalid interval.")
        limit = limit_param(q, 500, 1000)
        start = int_param(q, "startTime")
        end = int_param(q, "endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        now = self.ex.publisher.market_now(symbol, self.ex.now_ms())
        bars = self.ex.klines.klines(symbol, interval, limit, now, start, end)
        return web.json_response([kline_row(b, interval) for b in bars])

    def _trades_window(self, q: Any, id_param: str) -> tuple[str, list[Trade]]:
        symbol = required(q, "symbol")
        self.engine.market(symbol)
        limit = limit_param(q, 500, 1000)
        from_id = int_param(q, id_param)
        start = int_param(q, "startTime")
        end = int_param(q, "endTime")
        trades = self.engine.trades[symbol]
        if from_id is not None:
            rows = [t for t in trades if t.trade_id >= from_id][:limit]
        elif start is not None or end is not None:
            lo, hi = start or 0, end if end is not None else 2**62
            rows = [t for t in trades if lo <= t.time_ms <= hi][:limit]
        else:
            rows = trades[-limit:]
        return symbol, rows

    async def trades(self, request: web.Request) -> web.Response:
        _, rows = self._trades_window(request.query, "fromId")
        return web.json_response(
            [
                {
                    "id": t.trade_id,
                    "price": d8(t.price),
                    "qty": d8(t.qty),
                    "quoteQty": d8(t.quote_qty),
                    "time": t.time_ms,
                    "isBuyerMaker": t.buyer_is_maker,
                    "isBestMatch": True,
                }
                for t in rows
            ]
        )

    async def agg_trades(self, request: web.Request) -> web.Response:
        _, rows = self._trades_window(request.query, "fromId")
        return web.json_response([agg_trade(t) for t in rows])

"""The sandbox exchange: Binance spot REST, market streams, user data streams, admin endpoints.

async with SandboxExchange(SandboxConfig()) as ex:
    ex.add_market("BTCUSDT", "BTC", "USDT", tick="0.01", step="0.00001",
                  min_qty="0.00001", min_notional="5")
    ex.add_account("key", "secret", {"USDT": Decimal("10000")})
    ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "1")])
    ...  # point ccxt at ex.rest_url / ex.ws_url (see sandbox.client)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tradeguard.model.money import ZERO, dec, quantize_down
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.drift import ArbDrift
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.matching import (
    BUY,
    FEE_ACCOUNT,
    HOUSE_ACCOUNT,
    LIMIT,
    MARKET,
    SELL,
    EngineOrder,
    EngineReject,
    MarketSpec,
    MatchingEngine,
    Result,
)
from tradeguard.sandbox.ratelimit import WeightLimiter, request_weight
from tradeguard.sandbox.wire import (
    account_position,
    cancel_result,
    d8,
    execution_report,
    my_trade,
    order_query,
    order_result,
    symbol_info,
)

_CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_NUM_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_DEFAULT_RECV_WINDOW = 5000
_MAX_RECV_WINDOW = 60_000
_LOOPBACK = frozenset({"127.0.0.1", "::1"})

Levels = Iterable[tuple[Decimal | str, Decimal | str]]


class ApiError(Exception):
    """A Binance error answer: `{"code": code, "msg": msg}` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


@dataclass(slots=True)
class ApiKey:
    """One API key: its secret, its account and its permissions."""

    api_key: str
    secret: str
    account_id: str
    can_withdraw: bool = False
    created_ms: int = 0


@dataclass(eq=False)
class _WsConn:
    ws: web.WebSocketResponse
    mode: str  # "raw", "combined" or "wsapi"
    streams: set[str] = field(default_factory=set)
    account_id: str | None = None  # raw listen-key user stream
    subs: dict[int, str] = field(default_factory=dict)  # ws-api subscription id -> account
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    sent: int = 0


class SandboxExchange:
    """A local exchange speaking a subset of Binance's spot API on 127.0.0.1."""

    def __init__(
        self, config: SandboxConfig | None = None, clock: Callable[[], int] | None = None
    ) -> None:
        self.config = config or SandboxConfig()
        self.faults: Faults = self.config.faults
        self.engine = MatchingEngine()
        self.clock_offset_ms = self.config.clock_offset_ms
        self._clock = clock or (lambda: int(time.time() * 1000))
        self.limiter = WeightLimiter(
            self.config.weight_limit_per_minute, self.config.ban_after_strikes, self.config.ban_s
        )
        self._keys: dict[str, ApiKey] = {}
        self._listen_keys: dict[str, str] = {}  # listen key -> account
        self._conns: set[_WsConn] = set()
        self._writers: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._update_id: dict[str, int] = {}
        self._published: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        self._next_sub_id = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._app = self._build_app()
        self._seed_from_config()
        self.drift: ArbDrift | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the configured loopback host and port (0 picks a free one) and serve."""
        c = self.config
        if c.arb_drift_every_ms:
            self.drift = ArbDrift(
                self, every_ms=c.arb_drift_every_ms, hold_ms=c.arb_drift_hold_ms,
                edge_pct=c.arb_drift_edge_pct, seed=c.seed,
            )  # fmt: skip
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1]
        if self.drift is not None:
            self._spawn(self.drift.run())

    async def stop(self) -> None:
        """Close every websocket and stop serving."""
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._conns):
            await conn.ws.close()
        for task in list(self._writers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self._port}"

    @property
    def rest_url(self) -> str:
        """Base of the spot REST API, e.g. `http://127.0.0.1:8765/api/v3`."""
        return f"{self.base_url}/api/v3"

    @property
    def sapi_url(self) -> str:
        return f"{self.base_url}/sapi/v1"

    @property
    def ws_url(self) -> str:
        """Base of the market/user streams, e.g. `ws://127.0.0.1:8765/ws`."""
        return f"ws://{self.config.host}:{self._port}/ws"

    @property
    def ws_api_url(self) -> str:
        """The WebSocket API endpoint (user data stream subscription by signature)."""
        return f"ws://{self.config.host}:{self._port}/ws-api/v3"

    def now_ms(self) -> int:
        """The exchange's clock in milliseconds (wall clock plus `clock_offset_ms`)."""
        return self._clock() + self.clock_offset_ms

    # -- in-process setup ------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        secret: str,
        balances: dict[str, Decimal] | None = None,
        can_withdraw: bool = False,
    ) -> str:
        """Create an account reachable with this key pair; return its account id."""
        if api_key in self._keys:
            key = self._keys[api_key]
            self.engine.add_account(key.account_id, balances)
            return key.account_id
        account_id = f"acct-{len(self._keys) + 1}"
        self.engine.add_account(account_id, {a: dec(v, a) for a, v in (balances or {}).items()})
        self._keys[api_key] = ApiKey(api_key, secret, account_id, can_withdraw, self.now_ms())
        return account_id

    def account_id(self, api_key: str) -> str:
        """The account behind an API key."""
        return self._keys[api_key].account_id

    def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        """An account's (free, locked) per asset."""
        acc = self.engine.accounts[self.account_id(api_key)]
        return {a: (b.free, b.locked) for a, b in acc.balances.items()}

    def add_market(
        self,
        symbol: str,
        base: str,
        quote: str,
        tick: Decimal | str,
        step: Decimal | str,
        min_qty: Decimal | str,
        min_notional: Decimal | str,
        maker_fee: Decimal | str = Decimal("0.001"),
        taker_fee: Decimal | str = Decimal("0.001"),
    ) -> MarketSpec:
        """List a spot market (`BTCUSDT` or `BTC/USDT`) with its filters and fees."""
        spec = MarketSpec(
            symbol=symbol.replace("/", "").upper(),
            base=base.upper(),
            quote=quote.upper(),
            tick=dec(tick, "tick"),
            step=dec(step, "step"),
            min_qty=dec(min_qty, "min_qty"),
            min_notional=dec(min_notional, "min_notional"),
            maker_fee=dec(maker_fee, "maker_fee"),
            taker_fee=dec(taker_fee, "taker_fee"),
        )
        self.engine.add_market(spec)
        self._update_id.setdefault(spec.symbol, 1)
        self._published.setdefault(spec.symbol, ({}, {}))
        return spec

    def set_book(self, symbol: str, bids: Levels, asks: Levels) -> Result:
        """Replace the house market maker's quotes; crossing quotes fill resting orders."""
        result = self.engine.set_book(
            symbol.replace("/", ""),
            [(dec(p), dec(q)) for p, q in bids],
            [(dec(p), dec(q)) for p, q in asks],
            self.now_ms(),
        )
        self._publish(result, {symbol.replace("/", "")})
        return result

    def trade_through(
        self, symbol: str, side: str, price: Decimal | str, qty: Decimal | str
    ) -> Result:
        """Have the house trade `qty` against resting orders up to `price` (IOC)."""
        sym = symbol.replace("/", "")
        result = self.engine.trade_through(sym, side.upper(), dec(price), dec(qty), self.now_ms())
        self._publish(result, {sym})
        return result

    def ws_subscriptions(self) -> list[str]:
        """Open websocket subscriptions: stream names, and `user:<account>` per user stream."""
        out: list[str] = []
        for conn in self._conns:
            out.extend(sorted(conn.streams))
            if conn.account_id:
                out.append(f"user:{conn.account_id}")
            out.extend(f"user:{acc}" for acc in conn.subs.values())
        return out

    def disconnect_websockets(self) -> int:
        """Drop every websocket connection now; return how many were open."""
        n = len(self._conns)
        for conn in list(self._conns):
            conn.queue.put_nowait(None)
        return n

    def _seed_from_config(self) -> None:
        from tradeguard.sandbox.seed import seed_universe

        for m in self.config.markets:
            self.add_market(
                m["symbol"],
                m["base"],
                m["quote"],
                str(m["tick"]),
                str(m["step"]),
                str(m.get("min_qty", m["step"])),
                str(m.get("min_notional", "0")),
                str(m.get("maker_fee", "0.001")),
                str(m.get("taker_fee", "0.001")),
            )
            if m.get("bids") or m.get("asks"):
                self.set_book(m["symbol"], m.get("bids", []), m.get("asks", []))
        for a in self.config.accounts:
            self.add_account(
                a["api_key"],
                a["secret"],
                {k: dec(str(v), k) for k, v in a.get("balances", {}).items()},
                bool(a.get("can_withdraw", False)),
            )
        if self.config.universe_markets:
            seed_universe(self, self.config.universe_markets, self.config.seed)

    # -- app and middleware ----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/api/v3/ping", self._ping)
        r.add_get("/api/v3/time", self._time)
        r.add_get("/api/v3/exchangeInfo", self._exchange_info)
        r.add_get("/api/v3/depth", self._depth)
        r.add_get("/api/v3/ticker/24hr", self._ticker_24hr)
        r.add_get("/api/v3/ticker/bookTicker", self._book_ticker)
        r.add_get("/api/v3/account", self._account)
        r.add_post("/api/v3/order", self._new_order)
        r.add_post("/api/v3/order/test", self._test_order)
        r.add_get("/api/v3/order", self._get_order)
        r.add_delete("/api/v3/order", self._cancel_order)
        r.add_get("/api/v3/openOrders", self._open_orders)
        r.add_get("/api/v3/allOrders", self._all_orders)
        r.add_get("/api/v3/myTrades", self._my_trades)
        r.add_post("/api/v3/userDataStream", self._listen_key_new)
        r.add_put("/api/v3/userDataStream", self._listen_key_keepalive)
        r.add_delete("/api/v3/userDataStream", self._listen_key_close)
        r.add_get("/sapi/v1/account/apiRestrictions", self._api_restrictions)
        r.add_get("/sapi/v1/system/status", self._system_status)
        r.add_get("/ws", self._ws_market)
        r.add_get("/ws/{tail:.+}", self._ws_market)
        r.add_get("/stream", self._ws_combined)
        r.add_get("/ws-api/v3", self._ws_api)
        r.add_get("/admin/faults", self._admin_get_faults)
        r.add_post("/admin/faults", self._admin_set_faults)
        r.add_post("/admin/faults/reset", self._admin_reset_faults)
        r.add_post("/admin/book", self._admin_book)
        r.add_post("/admin/trade", self._admin_trade)
        r.add_post("/admin/ws/disconnect", self._admin_ws_disconnect)
        r.add_post("/admin/accounts", self._admin_add_account)
        r.add_post("/admin/clock", self._admin_clock)
        return app

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/admin"):
            if request.remote not in _LOOPBACK:
                return _error(ApiError(-2015, "Admin endpoints answer loopback only.", 403))
            try:
                return await handler(request)
            except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
                return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
            except EngineReject as exc:
                return _error(ApiError(exc.code, exc.msg, exc.http_status))
        if not (path.startswith("/api/") or path.startswith("/sapi/")):
            return await handler(request)
        delay = self.faults.latency_for(path)
        if delay:
            await asyncio.sleep(delay / 1000)
        if self.faults.take_5xx():
            return web.Response(status=503, text="Service Unavailable.")
        now = self.now_ms()
        if self.faults.take_429():
            burst = _error(
                ApiError(-1003, "Too many requests; current limit is exceeded. (injected)", 429)
            )
            burst.headers["Retry-After"] = "1"
            return burst
        ip = request.remote or "?"
        verdict = self.limiter.check(
            ip, request_weight(request.method, path, dict(request.query)), now
        )
        if not verdict.allowed:
            if verdict.status == 418:
                msg = (
                    f"Way too much request weight used; IP banned until "
                    f"{verdict.banned_until_ms}. Please use WebSocket Streams for live "
                    "updates to avoid bans."
                )
            else:
                msg = (
                    "Too much request weight used; current limit is "
                    f"{self.limiter.limit_per_minute} request weight per 1 MINUTE. Please use "
                    "WebSocket Streams for live updates to avoid polling the API."
                )
            refused = _error(ApiError(-1003, msg, verdict.status))
            refused.headers["Retry-After"] = str(verdict.retry_after_s)
            refused.headers["X-MBX-USED-WEIGHT-1M"] = str(verdict.used_weight)
            return refused
        resp: web.StreamResponse
        try:
            resp = await handler(request)
        except ApiError as exc:
            resp = _error(exc)
        except EngineReject as exc:
            resp = _error(ApiError(exc.code, exc.msg, exc.http_status))
        resp.headers["X-MBX-USED-WEIGHT-1M"] = str(verdict.used_weight)
        resp.headers["X-MBX-USED-WEIGHT"] = str(verdict.used_weight)
        return resp

    # -- authentication --------------------------------------------------------------------

    def _key_from_header(self, request: web.Request) -> ApiKey:
        raw = request.headers.get("X-MBX-APIKEY")
        if not raw:
            raise ApiError(-2014, "API-key format invalid.", 401)
        key = self._keys.get(raw)
        if key is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return key

    async def _signed(self, request: web.Request) -> tuple[ApiKey, dict[str, str]]:
        key = self._key_from_header(request)
        raw_query = request.query_string
        raw_body = (await request.text()) if request.can_read_body else ""
        query_wo, sig_q = _strip_signature(raw_query)
        body_wo, sig_b = _strip_signature(raw_body)
        signature = sig_q or sig_b
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        params.pop("signature", None)
        if "timestamp" not in params:
            raise ApiError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        if not signature:
            raise ApiError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        self._check_signature(key, query_wo + body_wo, signature)
        self._check_timestamp(params)
        return key, params

    def _check_signature(self, key: ApiKey, payload: str, signature: str) -> None:
        expected = hmac.new(key.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(-1022, "Signature for this request is not valid.", 400)

    def _check_timestamp(self, params: dict[str, str]) -> None:
        try:
            ts = int(params["timestamp"])
            recv = int(params.get("recvWindow", _DEFAULT_RECV_WINDOW))
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in parameter 'timestamp'.") from None
        if recv > _MAX_RECV_WINDOW or recv <= 0:
            raise ApiError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if ts < now - recv or ts > now + 1000:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # -- public endpoints ------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.now_ms()})

    async def _system_status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": 0, "msg": "normal"})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        wanted = self._symbols_param(request.query)
        specs = [s for s in self.engine.markets.values() if wanted is None or s.symbol in wanted]
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self.now_ms(),
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": self.limiter.limit_per_minute,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "SECOND",
                        "intervalNum": 10,
                        "limit": 100,
                    },
                ],
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
            except json.JSONDecodeError:
                raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from None
            for n in names:
                self.engine.market(n)
            return set(names)
        return None

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = _required(request.query, "symbol")
        limit = int(request.query.get("limit", "100"))
        if not 1 <= limit <= 5000:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'.")
        d = self.engine.depth(symbol, limit)
        return web.json_response(
            {
                "lastUpdateId": self._update_id[symbol],
                "bids": [[d8(p), d8(q)] for p, q in d["bids"]],
                "asks": [[d8(p), d8(q)] for p, q in d["asks"]],
            }
        )

    def _book_ticker_row(self, symbol: str) -> dict[str, Any]:
        bid, ask = self.engine.best(symbol)
        return {
            "symbol": symbol,
            "bidPrice": d8(bid[0] if bid else ZERO),
            "bidQty": d8(bid[1] if bid else ZERO),
            "askPrice": d8(ask[0] if ask else ZERO),
            "askQty": d8(ask[1] if ask else ZERO),
        }

    async def _book_ticker(self, request: web.Request) -> web.Response:
        wanted = self._symbols_param(request.query)
        if "symbol" in request.query:
            return web.json_response(self._book_ticker_row(request.query["symbol"]))
        rows = [
            self._book_ticker_row(s) for s in self.engine.markets if wanted is None or s in wanted
        ]
        return web.json_response(rows)

    def _ticker_row(self, symbol: str) -> dict[str, Any]:
        now = self.now_ms()
        trades = [t for t in self.engine.trades[symbol] if t.time_ms >= now - 86_400_000]
        bid, ask = self.engine.best(symbol)
        last = self.engine.last_price(symbol) or ZERO
        open_ = trades[0].price if trades else last
        vol = sum((t.qty for t in trades), ZERO)
        qvol = sum((t.quote_qty for t in trades), ZERO)
        change = last - open_
        return {
            "symbol": symbol,
            "priceChange": d8(change),
            "priceChangePercent": f"{(change / open_ * 100 if open_ else ZERO):.3f}",
            "weightedAvgPrice": d8(qvol / vol if vol else last),
            "prevClosePrice": d8(open_),
            "lastPrice": d8(last),
            "lastQty": d8(trades[-1].qty if trades else ZERO),
            "bidPrice": d8(bid[0] if bid else ZERO),
            "bidQty": d8(bid[1] if bid else ZERO),
            "askPrice": d8(ask[0] if ask else ZERO),
            "askQty": d8(ask[1] if ask else ZERO),
            "openPrice": d8(open_),
            "highPrice": d8(max((t.price for t in trades), default=last)),
            "lowPrice": d8(min((t.price for t in trades), default=last)),
            "volume": d8(vol),
            "quoteVolume": d8(qvol),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": trades[0].trade_id if trades else -1,
            "lastId": trades[-1].trade_id if trades else -1,
            "count": len(trades),
        }

    async def _ticker_24hr(self, request: web.Request) -> web.Response:
        wanted = self._symbols_param(request.query)
        if "symbol" in request.query:
            return web.json_response(self._ticker_row(request.query["symbol"]))
        rows = [self._ticker_row(s) for s in self.engine.markets if wanted is None or s in wanted]
        return web.json_response(rows)

    # -- signed endpoints ------------------------------------------------------------------

    async def _account(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        acc = self.engine.accounts[key.account_id]
        omit_zero = params.get("omitZeroBalances", "false").lower() == "true"
        balances = [
            {"asset": a, "free": d8(b.free), "locked": d8(b.locked)}
            for a, b in sorted(acc.balances.items())
            if not (omit_zero and b.free == 0 and b.locked == 0)
        ]
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": "0.00100000",
                    "taker": "0.00100000",
                    "buyer": "0.00000000",
                    "seller": "0.00000000",
                },
                "canTrade": True,
                "canWithdraw": key.can_withdraw,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": self.now_ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": int(key.account_id.split("-")[-1]),
            }
        )

    async def _api_restrictions(self, request: web.Request) -> web.Response:
        key, _ = await self._signed(request)
        return web.json_response(
            {
                "ipRestrict": False,
                "createTime": key.created_ms,
                "enableReading": True,
                "enableSpotAndMarginTrading": True,
                "enableWithdrawals": key.can_withdraw,
                "enableInternalTransfer": False,
                "enableMargin": False,
                "enableFutures": False,
                "permitsUniversalTransfer": False,
                "enableVanillaOptions": False,
                "enableFixApiTrade": False,
                "enableFixReadOnly": False,
                "enablePortfolioMarginTrading": False,
            }
        )

    def _order_args(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = _required(params, "symbol")
        spec = self.engine.market(symbol)
        side = _required(params, "side").upper()
        if side not in (BUY, SELL):
            raise ApiError(
                -1100, "Illegal characters found in parameter 'side'; legal range is 'BUY', 'SELL'."
            )
        type_ = _required(params, "type").upper()
        if type_ not in (LIMIT, MARKET, "LIMIT_MAKER"):
            raise ApiError(-1116, "Invalid orderType.")
        tif = params.get("timeInForce", "")
        if type_ == LIMIT and not tif:
            raise ApiError(
                -1102,
                "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
            )
        if type_ != LIMIT and tif:
            raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        cid = params.get("newClientOrderId", "")
        if cid and not _CLIENT_ID_RE.match(cid):
            raise ApiError(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            )
        return {
            "spec": spec,
            "symbol": symbol,
            "side": side,
            "type_": type_,
            "qty": _num(params, "quantity"),
            "price": _num(params, "price"),
            "quote_qty": _num(params, "quoteOrderQty"),
            "time_in_force": tif or "GTC",
            "client_order_id": cid,
            "resp_type": params.get("newOrderRespType", "FULL").upper(),
        }

    async def _new_order(self, request: web.Request) -> web.StreamResponse:
        key, params = await self._signed(request)
        a = self._order_args(params)
        spec: MarketSpec = a["spec"]
        now = self.now_ms()
        slices = self.faults.partial_fills
        cap: Decimal | None = None
        if slices > 1 and a["qty"] is not None:
            cap = max(quantize_down(a["qty"] / slices, spec.step), spec.step)
        result = self.engine.place(
            key.account_id,
            a["symbol"],
            a["side"],
            a["type_"],
            now,
            qty=a["qty"],
            price=a["price"],
            quote_qty=a["quote_qty"],
            time_in_force=a["time_in_force"],
            client_order_id=a["client_order_id"],
            max_fill_qty=cap,
        )
        withheld = key.account_id if self.faults.take_report_drop() else None
        self._publish(result, {a["symbol"]}, withhold_reports_of=withheld)
        order = result.order
        assert order is not None
        if order.working:
            self._spawn(self._fill_in_slices(order, cap))
        if self.faults.take_drop():
            # Executed, but the client never hears back: close the socket unanswered.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return web.json_response(order_result(order, result.trades, a["resp_type"], now, spec))

    async def _fill_in_slices(self, order: EngineOrder, cap: Decimal | None) -> None:
        for i in range(1, max(self.faults.partial_fills, 2)):
            await asyncio.sleep(0.01)
            if order.is_final or not order.working:
                return
            last = i >= self.faults.partial_fills - 1
            result = self.engine.resume(order.order_id, self.now_ms(), None if last else cap)
            self._publish(result, {order.symbol})
        if order.working:
            self._publish(self.engine.resume(order.order_id, self.now_ms(), None), {order.symbol})

    async def _test_order(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        a = self._order_args(params)
        self.engine.place(
            key.account_id,
            a["symbol"],
            a["side"],
            a["type_"],
            self.now_ms(),
            qty=a["qty"],
            price=a["price"],
            quote_qty=a["quote_qty"],
            time_in_force=a["time_in_force"],
            client_order_id=a["client_order_id"],
            validate_only=True,
        )
        return web.json_response({})

    def _find(self, key: ApiKey, params: dict[str, str]) -> EngineOrder:
        symbol = _required(params, "symbol")
        self.engine.market(symbol)
        if "orderId" in params:
            return self.engine.find_order(key.account_id, symbol, order_id=int(params["orderId"]))
        if "origClientOrderId" in params:
            return self.engine.find_order(
                key.account_id, symbol, client_order_id=params["origClientOrderId"]
            )
        raise ApiError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )

    async def _get_order(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        return web.json_response(order_query(self._find(key, params)))

    async def _cancel_order(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        symbol = _required(params, "symbol")
        try:
            order = self._find(key, params)
        except EngineReject:
            raise ApiError(-2011, "Unknown order sent.") from None
        result = self.engine.cancel(key.account_id, symbol, self.now_ms(), order_id=order.order_id)
        self._publish(result, {symbol})
        cancel_id = params.get("newClientOrderId") or f"cancel-{order.order_id}"
        return web.json_response(cancel_result(order, cancel_id, self.now_ms()))

    async def _open_orders(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        symbol = params.get("symbol")
        if symbol:
            self.engine.market(symbol)
        return web.json_response(
            [order_query(o) for o in self.engine.open_orders(key.account_id, symbol)]
        )

    async def _all_orders(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        symbol = _required(params, "symbol")
        self.engine.market(symbol)
        limit = min(int(params.get("limit", "500")), 1000)
        rows = [
            o
            for o in self.engine.orders.values()
            if o.account_id == key.account_id
            and o.symbol == symbol
            and o.order_id >= int(params.get("orderId", "0"))
            and o.created_ms >= int(params.get("startTime", "0"))
        ]
        return web.json_response([order_query(o) for o in rows[:limit]])

    async def _my_trades(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        symbol = _required(params, "symbol")
        spec = self.engine.market(symbol)
        limit = min(int(params.get("limit", "500")), 1000)
        from_id = int(params.get("fromId", "0"))
        start = int(params.get("startTime", "0"))
        end = int(params.get("endTime", str(2**62)))
        order_id = int(params["orderId"]) if "orderId" in params else None
        rows: list[dict[str, Any]] = []
        for t in self.engine.trades[symbol]:
            if t.trade_id < from_id or not start <= t.time_ms <= end:
                continue
            for row in my_trade(t, key.account_id, spec):
                if order_id is None or row["orderId"] == order_id:
                    rows.append(row)
        return web.json_response(rows[:limit])

    # -- listen keys -----------------------------------------------------------------------

    async def _listen_key_new(self, request: web.Request) -> web.Response:
        key = self._key_from_header(request)
        lk = secrets.token_hex(30)
        self._listen_keys[lk] = key.account_id
        return web.json_response({"listenKey": lk})

    async def _listen_key_keepalive(self, request: web.Request) -> web.Response:
        self._key_from_header(request)
        params = dict(parse_qsl(await request.text())) | dict(request.query)
        if params.get("listenKey") not in self._listen_keys:
            raise ApiError(-1125, "This listenKey does not exist.")
        return web.json_response({})

    async def _listen_key_close(self, request: web.Request) -> web.Response:
        self._key_from_header(request)
        params = dict(parse_qsl(await request.text())) | dict(request.query)
        self._listen_keys.pop(params.get("listenKey", ""), None)
        return web.json_response({})

    # -- websockets ------------------------------------------------------------------------

    async def _open_ws(
        self, request: web.Request, conn_mode: str
    ) -> tuple[web.WebSocketResponse, _WsConn]:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = _WsConn(ws=ws, mode=conn_mode)
        self._conns.add(conn)
        task = asyncio.get_running_loop().create_task(self._writer(conn))
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)
        return ws, conn

    async def _writer(self, conn: _WsConn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    break
                await conn.ws.send_str(text)
                conn.sent += 1
                every = self.faults.disconnect_ws_every_n
                if every and conn.sent >= every:
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._conns.discard(conn)
            with contextlib.suppress(Exception):
                await conn.ws.close()

    def _send(self, conn: _WsConn, payload: Any) -> None:
        text = json.dumps(payload)
        conn.queue.put_nowait(text)
        if self.faults.duplicate_ws_messages:
            conn.queue.put_nowait(text)

    async def _ws_market(self, request: web.Request) -> web.WebSocketResponse:
        tail = request.match_info.get("tail", "")
        ws, conn = await self._open_ws(request, "raw")
        if tail in self._listen_keys:
            conn.account_id = self._listen_keys[tail]
        elif "@" in tail:
            conn.streams.update(s.lower() for s in tail.split("/"))
        await self._read_loop(ws, conn)
        return ws

    async def _ws_combined(self, request: web.Request) -> web.WebSocketResponse:
        ws, conn = await self._open_ws(request, "combined")
        streams = request.query.get("streams", "")
        conn.streams.update(s.lower() for s in streams.split("/") if s)
        await self._read_loop(ws, conn)
        return ws

    async def _read_loop(self, ws: web.WebSocketResponse, conn: _WsConn) -> None:
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = json.loads(msg.data)
                except json.JSONDecodeError:
                    self._send(conn, {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
                    continue
                if conn.mode == "wsapi":
                    self._ws_api_request(conn, req)
                else:
                    self._ws_stream_request(conn, req)
        finally:
            self._conns.discard(conn)
            conn.queue.put_nowait(None)

    def _ws_stream_request(self, conn: _WsConn, req: dict[str, Any]) -> None:
        method = req.get("method")
        rid = req.get("id")
        params = req.get("params") or []
        if method == "SUBSCRIBE":
            conn.streams.update(str(p).lower() for p in params)
            self._send(conn, {"result": None, "id": rid})
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(str(p).lower() for p in params)
            self._send(conn, {"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            self._send(conn, {"result": sorted(conn.streams), "id": rid})
        else:
            self._send(
                conn,
                {
                    "error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
                    "id": rid,
                },
            )

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws, conn = await self._open_ws(request, "wsapi")
        await self._read_loop(ws, conn)
        return ws

    def _ws_api_request(self, conn: _WsConn, req: dict[str, Any]) -> None:
        rid = req.get("id")
        method = req.get("method")
        params: dict[str, Any] = req.get("params") or {}
        try:
            if method == "ping":
                result: Any = {}
            elif method == "time":
                result = {"serverTime": self.now_ms()}
            elif method == "userDataStream.subscribe.signature":
                key = self._keys.get(str(params.get("apiKey", "")))
                if key is None:
                    raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
                signature = str(params.get("signature", ""))
                rest = {k: v for k, v in params.items() if k != "signature"}
                payload = "&".join(f"{k}={_ws_value(v)}" for k, v in sorted(rest.items()))
                self._check_signature(key, payload, signature)
                self._check_timestamp({k: str(v) for k, v in rest.items()})
                self._next_sub_id += 1
                conn.subs[self._next_sub_id] = key.account_id
                result = {"subscriptionId": self._next_sub_id}
            elif method == "userDataStream.unsubscribe":
                sub = params.get("subscriptionId")
                if sub is None:
                    conn.subs.clear()
                else:
                    conn.subs.pop(int(sub), None)
                result = {}
            else:
                raise ApiError(-1100, f"Unsupported method {method!r} in this sandbox.")
        except ApiError as exc:
            self._send(
                conn,
                {"id": rid, "status": exc.status, "error": {"code": exc.code, "msg": exc.msg}},
            )
            return
        self._send(conn, {"id": rid, "status": 200, "result": result, "rateLimits": []})

    # -- publishing ------------------------------------------------------------------------

    def _publish(
        self, result: Result, symbols: set[str], withhold_reports_of: str | None = None
    ) -> None:
        now = self.now_ms()
        for e in result.executions:
            if e.account_id == withhold_reports_of:
                continue  # fault injection: this execution report is lost
            self._to_account(e.account_id, execution_report(e))
        for account_id, assets in result.touched.items():
            if account_id in (FEE_ACCOUNT, HOUSE_ACCOUNT):
                continue
            acc = self.engine.accounts[account_id]
            rows = [(a, acc.bal(a).free, acc.bal(a).locked) for a in sorted(assets)]
            self._to_account(account_id, account_position(now, rows))
        for t in result.trades:
            symbols.add(t.symbol)
        for symbol in symbols:
            self._publish_market(symbol, now, result)

    def _to_account(self, account_id: str, event: dict[str, Any]) -> None:
        for conn in list(self._conns):
            if conn.account_id == account_id:
                self._send(conn, event)
            for sub_id, acc in conn.subs.items():
                if acc == account_id:
                    self._send(conn, {"subscriptionId": sub_id, "event": event})

    def _publish_market(self, symbol: str, now: int, result: Result) -> None:
        depth = self.engine.depth(symbol)
        bids = dict(depth["bids"])
        asks = dict(depth["asks"])
        old_bids, old_asks = self._published[symbol]
        diff_b = _level_diff(old_bids, bids)
        diff_a = _level_diff(old_asks, asks)
        best_changed = next(iter(old_bids.items()), None) != next(iter(bids.items()), None) or (
            next(iter(old_asks.items()), None) != next(iter(asks.items()), None)
        )
        self._published[symbol] = (bids, asks)
        low = symbol.lower()
        if diff_b or diff_a:
            self._update_id[symbol] += 1
            uid = self._update_id[symbol]
            event = {
                "e": "depthUpdate",
                "E": now,
                "s": symbol,
                "U": uid,
                "u": uid,
                "b": [[d8(p), d8(q)] for p, q in diff_b],
                "a": [[d8(p), d8(q)] for p, q in diff_a],
            }
            self._to_stream(low, "depth", event)
        if best_changed:
            row = self._book_ticker_row(symbol)
            event = {
                "u": self._update_id[symbol],
                "s": symbol,
                "b": row["bidPrice"],
                "B": row["bidQty"],
                "a": row["askPrice"],
                "A": row["askQty"],
            }
            self._to_stream(low, "bookTicker", event)
        for t in result.trades:
            if t.symbol == symbol:
                self._to_stream(
                    low,
                    "trade",
                    {
                        "e": "trade",
                        "E": now,
                        "s": symbol,
                        "t": t.trade_id,
                        "p": d8(t.price),
                        "q": d8(t.qty),
                        "T": t.time_ms,
                        "m": t.buyer_is_maker,
                        "M": True,
                    },
                )
        if best_changed or any(t.symbol == symbol for t in result.trades):
            row = self._ticker_row(symbol)
            event = {
                "e": "24hrTicker",
                "E": now,
                "s": symbol,
                "p": row["priceChange"],
                "P": row["priceChangePercent"],
                "w": row["weightedAvgPrice"],
                "x": row["prevClosePrice"],
                "c": row["lastPrice"],
                "Q": row["lastQty"],
                "b": row["bidPrice"],
                "B": row["bidQty"],
                "a": row["askPrice"],
                "A": row["askQty"],
                "o": row["openPrice"],
                "h": row["highPrice"],
                "l": row["lowPrice"],
                "v": row["volume"],
                "q": row["quoteVolume"],
                "O": row["openTime"],
                "C": row["closeTime"],
                "F": row["firstId"],
                "L": row["lastId"],
                "n": row["count"],
            }
            self._to_stream(low, "ticker", event)
            mini = {k: event[k] for k in ("E", "s", "c", "o", "h", "l", "v", "q")}
            self._to_stream(low, "miniTicker", {"e": "24hrMiniTicker", **mini})

    def _to_stream(self, low_symbol: str, kind: str, event: dict[str, Any]) -> None:
        prefix = f"{low_symbol}@{kind}".lower()
        for conn in list(self._conns):
            for name in conn.streams:
                if name == prefix or (kind == "depth" and name.startswith(prefix + "@")):
                    if conn.mode == "combined":
                        self._send(conn, {"stream": name, "data": event})
                    else:
                        self._send(conn, event)
                    break

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- admin -----------------------------------------------------------------------------

    async def _admin_get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.to_dict())

    async def _admin_set_faults(self, request: web.Request) -> web.Response:
        from tradeguard.model.errors import ConfigError

        try:
            self.faults.update(await request.json())
        except ConfigError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.to_dict())

    async def _admin_reset_faults(self, request: web.Request) -> web.Response:
        self.faults.reset()
        return web.json_response(self.faults.to_dict())

    async def _admin_book(self, request: web.Request) -> web.Response:
        body = await request.json()
        result = self.set_book(body["symbol"], body.get("bids", []), body.get("asks", []))
        return web.json_response({"trades": len(result.trades)})

    async def _admin_trade(self, request: web.Request) -> web.Response:
        body = await request.json()
        result = self.trade_through(body["symbol"], body["side"], body["price"], body["qty"])
        return web.json_response({"trades": len(result.trades)})

    async def _admin_ws_disconnect(self, request: web.Request) -> web.Response:
        return web.json_response({"disconnected": self.disconnect_websockets()})

    async def _admin_add_account(self, request: web.Request) -> web.Response:
        body = await request.json()
        account_id = self.add_account(
            body["api_key"],
            body["secret"],
            {k: dec(str(v), k) for k, v in body.get("balances", {}).items()},
            bool(body.get("can_withdraw", False)),
        )
        return web.json_response({"account_id": account_id})

    async def _admin_clock(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.clock_offset_ms = int(body["offset_ms"])
        return web.json_response({"offset_ms": self.clock_offset_ms, "now_ms": self.now_ms()})


def _error(exc: ApiError) -> web.Response:
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)


def _strip_signature(raw: str) -> tuple[str, str]:
    """Split `a=1&b=2&signature=x` into (`a=1&b=2`, `x`), keeping the raw encoding."""
    if not raw:
        return "", ""
    kept = []
    sig = ""
    for part in raw.split("&"):
        if part.startswith("signature="):
            sig = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), sig


def _required(params: Any, name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return str(value)


def _num(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _NUM_RE.match(raw):
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        )
    value = Decimal(raw)
    if value != value.quantize(Decimal("0.00000001"), rounding="ROUND_DOWN"):
        raise ApiError(-1111, f"Parameter '{name}' has too much precision.")
    return value


def _ws_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _level_diff(
    old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]
) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out.extend((p, ZERO) for p in old if p not in new)
    return out

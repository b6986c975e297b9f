"""The sandbox exchange: Binance spot REST, market streams, user data streams, admin endpoints.

async with SandboxExchange(SandboxConfig()) as ex:
    ex.add_market("BTCUSDT", "BTC", "USDT", tick="0.01", step="0.00001",
                  min_qty="0.00001", min_notional="5")
    ex.add_account("key", "secret", {"USDT": Decimal("10000")})
    ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "1")])
    ...  # point ccxt at ex.rest_url / ex.ws_url (see sandbox.client)

Each area lives in its own module: `auth`, `middleware`, `rest_market`, `rest_orders`,
`rest_account`, `streams`, `publisher`, `wsapi`, `admin`; this class assembles them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal

from aiohttp import web

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import dec
from tradeguard.sandbox.admin import AdminRoutes, balances, flag, text
from tradeguard.sandbox.auth import ApiKey, Auth
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.drift import ArbDrift
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.klines import KlineStore
from tradeguard.sandbox.loopback import MAX_BODY_BYTES, LoopbackServer, serve
from tradeguard.sandbox.matching import MarketSpec, MatchingEngine, Result
from tradeguard.sandbox.middleware import MAX_BODY, coded, make_middleware
from tradeguard.sandbox.motion import RandomWalk
from tradeguard.sandbox.order_caps import OpenOrderCap
from tradeguard.sandbox.params import ApiError, error_response
from tradeguard.sandbox.publisher import Publisher
from tradeguard.sandbox.ratelimit import WeightLimiter
from tradeguard.sandbox.refill import HouseRefill
from tradeguard.sandbox.replay import Replay, ReplaySource
from tradeguard.sandbox.reqlog import RequestLog
from tradeguard.sandbox.rest_account import AccountRoutes
from tradeguard.sandbox.rest_lists import ListRoutes
from tradeguard.sandbox.rest_market import MarketRoutes
from tradeguard.sandbox.rest_orders import OrderRoutes
from tradeguard.sandbox.streams import StreamHub
from tradeguard.sandbox.wsapi import WsApi

__all__ = ["MAX_BODY_BYTES", "ApiError", "ApiKey", "SandboxExchange"]

Levels = Iterable[tuple[Decimal | str, Decimal | str]]


class SandboxExchange(LoopbackServer):
    """A local exchange speaking a subset of Binance's spot API on 127.0.0.1."""

    MARKET_FEES = (Decimal("0.001"), Decimal("0.001"))  # maker, taker

    def __init__(
        self, config: SandboxConfig | None = None, clock: Callable[[], int] | None = None
    ) -> None:
        self.config = config or SandboxConfig()
        self.limits = self.config.conn_limits()
        self.faults: Faults = self.config.faults
        self.engine = MatchingEngine()
        self.open_cap = OpenOrderCap(self.engine)
        self.clock_offset_ms = self.config.clock_offset_ms
        self._clock = clock or (lambda: int(time.time() * 1000))
        self.limiter = WeightLimiter(
            self.config.weight_limit_per_minute, self.config.ban_after_strikes, self.config.ban_s
        )
        self.auth = Auth(self.now_ms)
        self.hub = StreamHub(self.faults, lambda s: s in self.engine.markets)
        self.klines = KlineStore()
        self.publisher = Publisher(self.engine, self.hub, self.klines)
        self.wsapi = WsApi(self.hub, self.auth, self.now_ms)
        self.request_log: RequestLog | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._app = self._build_app()
        self.replays: list[Replay] = []
        self.walk: RandomWalk | None = None
        self.drift: ArbDrift | None = None
        self.refill = HouseRefill(self, self.config.house_refill_ms)
        self._seed_from_config()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the configured loopback host and port (0 picks a free one) and serve."""
        c = self.config
        if c.arb_drift_every_ms:
            self.drift = ArbDrift(
                self, every_ms=c.arb_drift_every_ms, hold_ms=c.arb_drift_hold_ms,
                edge_pct=c.arb_drift_edge_pct, seed=c.seed,
            )  # fmt: skip
        self._runner, self._port = await serve(
            self._app, self.config.host, self.config.port, self.limits
        )
        if c.request_log_path is not None:  # opened once listening: a failed start writes nothing
            self.request_log = RequestLog(c.request_log_path)
            self.request_log.open()
        if self.drift is not None:
            self.spawn(self.drift.run())
        if c.house_refill_ms:
            self.spawn(self.refill.run())
        for replay in self.replays:
            self.spawn(replay.run())
        if c.walk_every_ms and self.replays == [] and self.config.markets:
            symbols = [m["symbol"].replace("/", "").upper() for m in self.config.markets]
            self.walk = RandomWalk(self, symbols, c.walk_every_ms, c.walk_step_pct, c.seed)
            self.spawn(self.walk.run())

    async def stop(self) -> None:
        """Close every websocket and stop serving."""
        for task in list(self._tasks):
            task.cancel()
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.request_log is not None:
            self.request_log.close()

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
        bnb_fees: bool | None = None,
    ) -> str:
        """Create an account reachable with this key pair (or top up an existing one); return
        its account id. `bnb_fees`: pay fees in BNB (Binance's option; see sandbox/fees.py)."""
        if api_key in self.auth.keys:
            account_id = self.auth.keys[api_key].account_id
            acc = self.engine.add_account(account_id, balances)
        else:
            account_id = f"acct-{len(self.auth.keys) + 1}"
            acc = self.engine.add_account(
                account_id, {a: dec(v, a) for a, v in (balances or {}).items()}
            )
            self.auth.keys[api_key] = ApiKey(
                api_key, secret, account_id, can_withdraw, self.now_ms()
            )
        if bnb_fees is not None:
            acc.bnb_fees = bnb_fees
        self._keyed(api_key, secret, account_id)
        return account_id

    def _keyed(self, api_key: str, secret: str, account_id: str) -> None:
        """Let a venue's sandbox learn a key pair (its own signing scheme's)."""

    def account_id(self, api_key: str) -> str:
        """The account behind an API key."""
        return self.auth.keys[api_key].account_id

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
        maker_fee: Decimal | str | None = None,
        taker_fee: Decimal | str | None = None,
    ) -> MarketSpec:
        """List a spot market (`BTCUSDT` or `BTC/USDT`) with its filters and fees (by default
        the exchange's `MARKET_FEES`)."""
        maker_fee = self.MARKET_FEES[0] if maker_fee is None else maker_fee
        taker_fee = self.MARKET_FEES[1] if taker_fee is None else taker_fee
        spec = self._listing(MarketSpec(
            symbol=symbol.replace("/", "").upper(),
            base=base.upper(),
            quote=quote.upper(),
            tick=dec(tick, "tick"),
            step=dec(step, "step"),
            min_qty=dec(min_qty, "min_qty"),
            min_notional=dec(min_notional, "min_notional"),
            maker_fee=dec(maker_fee, "maker_fee"),
            taker_fee=dec(taker_fee, "taker_fee"),
        ))  # fmt: skip
        self.engine.add_market(spec)
        self.publisher.add_symbol(spec.symbol)
        return spec

    def _listing(self, spec: MarketSpec) -> MarketSpec:
        """The market as this exchange lists it (a venue's sandbox adds its own rules)."""
        return spec

    def set_book(self, symbol: str, bids: Levels, asks: Levels, at_ms: int | None = None) -> Result:
        """Replace the house market maker's quotes; crossing quotes fill resting orders.

        The house quotes these levels again when clients take them (`sandbox.refill`)."""
        sym = symbol.replace("/", "")
        bid_levels = [(dec(p), dec(q)) for p, q in bids]
        ask_levels = [(dec(p), dec(q)) for p, q in asks]
        now = self.now_ms() if at_ms is None else at_ms
        result = self.engine.set_book(sym, bid_levels, ask_levels, now)
        self.refill.remember(sym, bid_levels, ask_levels)
        self.publish(result, {sym})
        return result

    def trade_through(
        self,
        symbol: str,
        side: str,
        price: Decimal | str,
        qty: Decimal | str,
        at_ms: int | None = None,
    ) -> Result:
        """Have the house trade `qty` against resting orders up to `price` (IOC)."""
        sym = symbol.replace("/", "")
        now = self.now_ms() if at_ms is None else at_ms
        result = self.engine.trade_through(sym, side.upper(), dec(price), dec(qty), now)
        self.publish(result, {sym})
        return result

    def ws_subscriptions(self) -> list[str]:
        """Open websocket subscriptions: stream names, and `user:<account>` per user stream."""
        out: list[str] = []
        for conn in self.hub.conns:
            out.extend(sorted(conn.streams))
            if conn.account_id:
                out.append(f"user:{conn.account_id}")
            out.extend(f"user:{acc}" for acc in conn.subs.values())
        return out

    def disconnect_websockets(self) -> int:
        """Drop every websocket connection now; return how many were open."""
        return self.hub.drop_all()

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
                # a row without fees gets the dialect's own (add_market's defaults)
                **{k: str(m[k]) for k in ("maker_fee", "taker_fee") if k in m},
            )
            if m.get("bids") or m.get("asks"):
                self.set_book(m["symbol"], m.get("bids", []), m.get("asks", []))
        for a in self.config.accounts:
            self.add_account(*_account_row(a))
        if self.config.universe_markets:
            seed_universe(self, self.config.universe_markets, self.config.seed)
        # one start for every file: loading them takes seconds, and a file listed after a bar
        # boundary would play a bar later than its neighbours (and shift differently)
        started_ms = self.now_ms()
        for arg in self.config.replay:
            replay = Replay(
                self, ReplaySource.parse(arg), self.config.replay_speed,
                self.config.replay_history_bars,
            )  # fmt: skip
            replay.list_market(started_ms)
            self.replays.append(replay)

    # -- app -------------------------------------------------------------------------------

    def no_route(self, status: int, why: str) -> web.Response:
        """The answer to a request no route takes (404) or a method its route does not (405):
        Binance's error shape, -1020 (ccxt: BadRequest, not an outage to retry)."""
        return coded(ApiError(-1020, f"This operation is not supported: {why}.", status))

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[make_middleware(self)], client_max_size=MAX_BODY_BYTES)
        app[MAX_BODY] = MAX_BODY_BYTES
        r = app.router
        MarketRoutes(self).register(r)
        AccountRoutes(self).register(r)
        OrderRoutes(self).register(r)
        ListRoutes(self).register(r)
        AdminRoutes(self).register(r)
        r.add_get("/ws", self._ws_market)
        r.add_get("/ws/{tail:.+}", self._ws_market)
        r.add_get("/stream", self._ws_combined)
        r.add_get("/ws-api/v3", self._ws_api)
        return app

    async def _ws_market(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        account = self.auth.listen_keys.get(tail)
        names: list[str] = []
        if account is None and "@" in tail:
            names, bad = self.hub.names(tail.split("/"))
            if bad is not None:
                return error_response(ApiError(2, f"Invalid request: unknown stream '{bad}'"))
        conn = await self.hub.open(request, "raw")
        conn.account_id = account
        conn.streams.update(names)
        await self.hub.read_loop(conn, self.wsapi.handle)
        return conn.ws

    async def _ws_combined(self, request: web.Request) -> web.StreamResponse:
        raw = [s for s in request.query.get("streams", "").split("/") if s]
        names, bad = self.hub.names(raw)
        if bad is not None:
            return error_response(ApiError(2, f"Invalid request: unknown stream '{bad}'"))
        conn = await self.hub.open(request, "combined")
        conn.streams.update(names)
        await self.hub.read_loop(conn, self.wsapi.handle)
        return conn.ws

    async def _ws_api(self, request: web.Request) -> web.StreamResponse:
        conn = await self.hub.open(request, "wsapi")
        await self.hub.read_loop(conn, self.wsapi.handle)
        return conn.ws

    # -- publishing ------------------------------------------------------------------------

    def publish(
        self, result: Result, symbols: set[str], withhold_reports_of: str | None = None
    ) -> None:
        """Send the events of an engine result to the streams, then trigger crossed stops."""
        now = self.now_ms()
        self.publisher.publish(result, symbols, now, withhold_reports_of)
        for symbol in sorted({t.symbol for t in result.trades}):
            triggered = self.engine.trigger_stops(symbol, now)
            if triggered.executions:
                self.publish(triggered, {symbol})

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a background task that stops with the exchange."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _account_row(row: object) -> tuple[str, str, dict[str, Decimal], bool, bool]:
    """A sandbox config `accounts` row, checked as `POST /admin/accounts` checks its body."""
    if not isinstance(row, dict):
        raise ConfigError(f"sandbox accounts: {row!r} is not a table")
    try:
        return (
            text(row, "api_key"), text(row, "secret"), balances(row),
            bool(flag(row, "can_withdraw")), bool(flag(row, "bnb_fees")),
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"sandbox accounts: {exc}") from None

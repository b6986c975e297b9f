"""A Kalshi Trade API v2 server on loopback: signed REST, a binary matching engine, WebSocket.

async with KalshiExchange() as ex:
    ex.add_market("KXFED-26DEC-T4.00", "KXFED-26DEC", "Fed above 4.00%?")
    key_id = ex.add_account(public_key, Decimal("1000"))
    ex.seed_book("KXFED-26DEC-T4.00", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import ONE, ZERO, dec
from tradeguard.model.outcome import Outcome, Resolution, kalshi_fee
from tradeguard.sandbox.binary_book import FOK, GTC, IOC, BinaryBook, BinaryOrder, BookReject
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.kalshi.auth import AuthError, KalshiKey, verify_request
from tradeguard.sandbox.kalshi.book_feed import KalshiBookFeed
from tradeguard.sandbox.kalshi.wire import (  # KalshiError, KalshiMarket: their names here too
    KalshiError,
    KalshiMarket,
    book_json,
    decimal_of,
    dollars,
    fill_json,
    fp,
    iso,
    object_body,
    order_count,
    order_json,
    ws_command_error,
    ws_fill_json,
)
from tradeguard.sandbox.loopback import (
    LOOPBACK,
    MAX_BODY_BYTES,
    LoopbackServer,
    call_log,
    call_recorder,
    check_loopback,
    serve,
)
from tradeguard.sandbox.outcome_accounts import (
    HOUSE,
    FundsError,
    OutcomeAccount,
    cancel_resting,
    settle_holders,
)
from tradeguard.sandbox.paging import kalshi_page
from tradeguard.sandbox.unmatched import allowing, unmatched
from tradeguard.sandbox.ws_hub import WsConn, WsHub, refuse_if_down, subscribe_refusal

PREFIX = "/trade-api/v2"
_NO_ROUTE_CODES = {404: "not_found", 405: "method_not_allowed"}
WS_PATH = "/trade-api/ws/v2"
_TIF = {"good_till_canceled": GTC, "immediate_or_cancel": IOC, "fill_or_kill": FOK}
MAX_COUNT = 1_000_000  # contracts in one order; more is a typo (and beyond any real book)


class KalshiExchange(LoopbackServer):
    """The local Kalshi: markets, accounts, signed REST, streams, admin resolution and faults."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, writes_per_s: int = 100, page_size: int = 1000
    ) -> None:
        check_loopback(host)
        self.host, self._port = host, port
        self.writes_per_s = writes_per_s
        self.page_size = page_size  # rows per listing page at most (tests use a small one)
        self.book = BinaryBook()
        self.markets: dict[str, KalshiMarket] = {}
        self.accounts: dict[str, OutcomeAccount] = {HOUSE: OutcomeAccount(HOUSE, Decimal(10**9))}
        self.keys: dict[str, KalshiKey] = {}
        self.fills: dict[str, list[dict[str, Any]]] = {}
        self.faults = Faults()
        self.clock_offset_ms = 0
        self.before_balance: list[Callable[[], None]] = []  # fault hooks, each run once
        self.held_fills: list[tuple[str, dict[str, Any]]] | None = None  # fault: fills kept back
        # the latest calls (method, path, query, whether it carried a key): what clients asked
        self.requests = call_log()
        self._writes: dict[str, list[int]] = {}
        self.hub = WsHub()
        self.book_feed = KalshiBookFeed(self.hub, self.book, self._publish_ticker)
        self._runner: web.AppRunner | None = None

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(
            middlewares=[call_recorder(self.requests, "KALSHI-ACCESS"), self._middleware],
            client_max_size=MAX_BODY_BYTES,
        )
        r = app.router
        p = PREFIX
        r.add_get(f"{p}/exchange/status", self._status)
        r.add_get(f"{p}/markets", self._markets)
        r.add_get(f"{p}/markets/{{ticker}}", self._market)
        r.add_get(f"{p}/markets/{{ticker}}/orderbook", self._orderbook)
        r.add_get(f"{p}/portfolio/balance", self._balance)
        r.add_get(f"{p}/portfolio/positions", self._positions)
        r.add_get(f"{p}/portfolio/orders", self._orders)
        r.add_post(f"{p}/portfolio/orders", self._create_order)
        r.add_get(f"{p}/portfolio/orders/{{order_id}}", self._order)
        r.add_delete(f"{p}/portfolio/orders/{{order_id}}", self._cancel_order)
        r.add_get(f"{p}/portfolio/fills", self._fills)
        r.add_get(f"{p}/portfolio/settlements", self._settlements)
        r.add_get(WS_PATH, self._websocket)
        r.add_post("/admin/resolve", self._admin_resolve)
        r.add_post("/admin/faults", self._admin_faults)
        self._runner, self._port = await serve(app, self.host, self._port, self.limits)

    async def stop(self) -> None:
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}{PREFIX}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    # set-up ------------------------------------------------------------------------------
    def add_market(self, ticker: str, event_ticker: str, title: str, **kw: Any) -> KalshiMarket:
        market = KalshiMarket(ticker, event_ticker, title, **kw)
        self.markets[ticker] = market
        self.book.add_market(ticker)
        return market

    def add_account(self, public_key: rsa.RSAPublicKey, cash: Decimal, key_id: str = "") -> str:
        """Fund a new account signing with `public_key`; return its key id."""
        key_id = key_id or str(uuid.uuid4())
        account = f"acct-{len(self.accounts)}"
        self.accounts[account] = OutcomeAccount(account, cash)
        self.keys[key_id] = KalshiKey(key_id, public_key, account)
        return key_id

    def seed_book(
        self, ticker: str, yes_bids: list[tuple[str, str]], yes_asks: list[tuple[str, str]]
    ) -> None:
        """Rest house liquidity: YES bids, and YES asks (held as NO bids at 1 - p)."""
        for price, size in yes_bids:
            self._house_order(ticker, Outcome.YES, dec(price), dec(size))
        for price, size in yes_asks:
            self._house_order(ticker, Outcome.NO, ONE - dec(price), dec(size))

    def _house_order(self, ticker: str, outcome: Outcome, price: Decimal, size: Decimal) -> None:
        order = BinaryOrder(
            f"h-{uuid.uuid4().hex[:12]}",
            HOUSE,
            ticker,
            outcome,
            True,
            price,
            size,
            ts=self.now_ms(),
        )
        self.book.submit(order)

    def house_takes(self, ticker: str, outcome: Outcome, price: Decimal, size: Decimal) -> None:
        """A house buy of `outcome` at `price` trading now with what rests (an account's sell
        filled between two of its reads, by a `before_balance` hook); the rest is cancelled."""
        order = BinaryOrder(f"h-{uuid.uuid4().hex[:12]}", HOUSE, ticker, outcome, True, price,
                            size, tif=IOC, ts=self.now_ms())  # fmt: skip
        self._settle_trades(self.markets[ticker], self.book.submit(order))

    def account_of(self, key_id: str) -> OutcomeAccount:
        return self.accounts[self.keys[key_id].account_id]

    def resolve(self, ticker: str, resolution: Resolution) -> list[dict[str, object]]:
        """Settle a market: cancel its resting orders and pay every holder."""
        market = self._market_or_404(ticker)
        cancel_resting(self.book, self.accounts, ticker)
        market.status, market.result = "finalized", resolution.value
        rows = settle_holders(self.accounts, ticker, resolution, self.now_ms())
        self._broadcast(
            "market_lifecycle_v2",
            ticker,
            {
                "market_ticker": ticker,
                "event_type": "settled",
                "result": resolution.value,
            },
        )
        return rows

    # HTTP plumbing -----------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            missing = unmatched(request)
            if missing is not None:  # Kalshi's error object, not aiohttp's plain text
                status, why = missing
                raise KalshiError(status, _NO_ROUTE_CODES[status], why)
            if request.path.startswith("/admin"):
                if request.remote not in LOOPBACK:
                    raise KalshiError(403, "forbidden", "admin endpoints answer loopback only")
                await object_body(request)
                return await handler(request)
            if request.path.startswith(PREFIX):
                await object_body(request)
                delay = self.faults.latency_for(request.path)
                if delay:
                    await asyncio.sleep(delay / 1000)
                if self.faults.take_5xx():
                    raise KalshiError(503, "service_unavailable", "service unavailable (injected)")
                if self.faults.take_429():
                    raise KalshiError(429, "too_many_requests", "too many requests (injected)")
            return await handler(request)
        except KalshiError as exc:
            body = {"error": {"code": exc.code, "message": exc.message, "details": ""}}
            retry = {"Retry-After": "1"} if exc.status == 429 else None  # when to come back
            return allowing(request, web.json_response(body, status=exc.status, headers=retry))

    def _auth(self, request: web.Request) -> OutcomeAccount:
        try:
            key = verify_request(
                self.keys, dict(request.headers), request.method, request.path, self.now_ms()
            )
        except AuthError as exc:
            raise KalshiError(401, exc.code, str(exc)) from None
        return self.accounts[key.account_id]

    def _rate_check(self, account: str) -> None:
        now = self.now_ms()
        recent = [t for t in self._writes.get(account, []) if now - t < 1000]
        if len(recent) >= self.writes_per_s:
            raise KalshiError(
                429, "too_many_requests", f"more than {self.writes_per_s} writes per second"
            )
        recent.append(now)
        self._writes[account] = recent

    def _market_or_404(self, ticker: str) -> KalshiMarket:
        market = self.markets.get(ticker)
        if market is None:
            raise KalshiError(404, "market_not_found", f"market {ticker} not found")
        return market

    # public routes -----------------------------------------------------------------------
    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": True})

    def _market_json(self, m: KalshiMarket) -> dict[str, Any]:
        bids, asks = self.book.levels(m.ticker)
        yes_bid = bids[0][0] if bids else ZERO
        yes_ask = asks[0][0] if asks else ONE
        return {
            "ticker": m.ticker, "event_ticker": m.event_ticker, "title": m.title,
            "status": m.status, "result": m.result, "market_type": "binary",
            "yes_bid_dollars": dollars(yes_bid), "yes_ask_dollars": dollars(yes_ask),
            "no_bid_dollars": dollars(ONE - yes_ask), "no_ask_dollars": dollars(ONE - yes_bid),
            "tick_size_dollars": dollars(m.tick), "price_level_structure": "linear_cent",
        }  # fmt: skip

    async def _markets(self, request: web.Request) -> web.Response:
        event = request.query.get("event_ticker")
        status = request.query.get("status")
        rows = [
            self._market_json(m) for m in self.markets.values()
            if (not event or m.event_ticker == event)
            and (not status or (status == "open") == (m.status == "active"))
        ]  # fmt: skip
        page, cursor = self._page(rows, request)
        return web.json_response({"markets": page, "cursor": cursor})

    async def _market(self, request: web.Request) -> web.Response:
        market = self._market_or_404(request.match_info["ticker"])
        return web.json_response({"market": self._market_json(market)})

    async def _orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        self._market_or_404(ticker)
        book = book_json(ticker, *self.book.levels(ticker))
        return web.json_response(
            {"orderbook_fp": {"yes_dollars": book["yes_dollars"], "no_dollars": book["no_dollars"]}}
        )

    # portfolio ---------------------------------------------------------------------------
    async def _balance(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        while self.before_balance:
            self.before_balance.pop(0)()
        cents = int((acct.cash * 100).to_integral_value())
        return web.json_response(
            {"balance": cents, "balance_dollars": dollars(acct.cash), "portfolio_value": cents}
        )

    async def _positions(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        rows = []
        for ticker in self.markets:
            yes, no = acct.position(ticker)
            if yes or no:
                rows.append({"ticker": ticker, "position_fp": fp(yes - no)})
        page, cursor = self._page(rows, request)
        return web.json_response(
            {"market_positions": page, "event_positions": [], "cursor": cursor}
        )

    def _own_orders(self, acct: OutcomeAccount) -> list[BinaryOrder]:
        return [o for o in self.book.orders.values() if o.account == acct.account_id]

    async def _orders(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        ticker, status = request.query.get("ticker"), request.query.get("status")
        own = self._own_orders(acct)
        places = [
            i for i, o in enumerate(own)
            if (not ticker or o.market == ticker) and (not status or o.status == status)
        ]  # fmt: skip
        rows = [order_json(own[i]) for i in places]
        page, cursor = self._page(rows, request, places, len(own))
        return web.json_response({"orders": page, "cursor": cursor})

    def _page(self, rows: list[Any], request: web.Request, *places: Any) -> tuple[list[Any], str]:
        """One page of a listing, as Kalshi pages it (`limit`, `cursor`); `places`: the rows'
        places in the unfiltered listing and its length (see `kalshi_page`)."""
        try:
            return kalshi_page(rows, request.query, self.page_size, *places)
        except ValueError as exc:
            raise KalshiError(400, "invalid_parameters", str(exc)) from None

    def _own_order(self, acct: OutcomeAccount, order_id: str) -> BinaryOrder:
        order = self.book.orders.get(order_id)
        if order is None or order.account != acct.account_id:
            raise KalshiError(404, "not_found", f"order {order_id} not found")
        return order

    async def _order(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        return web.json_response(
            {"order": order_json(self._own_order(acct, request.match_info["order_id"]))}
        )

    async def _cancel_order(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        self._rate_check(acct.account_id)
        order = self._own_order(acct, request.match_info["order_id"])
        before = order.remaining
        if self.book.cancel(order.order_id) is None:
            raise KalshiError(404, "not_found", f"order {order.order_id} is not resting")
        acct.release(order)
        acct.net_pairs(order.market)  # contracts the sell held are free: one signed position
        return web.json_response({"order": order_json(order), "reduced_by_fp": fp(before)})

    async def _fills(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        rows = self.fills.get(acct.account_id, [])
        ticker, order_id = request.query.get("ticker"), request.query.get("order_id")
        raw_ts = request.query.get("min_ts") or "0"
        if not (raw_ts.isascii() and raw_ts.isdigit()) or len(raw_ts) > 18:
            raise KalshiError(400, "invalid_parameters", f"min_ts {raw_ts!r} is not a whole number")
        min_ts = int(raw_ts)
        rows = [
            f for f in rows
            if (not ticker or f["ticker"] == ticker) and (not order_id or f["order_id"] == order_id)
            and f["ts"] >= min_ts
        ]  # fmt: skip
        page, cursor = self._page(rows, request)
        return web.json_response({"fills": page, "cursor": cursor})

    async def _settlements(self, request: web.Request) -> web.Response:
        acct = self._auth(request)
        rows = [
            {
                "ticker": s["market"], "market_result": s["result"],
                "yes_count_fp": fp(decimal_of(s["yes_count"])),
                "no_count_fp": fp(decimal_of(s["no_count"])),
                "revenue": int(decimal_of(s["revenue"]) * 100),
                "revenue_dollars": dollars(decimal_of(s["revenue"])),
                "settled_time": iso(int(str(s["ts"]))),  # RFC 3339, as Kalshi sends it
            }
            for s in acct.settlements
        ]  # fmt: skip
        page, cursor = self._page(rows, request)
        return web.json_response({"settlements": page, "cursor": cursor})

    # order entry -------------------------------------------------------------------------
    def _parse_order(self, acct: OutcomeAccount, body: dict[str, Any]) -> BinaryOrder:
        ticker = str(body.get("ticker", ""))
        market = self._market_or_404(ticker)
        if market.status != "active":
            raise KalshiError(400, "market_closed", f"market {ticker} is {market.status}")
        side, action = body.get("side"), body.get("action")
        if side not in ("yes", "no") or action not in ("buy", "sell"):
            raise KalshiError(400, "invalid_parameters", "side must be yes|no and action buy|sell")
        try:
            count = order_count(body)
            key = "yes_price_dollars" if side == "yes" else "no_price_dollars"
            price = (
                dec(body[key], key)
                if key in body
                else dec(body.get(f"{side}_price", "0"), "price") / 100
            )
        except (ValueError, InvalidOperation) as exc:
            raise KalshiError(400, "invalid_parameters", str(exc)) from None
        if not count.is_finite() or not 0 < count <= MAX_COUNT or count % 1:
            raise KalshiError(
                400,
                "invalid_parameters",
                f"count {count} must be a whole number from 1 to {MAX_COUNT:,}",
            )
        if not price.is_finite() or not market.tick <= price <= ONE - market.tick:
            raise KalshiError(
                400, "invalid_price", f"price {price} is off the {market.tick} grid in (0, 1)"
            )
        if price % market.tick:
            raise KalshiError(
                400, "invalid_price", f"price {price} is off the {market.tick} grid in (0, 1)"
            )
        tif = _TIF.get(str(body.get("time_in_force", "good_till_canceled")))
        if tif is None:
            raise KalshiError(
                400,
                "invalid_parameters",
                f"time_in_force {body.get('time_in_force')!r} is not supported",
            )
        cid = body.get("client_order_id")
        cid = "" if cid is None else cid  # absent or null: no id; 0, false, [] are no string
        if not isinstance(cid, str) or not isinstance(body.get("post_only", False), bool):
            why = "client_order_id must be a string and post_only true or false"
            raise KalshiError(400, "invalid_parameters", why)
        if cid and any(o.client_id == cid for o in self._own_orders(acct)):
            raise KalshiError(
                409, "order_already_exists", f"client_order_id {cid} was already used"
            )
        return BinaryOrder(
            str(uuid.uuid4()), acct.account_id, ticker, Outcome(side), action == "buy", price,
            count, tif=tif, post_only=bool(body.get("post_only")), client_id=cid, ts=self.now_ms(),
        )  # fmt: skip

    async def _create_order(self, request: web.Request) -> web.StreamResponse:
        acct = self._auth(request)
        self._rate_check(acct.account_id)
        body = await request.json()
        order = self._parse_order(acct, body)
        market = self.markets[order.market]
        need = order.size * order.price + kalshi_fee(order.size, order.price, market.fee_rate)
        try:
            acct.reserve(order, need)
        except FundsError as exc:
            raise KalshiError(400, "insufficient_balance", str(exc)) from None
        try:
            trades = self.book.submit(order)
        except BookReject as exc:
            acct.release(order)
            raise KalshiError(400, exc.code.lower(), str(exc)) from None
        self._settle_trades(market, trades)
        if order.status != "resting" and not trades:  # a trade released it already
            acct.release(order)
        acct.net_pairs(order.market)
        if self.faults.take_drop():
            raise web.HTTPServiceUnavailable  # executed, but the answer is lost
        return web.json_response({"order": order_json(order)}, status=201)

    def _settle_trades(self, market: KalshiMarket, trades: list[Any]) -> None:
        for t in trades:
            for order in (t.taker, t.maker):
                price = order.own_price(t.yes_price)
                rate = market.fee_rate if order is t.taker else market.maker_fee_rate
                fee = kalshi_fee(t.size, price, rate) if rate else ZERO
                order.fee += fee
                acct = self.accounts[order.account]
                acct.apply_leg(order, t.size, price, fee)
                if order.status != "resting":
                    acct.release(order)
                acct.net_pairs(market.ticker)
                if order.account != HOUSE:
                    row = fill_json(t, order, fee)
                    self.fills.setdefault(order.account, []).append(row)
                    self._to_account(order.account, "fill", ws_fill_json(row))
            self._broadcast("trade", market.ticker, {
                "market_ticker": market.ticker, "yes_price_dollars": dollars(t.yes_price),
                "count_fp": fp(t.size), "taker_side": t.taker.outcome.value, "ts": t.ts // 1000,
            })  # fmt: skip

    # websocket ---------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        acct = self._auth(request)
        refuse_if_down(self.faults.refuse_ws)
        self.hub.refuse_if_full()
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        conn = WsConn(ws, acct.account_id, transport=request.transport)
        self.hub.conns.append(conn)
        try:
            async for msg in ws:
                try:
                    cmd = msg.json()
                except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
                    await ws.send_json({"type": "error", "msg": {"code": 1, "msg": "bad json"}})
                    continue
                await self._ws_command(conn, cmd)
        finally:
            self.hub.conns.remove(conn)
        return ws

    async def disconnect_websockets(self) -> int:
        """Drop every websocket connection now; return how many were open."""
        return await self.hub.drop_all()

    async def _ws_command(self, conn: WsConn, cmd: Any) -> None:
        shape = ws_command_error(cmd)
        if shape is not None:  # answered, the socket kept, as a command of another kind
            rid = cmd.get("id") if isinstance(cmd, dict) else None
            error = {"code": 1, "msg": shape}
            await conn.ws.send_json({"id": rid, "type": "error", "msg": error})
            return
        params = cmd.get("params") or {}
        if cmd.get("cmd") != "subscribe":
            error = {"code": 2, "msg": "unknown command"}
            await conn.ws.send_json({"id": cmd.get("id"), "type": "error", "msg": error})
            return
        tickers = set(
            params.get("market_tickers")
            or ([params["market_ticker"]] if params.get("market_ticker") else [])
        )
        for channel in params.get("channels", []):
            sid = self.hub.subscribe(conn, channel, tickers)
            if sid is None:
                error = {"code": 1, "msg": subscribe_refusal(conn, tickers, "market ticker")}
                await conn.ws.send_json({"id": cmd.get("id"), "type": "error", "msg": error})
                return
            ack = {"channel": channel, "sid": sid}
            await conn.ws.send_json({"id": cmd.get("id"), "type": "subscribed", "msg": ack})
            if channel == "orderbook_delta":
                for t in sorted(tickers & set(self.markets)):
                    await conn.ws.send_json(self.book_feed.snapshot(sid, t))

    def _broadcast(self, channel: str, ticker: str, msg: dict[str, Any], kind: str = "") -> None:
        self.hub.publish(
            channel, ticker, lambda sid: {"type": kind or channel, "sid": sid, "msg": msg}
        )

    def release_fills(self) -> None:
        """Stream the `fill` messages kept back since `held_fills` was set, and stop keeping."""
        held, self.held_fills = self.held_fills or [], None
        for account, msg in held:
            self._to_account(account, "fill", msg)

    def _to_account(self, account: str, channel: str, msg: dict[str, Any]) -> None:
        if channel == "fill" and self.held_fills is not None:  # not streamed yet
            self.held_fills.append((account, msg))
            return
        ticker = str(msg.get("ticker") or msg.get("market_ticker") or "")
        payload = {"type": channel, "msg": msg}
        self.hub.publish(channel, ticker, lambda sid: {**payload, "sid": sid}, account=account)

    def _publish_ticker(self, ticker: str) -> None:
        if ticker in self.markets:
            self._broadcast("ticker", ticker, self._market_json(self.markets[ticker]))

    # admin -------------------------------------------------------------------------------
    async def _admin_resolve(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            resolution = Resolution.parse(str(body.get("result", "")))
        except ValueError as exc:
            raise KalshiError(400, "invalid_parameters", str(exc)) from None
        rows = self.resolve(str(body.get("ticker", "")), resolution)
        return web.json_response(
            {"settled": len([r for r in rows if r["yes_count"] or r["no_count"]])}
        )

    async def _admin_faults(self, request: web.Request) -> web.Response:
        try:
            self.faults.update(await request.json())
        except ConfigError as exc:
            raise KalshiError(400, "invalid_parameters", str(exc)) from None
        return web.json_response(self.faults.to_dict())

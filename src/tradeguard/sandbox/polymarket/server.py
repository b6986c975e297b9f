"""A Polymarket CLOB V2 server on loopback: signed orders, L1/L2 auth, heartbeats, resolution.

async with PolymarketExchange() as ex:
    ex.add_market("fed-dec", yes_token="1001", no_token="1002")
    ex.add_account("0xAddress", Decimal("1000"))
    ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from aiohttp import web

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import ONE, ZERO, dec
from tradeguard.model.outcome import Outcome, Resolution, payout, polymarket_fee
from tradeguard.sandbox.binary_book import (
    FOK,
    GTC,
    IOC,
    BinaryBook,
    BinaryOrder,
    BookReject,
)
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.loopback import (
    LOOPBACK,
    MAX_BODY_BYTES,
    LoopbackServer,
    call_log,
    call_recorder,
    check_loopback,
    serve,
    too_large,
)
from tradeguard.sandbox.outcome_accounts import (
    HOUSE,
    FundsError,
    OutcomeAccount,
    cancel_resting,
    settle_holders,
)
from tradeguard.sandbox.paging import clob_page
from tradeguard.sandbox.polymarket import streams, trade_status
from tradeguard.sandbox.polymarket.auth import PolyAuthError, verify_l1, verify_l2, verify_order
from tradeguard.sandbox.polymarket.expiry import Expiries, order_expiration
from tradeguard.sandbox.polymarket.merge import merge_route
from tradeguard.sandbox.polymarket.trade_listing import trade_listing, trade_row, tx_hash
from tradeguard.sandbox.unmatched import allowing, unmatched
from tradeguard.sandbox.ws_hub import WsHub

HEARTBEAT_TIMEOUT_S = 10.0
_TIF = {"GTC": GTC, "GTD": GTC, "FOK": FOK, "FAK": IOC}
_SCALE = Decimal(1_000_000)


class PolyError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class PolyMarket:
    condition_id: str
    slug: str
    yes_token: str
    no_token: str
    tick: Decimal = Decimal("0.01")
    min_size: Decimal = Decimal("5")
    neg_risk: bool = False
    fee_rate: Decimal = ZERO
    fee_exponent: Decimal = ONE
    resolved: str = ""


class PolymarketExchange(LoopbackServer):
    """The local CLOB: markets keyed by condition id, books per token, accounts per address."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, page_size: int = 1000) -> None:
        check_loopback(host)
        self.host, self._port = host, port
        self.page_size = page_size  # markets or trades a listing page holds (tests: few)
        self.book = BinaryBook()
        self.markets: dict[str, PolyMarket] = {}
        self.tokens: dict[str, tuple[PolyMarket, Outcome]] = {}
        self.accounts: dict[str, OutcomeAccount] = {HOUSE: OutcomeAccount(HOUSE, Decimal(10**9))}
        self.creds: dict[str, tuple[str, str, str]] = {}  # api key -> secret, passphrase, address
        self.trades: dict[str, list[dict[str, Any]]] = {}
        self.faults = Faults()
        self.clock_offset_s = 0
        # the latest calls (method, path, query, whether it carried a key): what clients asked
        self.requests = call_log()
        self.hub = WsHub()
        self.feed = streams.MarketFeed(self)
        self._heartbeat: dict[str, float] = {}  # address -> monotonic deadline
        self._expiries = Expiries()  # GTD orders leave the book at their expiration
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        app = web.Application(
            middlewares=[call_recorder(self.requests, "POLY_"), self._middleware],
            client_max_size=MAX_BODY_BYTES,
        )
        r = app.router
        for path, handler in (
            ("/ok", self._ok), ("/markets", self._markets),
            ("/time", self._time), ("/version", self._version),
            ("/tick-size", self._tick_size), ("/neg-risk", self._neg_risk),
            ("/book", self._book), ("/clob-markets/{cid}", self._clob_market),
            ("/midpoint", self._midpoint), ("/price", self._price), ("/spread", self._spread),
            ("/auth/derive-api-key", self._derive_key), ("/data/orders", self._orders),
            ("/data/order/{oid}", self._order), ("/data/trades", self._trades),
            ("/balance-allowance", self._balance),
        ):  # fmt: skip
            r.add_get(path, handler)
        r.add_post("/auth/api-key", self._derive_key)
        r.add_post("/order", self._post_order)
        r.add_delete("/order", self._cancel)
        r.add_delete("/orders", self._cancel_many)
        r.add_delete("/cancel-all", self._cancel_all)
        r.add_post("/v1/heartbeats", self._heartbeat_in)
        r.add_get("/ws/market", self._ws_market)
        r.add_get("/ws/user", self._ws_user)
        r.add_post("/admin/resolve", self._admin_resolve)
        r.add_post("/admin/faults", self._admin_faults)
        r.add_post("/admin/merge", merge_route(self))
        self._runner, self._port = await serve(app, self.host, self._port, self.limits)
        self._watchdog = asyncio.create_task(self._heartbeat_watch())

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def now_s(self) -> int:
        return int(time.time()) + self.clock_offset_s

    # set-up ------------------------------------------------------------------------------
    def add_market(self, slug: str, yes_token: str, no_token: str, **kw: Any) -> PolyMarket:
        cid = "0x" + hashlib.sha256(slug.encode()).hexdigest()
        market = PolyMarket(cid, slug, yes_token, no_token, **kw)
        self.markets[cid] = market
        self.tokens[yes_token] = (market, Outcome.YES)
        self.tokens[no_token] = (market, Outcome.NO)
        self.book.add_market(cid)
        return market

    def set_trade_status(self, trade_id: str, status: str) -> int:
        """A later status of a match (`RETRYING`, `FAILED`...): `trade_status`."""
        return trade_status.set_trade_status(self, trade_id, status)

    def add_account(self, address: str, cash: Decimal) -> OutcomeAccount:
        account = self.accounts[address.lower()] = OutcomeAccount(address.lower(), cash)
        return account

    def seed_book(
        self, slug: str, yes_bids: list[tuple[str, str]], yes_asks: list[tuple[str, str]]
    ) -> None:
        cid = next(m.condition_id for m in self.markets.values() if m.slug == slug)
        for price, size in yes_bids:
            self.book.submit(
                BinaryOrder(uuid.uuid4().hex, HOUSE, cid, Outcome.YES, True, dec(price), dec(size))
            )
        for price, size in yes_asks:
            self.book.submit(
                BinaryOrder(
                    uuid.uuid4().hex, HOUSE, cid, Outcome.NO, True, ONE - dec(price), dec(size)
                )
            )

    def resolve(self, condition_id: str, resolution: Resolution) -> None:
        market = self.markets[condition_id]
        cancel_resting(self.book, self.accounts, condition_id)
        market.resolved = resolution.value
        settle_holders(self.accounts, condition_id, resolution, self.now_s() * 1000)

    # plumbing ----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            missing = unmatched(request)
            if missing is not None:  # the CLOB's {"error": ...}, not aiohttp's plain text
                raise PolyError(missing[1], missing[0])
            if request.path.startswith("/admin") and request.remote not in LOOPBACK:
                raise PolyError("admin endpoints answer loopback only", 403)
            if request.path.startswith("/admin"):  # faults never lock out their own switch
                return await handler(request)
            self._expire_due()
            delay = self.faults.latency_for(request.path)
            if delay:
                await asyncio.sleep(delay / 1000)
            if self.faults.take_5xx():
                raise PolyError("service unavailable (injected)", 503)
            if self.faults.take_429():
                raise PolyError("Too Many Requests (injected)", 429)
            return await handler(request)
        except PolyAuthError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        except PolyError as exc:
            # a 429 says when to come back, as the venue's does
            retry = {"Retry-After": "1"} if exc.status == 429 else None
            answer = web.json_response({"error": str(exc)}, status=exc.status, headers=retry)
            return allowing(request, answer)
        except RecursionError:  # json.loads on thousands of nested arrays
            why = "the body is not valid JSON (nested too deeply)"
            return web.json_response({"error": why}, status=400)
        except web.HTTPRequestEntityTooLarge:  # aiohttp's own answer is plain text
            return web.json_response({"error": too_large()}, status=413)

    async def _l2(self, request: web.Request) -> tuple[OutcomeAccount, str]:
        body = await request.text()
        address = verify_l2(
            self.creds, dict(request.headers), request.method, request.path, body, self.now_s()
        )
        acct = self.accounts.get(address.lower())
        if acct is None:
            raise PolyError("account has no funds on this exchange", 401)
        return acct, body

    def _token(self, token_id: str) -> tuple[PolyMarket, Outcome]:
        found = self.tokens.get(token_id)
        if found is None:
            raise PolyError(f"market not found for token id {token_id}", 404)
        return found

    # public ------------------------------------------------------------------------------
    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response("OK")

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response(self.now_s())

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": 2})

    async def _markets(self, request: web.Request) -> web.Response:
        rows = [
            {
                "condition_id": m.condition_id, "market_slug": m.slug, "question": m.slug,
                "tokens": [
                    _token_json(m, m.yes_token, Outcome.YES),
                    _token_json(m, m.no_token, Outcome.NO),
                ],
                "minimum_tick_size": str(m.tick), "minimum_order_size": str(m.min_size),
                "neg_risk": m.neg_risk, "active": not m.resolved, "closed": bool(m.resolved),
            }
            for m in self.markets.values()
        ]  # fmt: skip
        return self._page(request, rows)

    def _page(self, request: web.Request, rows: list[Any] | partial[list[Any]]) -> web.Response:
        try:  # rows listed here: a filter's ValueError answers 400 too
            listed = rows() if isinstance(rows, partial) else rows
            page, cursor = clob_page(listed, request.query.get("next_cursor", ""), self.page_size)
        except ValueError as exc:
            raise PolyError(str(exc)) from None
        return web.json_response(
            {"data": page, "next_cursor": cursor, "limit": self.page_size, "count": len(page)}
        )

    async def _tick_size(self, request: web.Request) -> web.Response:
        market, _ = self._token(request.query.get("token_id", ""))
        return web.json_response({"minimum_tick_size": float(market.tick)})

    async def _neg_risk(self, request: web.Request) -> web.Response:
        market, _ = self._token(request.query.get("token_id", ""))
        return web.json_response({"neg_risk": market.neg_risk})

    async def _clob_market(self, request: web.Request) -> web.Response:
        m = self.markets.get(request.match_info["cid"])
        if m is None:
            raise PolyError("market not found", 404)
        return web.json_response({
            "c": m.condition_id,
            "t": [{"t": m.yes_token, "o": "Yes"}, {"t": m.no_token, "o": "No"}],
            "mts": float(m.tick), "nr": m.neg_risk, "mos": float(m.min_size),
            "fd": {"r": float(m.fee_rate), "e": float(m.fee_exponent)},
        })  # fmt: skip

    def book_json(self, token_id: str) -> dict[str, Any]:
        market, outcome = self._token(token_id)
        bids, asks = self.book.levels(market.condition_id)
        if outcome is Outcome.NO:  # the NO book is the YES book seen from the other side
            bids, asks = [(ONE - p, q) for p, q in asks], [(ONE - p, q) for p, q in bids]
        return {
            "market": market.condition_id, "asset_id": token_id,
            "timestamp": str(self.now_s() * 1000),
            "bids": [{"price": str(p), "size": str(q)} for p, q in reversed(bids)],
            "asks": [{"price": str(p), "size": str(q)} for p, q in reversed(asks)],
            "tick_size": str(market.tick), "min_order_size": str(market.min_size),
            "neg_risk": market.neg_risk, "hash": "",
        }  # fmt: skip

    async def _book(self, request: web.Request) -> web.Response:
        return web.json_response(self.book_json(request.query.get("token_id", "")))

    def _touch(self, token_id: str) -> tuple[Decimal, Decimal]:
        """The token's best bid and best ask (404 when a side is empty, as the venue answers)."""
        book = self.book_json(token_id)
        bids = [Decimal(level["price"]) for level in book["bids"]]
        asks = [Decimal(level["price"]) for level in book["asks"]]
        if not bids or not asks:
            raise PolyError(f"No orderbook exists for the requested token id {token_id}", 404)
        return max(bids), min(asks)

    async def _midpoint(self, request: web.Request) -> web.Response:
        bid, ask = self._touch(request.query.get("token_id", ""))
        return web.json_response({"mid": str(((bid + ask) / 2).normalize())})

    async def _price(self, request: web.Request) -> web.Response:
        side = request.query.get("side", "").upper()
        if side not in ("BUY", "SELL"):
            raise PolyError(f"invalid side {side!r}: expected BUY or SELL", 400)
        bid, ask = self._touch(request.query.get("token_id", ""))
        return web.json_response({"price": str(bid if side == "BUY" else ask)})  # BUY: best bid

    async def _spread(self, request: web.Request) -> web.Response:
        bid, ask = self._touch(request.query.get("token_id", ""))
        return web.json_response({"spread": str(ask - bid)})

    async def _derive_key(self, request: web.Request) -> web.Response:
        address, nonce = verify_l1(dict(request.headers), self.now_s())
        seed = hashlib.sha256(f"{address.lower()}:{nonce}".encode()).digest()
        api_key = str(uuid.UUID(bytes=seed[:16]))
        secret = base64.urlsafe_b64encode(hashlib.sha256(seed + b"s").digest()).decode()
        passphrase = hashlib.sha256(seed + b"p").hexdigest()[:32]
        self.creds[api_key] = (secret, passphrase, address)
        return web.json_response({"apiKey": api_key, "secret": secret, "passphrase": passphrase})

    # trading -----------------------------------------------------------------------------
    async def _heartbeat_in(self, request: web.Request) -> web.Response:
        acct, _ = await self._l2(request)
        self._heartbeat[acct.account_id] = time.monotonic() + HEARTBEAT_TIMEOUT_S
        return web.json_response({"heartbeat_id": uuid.uuid4().hex})

    async def _heartbeat_watch(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self._expire_due()
            now = time.monotonic()
            for address, deadline in list(self._heartbeat.items()):
                if now > deadline:
                    del self._heartbeat[address]
                    self._cancel_where(lambda o, a=address: o.account == a)

    def _parse(self, acct: OutcomeAccount, body: str, api_key: str) -> BinaryOrder:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise PolyError("the body is not valid JSON", 400) from None
        signed = payload.get("order") if isinstance(payload, dict) else None
        if not isinstance(signed, dict):
            raise PolyError("the body must be a JSON object with an `order` object", 400)
        if payload.get("owner") != api_key:  # the CLOB books the order to its owner's key
            raise PolyError("the order owner has to be the same as the API KEY", 400)
        try:
            expires = order_expiration(signed, payload.get("orderType"), self.now_s())
        except ValueError as exc:
            raise PolyError(str(exc), 400) from None
        gtd = payload.get("orderType") == "GTD"
        if not isinstance(payload.get("postOnly", False), bool):  # "false" is no false
            raise PolyError(f"postOnly must be true or false, not {payload['postOnly']!r}", 400)
        market, outcome = self._token(str(signed.get("tokenId", "")))
        order_hash = verify_order(signed, market.neg_risk)
        if str(signed.get("maker", "")).lower() != acct.account_id:
            raise PolyError("the order maker is not the API key's address", 401)
        if market.resolved:
            raise PolyError(f"market {market.slug} is resolved", 400)
        maker, taker = (
            Decimal(signed["makerAmount"]) / _SCALE,
            Decimal(signed["takerAmount"]) / _SCALE,
        )
        buy = signed["side"] == "BUY"
        size, notional = (taker, maker) if buy else (maker, taker)
        if size <= 0:
            raise PolyError("invalid order size 0", 400)
        price = notional / size
        if price % market.tick or not (market.tick <= price <= ONE - market.tick):
            raise PolyError(f"invalid price {price}, tick size {market.tick}", 400)
        if size < market.min_size:
            raise PolyError(f"Size ({size}) lower than the minimum: {market.min_size}", 400)
        tif = _TIF.get(str(payload.get("orderType", "GTC")))
        if tif is None or order_hash in self.book.orders:
            raise PolyError("invalid order type or duplicated order", 400)
        return BinaryOrder(
            order_hash, acct.account_id, market.condition_id, outcome, buy, price, size,
            tif=tif, post_only=bool(payload.get("postOnly")), ts=self.now_s() * 1000,
            extra={"owner": api_key, **({"expiration": expires} if gtd else {})},
        )  # fmt: skip

    async def _post_order(self, request: web.Request) -> web.Response:
        acct, body = await self._l2(request)
        order = self._parse(acct, body, request.headers.get("POLY_API_KEY", ""))
        market = self.markets[order.market]
        fee_bound = polymarket_fee(order.size, order.price, market.fee_rate, market.fee_exponent)
        try:
            acct.reserve(order, order.size * order.price + fee_bound)
        except FundsError as exc:
            raise PolyError(f"not enough balance / allowance: {exc}", 400) from None
        try:
            trades = self.book.submit(order)
        except BookReject as exc:
            acct.release(order)
            raise PolyError(str(exc), 400) from None
        rows: list[dict[str, Any]] = []
        for t in trades:
            for o in (t.taker, t.maker):
                price = o.own_price(t.yes_price)
                fee = (
                    polymarket_fee(t.size, price, market.fee_rate, market.fee_exponent)
                    if o is t.taker
                    else ZERO
                )
                o.fee += fee
                self.accounts[o.account].apply_leg(o, t.size, price, fee)
                if o.status != "resting":
                    self.accounts[o.account].release(o)
                m = self.markets[o.market]
                row = trade_row((m.yes_token, m.no_token), t, o, fee)
                self.trades.setdefault(o.account, []).append(row)
                rows.append({**row, "owner": o.account, "timestamp": str(t.ts)})  # the channel: ms
        if order.status != "resting":
            acct.release(order)
        elif "expiration" in order.extra:
            self._expiries.add(int(str(order.extra["expiration"])), order.order_id)
        streams.publish_order(self, order, "PLACEMENT")
        streams.publish_trades(self, trades, rows)
        if self.faults.take_drop():
            raise web.HTTPServiceUnavailable  # executed, but the answer is lost
        status = (
            "live" if order.status == "resting" else ("matched" if order.filled else "unmatched")
        )
        return web.json_response({
            "success": True, "errorMsg": "", "orderID": order.order_id, "status": status,
            "makingAmount": str(order.cost), "takingAmount": str(order.filled),
            "tradeIDs": [t.trade_id for t in trades],
            "transactionsHashes": [tx_hash(t.trade_id) for t in trades],
        })  # fmt: skip

    def order_json(self, o: BinaryOrder) -> dict[str, Any]:
        m = self.markets[o.market]
        status = {"resting": "LIVE", "executed": "MATCHED", "canceled": "CANCELED"}[o.status]
        return {
            "id": o.order_id, "status": status, "market": o.market, "owner": o.account,
            "asset_id": m.yes_token if o.outcome is Outcome.YES else m.no_token,
            "side": "BUY" if o.buy else "SELL", "original_size": str(o.size),
            "size_matched": str(o.filled), "price": str(o.price),
            "order_type": "GTD" if "expiration" in o.extra else o.tif,
            "expiration": str(o.extra.get("expiration", 0)),
            "created_at": o.ts // 1000, "outcome": "Yes" if o.outcome is Outcome.YES else "No",
        }  # fmt: skip

    async def _orders(self, request: web.Request) -> web.Response:
        acct, _ = await self._l2(request)
        q = request.query
        rows = [
            self.order_json(o) for o in self.book.orders.values()
            if o.account == acct.account_id and o.status == "resting"
            and (not q.get("id") or o.order_id == q["id"])
            and (not q.get("market") or o.market == q["market"])
        ]  # fmt: skip
        return web.json_response(
            {"data": rows, "next_cursor": "LTE=", "limit": 500, "count": len(rows)}
        )

    async def _order(self, request: web.Request) -> web.Response:
        acct, _ = await self._l2(request)
        o = self.book.orders.get(request.match_info["oid"])
        if o is None or o.account != acct.account_id:
            return web.json_response(None)
        return web.json_response(self.order_json(o))

    async def _trades(self, request: web.Request) -> web.Response:
        """The account's trades, newest first, filtered as the CLOB does (`trade_listing`)."""
        acct, _ = await self._l2(request)
        rows = partial(trade_listing, self.trades.get(acct.account_id, []), request.query)
        return self._page(request, rows)  # a busy account's trades span several pages

    async def _balance(self, request: web.Request) -> web.Response:
        acct, _ = await self._l2(request)
        token = request.query.get("token_id")
        if request.query.get("asset_type") == "CONDITIONAL" and token:
            market, outcome = self._token(token)
            amount = acct.tokens.get((market.condition_id, outcome), ZERO)
        else:
            amount = acct.cash
        return web.json_response({"balance": str(int(amount * _SCALE)), "allowances": {}})

    def _cancel_where(self, pick: Any) -> tuple[list[str], dict[str, str]]:
        done: list[str] = []
        for o in list(self.book.orders.values()):
            if o.status == "resting" and pick(o) and self._cancel_one(o.order_id):
                done.append(o.order_id)
        return done, {}

    def _cancel_one(self, order_id: str) -> bool:
        o = self.book.cancel(order_id)
        if o is not None:
            self.accounts[o.account].release(o)
            streams.publish_order(self, o, "CANCELLATION")
        return o is not None

    def _expire_due(self) -> None:
        for order_id in self._expiries.due(self.now_s()):
            self._cancel_one(order_id)  # gone already when it filled or was cancelled

    async def _cancel(self, request: web.Request) -> web.Response:
        acct, body = await self._l2(request)
        oid = json.loads(body or "{}").get("orderID", "")
        done, _ = self._cancel_where(lambda o: o.account == acct.account_id and o.order_id == oid)
        missing = {} if done else {oid: "order not found or not open"}
        return web.json_response({"canceled": done, "not_canceled": missing})

    async def _cancel_many(self, request: web.Request) -> web.Response:
        acct, body = await self._l2(request)
        ids = set(json.loads(body or "[]"))
        done, _ = self._cancel_where(lambda o: o.account == acct.account_id and o.order_id in ids)
        return web.json_response(
            {"canceled": done, "not_canceled": {i: "not open" for i in ids - set(done)}}
        )

    async def _cancel_all(self, request: web.Request) -> web.Response:
        acct, _ = await self._l2(request)
        done, _ = self._cancel_where(lambda o: o.account == acct.account_id)
        return web.json_response({"canceled": done, "not_canceled": {}})

    async def _admin_resolve(self, request: web.Request) -> web.Response:
        body = await _admin_body(request)
        try:
            resolution = Resolution.parse(str(body.get("result", "")))
        except ValueError as exc:
            raise PolyError(str(exc), 400) from None
        cid = body.get("condition_id")
        by_slug = {m.slug: c for c, m in self.markets.items()}
        cid = by_slug.get(cid, cid) if isinstance(cid, str) else ""  # a slug names it too
        if cid not in self.markets:
            raise PolyError(
                f"condition_id {body.get('condition_id')!r} is not a market (give its condition "
                f"id or slug; slugs: {sorted(by_slug)[:10]})",
                404,
            )
        self.resolve(cid, resolution)
        return web.json_response({"resolved": resolution.value})

    async def _ws_market(self, request: web.Request) -> web.WebSocketResponse:
        return await streams.market_ws(self, request)

    async def _ws_user(self, request: web.Request) -> web.WebSocketResponse:
        return await streams.user_ws(self, request)

    async def disconnect_websockets(self) -> int:
        """Drop every websocket connection now; return how many were open."""
        return await self.hub.drop_all()

    async def _admin_faults(self, request: web.Request) -> web.Response:
        try:
            self.faults.update(await _admin_body(request))
        except ConfigError as exc:  # an unknown key or a value of the wrong type
            raise PolyError(str(exc), 400) from None
        return web.json_response(self.faults.to_dict())


async def _admin_body(request: web.Request) -> dict[str, Any]:
    """An admin call's JSON object; an empty, malformed or non-object body is a 400."""
    try:
        body = json.loads(await request.text() or "null")
    except ValueError:  # RecursionError is the middleware's "nested too deeply"
        raise PolyError("the body is not valid JSON", 400) from None
    if not isinstance(body, dict):
        raise PolyError(f"the body is JSON {type(body).__name__}; send an object", 400)
    return body


def _token_json(m: PolyMarket, token: str, outcome: Outcome) -> dict[str, Any]:
    row: dict[str, Any] = {"token_id": token, "outcome": outcome.value.capitalize()}
    if m.resolved:
        paid = payout(Resolution(m.resolved), outcome)
        row.update({"winner": paid == ONE, "price": float(paid)})
    return row

"""Signed order endpoints: place, test, query, cancel, open and past orders, own trades."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeguard.model.money import quantize_down
from tradeguard.sandbox.auth import ApiKey
from tradeguard.sandbox.matching import BUY, ORDER_TYPES, SELL, EngineOrder, EngineReject
from tradeguard.sandbox.params import ApiError, int_param, num, required
from tradeguard.sandbox.wire import (
    cancel_client_id,
    cancel_result,
    my_trade,
    order_query,
    order_result,
)

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

_CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_RESP_TYPES = ("ACK", "RESULT", "FULL")
_TIF_TYPES = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


def client_id(params: dict[str, str], name: str) -> str:
    """A client order id parameter, checked against Binance's pattern ('' when absent)."""
    cid = params.get(name, "")
    if cid and not _CLIENT_ID_RE.fullmatch(cid):  # a trailing newline is no id character
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    return cid


def order_side(params: dict[str, str]) -> str:
    """The `side` parameter, spelt as Binance takes it (BUY or SELL, capitals only)."""
    side = required(params, "side")
    if side not in (BUY, SELL):
        raise ApiError(
            -1100, "Illegal characters found in parameter 'side'; legal range is 'BUY', 'SELL'."
        )
    return side


def resp_type(params: dict[str, str]) -> str:
    """The `newOrderRespType` parameter (FULL when absent): ACK, RESULT or FULL, capitals only."""
    value = params.get("newOrderRespType", "FULL")
    if value not in _RESP_TYPES:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'newOrderRespType'; legal range is "
            "'ACK', 'RESULT', 'FULL'.",
        )
    return value


def order_args(engine: Any, params: dict[str, str]) -> dict[str, Any]:
    """The engine's `place` arguments from a new-order request, checked as Binance does."""
    symbol = required(params, "symbol")
    spec = engine.market(symbol)
    side = order_side(params)
    type_ = required(params, "type")
    if type_ not in ORDER_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    tif = params.get("timeInForce", "")
    if type_ in _TIF_TYPES and not tif:
        raise ApiError(
            -1102,
            "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
        )
    if type_ not in _TIF_TYPES and tif:
        raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
    return {
        "spec": spec,
        "symbol": symbol,
        "side": side,
        "type_": type_,
        "qty": num(params, "quantity"),
        "price": num(params, "price"),
        "quote_qty": num(params, "quoteOrderQty"),
        "stop_price": num(params, "stopPrice"),
        "time_in_force": tif or "GTC",
        "client_order_id": client_id(params, "newClientOrderId"),
        "resp_type": resp_type(params),
    }


class OrderRoutes:
    """Handlers of the signed order endpoints."""

    def __init__(self, ex: SandboxExchange) -> None:
        self.ex = ex
        self.engine = ex.engine

    def register(self, r: web.UrlDispatcher) -> None:
        """Add the routes to an app's router."""
        r.add_post("/api/v3/order", self.new_order)
        r.add_post("/api/v3/order/test", self.test_order)
        r.add_get("/api/v3/order", self.get_order)
        r.add_delete("/api/v3/order", self.cancel_order)
        r.add_get("/api/v3/openOrders", self.open_orders)
        r.add_delete("/api/v3/openOrders", self.cancel_open_orders)
        r.add_get("/api/v3/allOrders", self.all_orders)
        r.add_get("/api/v3/myTrades", self.my_trades)

    def _place(self, account_id: str, a: dict[str, Any], **kw: Any) -> Any:
        return self.engine.place(
            account_id, a["symbol"], a["side"], a["type_"], self.ex.now_ms(),
            qty=a["qty"], price=a["price"], quote_qty=a["quote_qty"],
            stop_price=a["stop_price"], time_in_force=a["time_in_force"],
            client_order_id=a["client_order_id"], **kw,
        )  # fmt: skip

    async def new_order(self, request: web.Request) -> web.StreamResponse:
        key, params = await self.ex.auth.signed(request)
        a = order_args(self.engine, params)
        spec = a["spec"]
        now = self.ex.now_ms()
        slices = self.ex.faults.partial_fills
        cap: Decimal | None = None
        if slices > 1 and a["qty"] is not None:
            cap = max(quantize_down(a["qty"] / slices, spec.step), spec.step)
        self.ex.open_cap.admit(key.account_id, a["symbol"])
        result = self._place(key.account_id, a, max_fill_qty=cap)
        assert result.order is not None
        self.ex.open_cap.placed(key.account_id, a["symbol"], [result.order.order_id])
        withheld = key.account_id if self.ex.faults.take_report_drop() else None
        self.ex.publish(result, {a["symbol"]}, withhold_reports_of=withheld)
        order = result.order
        assert order is not None
        if order.working:
            self.ex.spawn(self._fill_in_slices(order, cap))
        if self.ex.faults.take_drop():
            # Executed, but the client never hears back: close the socket unanswered.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return web.json_response(order_result(order, result.trades, a["resp_type"], now, spec))

    async def _fill_in_slices(self, order: EngineOrder, cap: Decimal | None) -> None:
        faults = self.ex.faults
        for i in range(1, max(faults.partial_fills, 2)):
            await asyncio.sleep(0.01)
            if order.is_final or not order.working:
                return
            last = i >= faults.partial_fills - 1
            result = self.engine.resume(order.order_id, self.ex.now_ms(), None if last else cap)
            self.ex.publish(result, {order.symbol})
        if order.working:
            self.ex.publish(
                self.engine.resume(order.order_id, self.ex.now_ms(), None), {order.symbol}
            )

    async def test_order(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        self._place(key.account_id, order_args(self.engine, params), validate_only=True)
        return web.json_response({})

    def _find(self, key: ApiKey, params: dict[str, str]) -> EngineOrder:
        symbol = required(params, "symbol")
        self.engine.market(symbol)
        if "orderId" in params:
            oid = int_param(params, "orderId")
            return self.engine.find_order(key.account_id, symbol, order_id=oid)
        if "origClientOrderId" in params:
            return self.engine.find_order(
                key.account_id, symbol, client_order_id=params["origClientOrderId"]
            )
        raise ApiError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )

    async def get_order(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        return web.json_response(order_query(self._find(key, params)))

    async def cancel_order(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        symbol = required(params, "symbol")
        try:
            order = self._find(key, params)
        except EngineReject:
            raise ApiError(-2011, "Unknown order sent.") from None
        result = self.engine.cancel(
            key.account_id, symbol, self.ex.now_ms(), order_id=order.order_id
        )
        self.ex.publish(result, {symbol})
        cancel_id = client_id(params, "newClientOrderId") or cancel_client_id(order.order_id)
        return web.json_response(cancel_result(order, cancel_id, self.ex.now_ms()))

    async def cancel_open_orders(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        symbol = required(params, "symbol")
        self.engine.market(symbol)
        open_ = self.engine.open_orders(key.account_id, symbol)
        if not open_:
            raise ApiError(-2011, "Unknown order sent.")
        rows = []
        for order in open_:
            if order.is_final:
                continue  # cancelled with its order list
            result = self.engine.cancel(
                key.account_id, symbol, self.ex.now_ms(), order_id=order.order_id
            )
            self.ex.publish(result, {symbol})
            rows.append(cancel_result(order, cancel_client_id(order.order_id), self.ex.now_ms()))
        return web.json_response(rows)

    async def open_orders(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        symbol = params.get("symbol")
        if symbol:
            self.engine.market(symbol)
        return web.json_response(
            [order_query(o) for o in self.engine.open_orders(key.account_id, symbol)]
        )

    async def all_orders(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        symbol = required(params, "symbol")
        self.engine.market(symbol)
        limit = _page_limit(params)
        first_id = int_param(params, "orderId", 0) or 0
        start, end = _order_window(params)
        rows = [
            o
            for o in self.engine.orders.values()
            if o.account_id == key.account_id
            and o.symbol == symbol
            and o.order_id >= first_id
            and start <= o.created_ms <= end
        ]
        return web.json_response(
            [order_query(o) for o in _page(rows, limit, _anchored(params, "orderId"))]
        )

    async def my_trades(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        symbol = required(params, "symbol")
        spec = self.engine.market(symbol)
        limit = _page_limit(params)
        from_id = int_param(params, "fromId", 0) or 0
        start, end = _trade_window(params)
        order_id = int_param(params, "orderId")
        rows: list[dict[str, Any]] = []
        for t in self.engine.trades[symbol]:
            if t.trade_id < from_id or not start <= t.time_ms <= end:
                continue
            for row in my_trade(t, key.account_id, spec):
                if order_id is None or row["orderId"] == order_id:
                    rows.append(row)
        anchored = bool(params.get("fromId")) or (
            bool(params.get("startTime")) and self.ex.config.my_trades_start_alone != "latest"
        )
        return web.json_response(_page(rows, limit, anchored))


TRADE_WINDOW_MS = 86_400_000  # Binance answers own trades over at most 24 hours


def _trade_window(params: Any) -> tuple[int, int]:
    """The time span a myTrades query reads, as Binance bounds it: `startTime` and `endTime` at
    most 24 hours apart (-1127), neither with `fromId` nor with `orderId` (-1128, no supported
    combination); one of them alone bounds that side only (Binance's rule for histories: from
    `startTime` on, or up to `endTime`), and no time at all reads every row."""
    start = int_param(params, "startTime")
    end = int_param(params, "endTime")
    if start is None and end is None:
        return 0, 2**62
    if int_param(params, "fromId") is not None or int_param(params, "orderId") is not None:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    return _window(start, end)


def _window(start: int | None, end: int | None) -> tuple[int, int]:
    """`startTime`..`endTime` of a history query: at most 24 hours apart (-1127); a side not
    sent is open."""
    if start is not None and end is not None and end - start > TRADE_WINDOW_MS:
        raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
    return start or 0, 2**62 if end is None else end


def _order_window(params: Any) -> tuple[int, int]:
    """The time span an allOrders query reads: `startTime` and `endTime` at most 24 hours apart
    (-1127), as Binance documents; one of them alone bounds that side only."""
    return _window(int_param(params, "startTime"), int_param(params, "endTime"))


def _anchored(params: Any, first: str) -> bool:
    """Whether a history query names where its page starts: `first` (even 0) or `startTime`."""
    return bool(params.get(first) or params.get("startTime"))


def _page(rows: list[Any], limit: int, anchored: bool) -> list[Any]:
    """One page of a history, oldest first: from the anchor (`fromId`, `orderId` or
    `startTime`) on when one was sent, else the most recent `limit` rows, as Binance answers."""
    return rows[:limit] if anchored else rows[-limit:]


def _page_limit(params: Any) -> int:
    """`limit` of a history query: above 0; more than 1000 is cut to 1000, as Binance does."""
    value = int_param(params, "limit", 500)
    if value is None or value < 1:
        raise ApiError(
            -1100, "Illegal characters found in parameter 'limit'; legal range is '1..1000'."
        )
    return min(value, 1000)

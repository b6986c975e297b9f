"""Order list endpoints: `POST /api/v3/orderList/oco`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from tradeguard.sandbox.contingent import Leg
from tradeguard.sandbox.orders import ORDER_TYPES
from tradeguard.sandbox.params import ApiError, num, required
from tradeguard.sandbox.rest_orders import client_id, order_side, resp_type
from tradeguard.sandbox.wire import order_list_result, order_result

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange


def _leg(params: dict[str, str], prefix: str) -> Leg:
    type_ = required(params, f"{prefix}Type")
    if type_ not in ORDER_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    tif = params.get(f"{prefix}TimeInForce", "")
    if type_.endswith("_LIMIT") and not tif:
        name = f"{prefix}TimeInForce"
        raise ApiError(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return Leg(
        type=type_,
        price=num(params, f"{prefix}Price"),
        stop_price=num(params, f"{prefix}StopPrice"),
        time_in_force=tif or "GTC",
        client_order_id=client_id(params, f"{prefix}ClientOrderId"),
    )


class ListRoutes:
    """Handlers of the order list endpoints."""

    def __init__(self, ex: SandboxExchange) -> None:
        self.ex = ex
        self.engine = ex.engine

    def register(self, r: web.UrlDispatcher) -> None:
        """Add the routes to an app's router."""
        r.add_post("/api/v3/orderList/oco", self.new_oco)

    async def new_oco(self, request: web.Request) -> web.Response:
        key, params = await self.ex.auth.signed(request)
        symbol = required(params, "symbol")
        spec = self.engine.market(symbol)
        side = order_side(params)
        resp = resp_type(params)  # checked before anything is placed
        qty = num(params, "quantity")
        if qty is None:
            raise ApiError(
                -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
            )
        now = self.ex.now_ms()
        self.ex.open_cap.admit(key.account_id, symbol, 2)
        lst, result = self.engine.contingent.place_oco(
            key.account_id, symbol, side, qty, _leg(params, "above"), _leg(params, "below"),
            client_id(params, "listClientOrderId"), now,
        )  # fmt: skip
        self.ex.publish(result, {symbol})
        self.ex.open_cap.placed(key.account_id, symbol, list(lst.order_ids))
        orders = [self.engine.orders[oid] for oid in lst.order_ids]
        reports = [order_result(o, result.trades, resp, now, spec) for o in orders]
        status = self.engine.contingent.list_status(lst.list_id)
        if self.ex.faults.take_drop():
            # Placed, but the client never hears back: close the socket unanswered.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return web.json_response(
            order_list_result(lst.list_id, lst.client_id, status, orders, reports, now)
        )

"""Stop, take-profit and OCO orders through ccxt, where the exchange has them (Binance and
Kraken spot; OCO lists on Binance only).

ccxt's unified `create_order` takes a Binance spot trigger order as its type (`STOP_LOSS`,
`STOP_LOSS_LIMIT`, `TAKE_PROFIT`, `TAKE_PROFIT_LIMIT`) with `params={"stopPrice": ...}`.
ccxt.kraken takes type `market` or `limit` with `params={"stopLossPrice": ...}` or
`{"takeProfitPrice": ...}` and sends Kraken's `ordertype` `stop-loss[-limit]` /
`take-profit[-limit]`, the trigger as `price` and a limit as `price2`. ccxt
has no unified spot OCO: the pair goes out on Binance's own `POST /api/v3/orderList/oco`
through ccxt's implicit method `private_post_orderlist_oco`, one request for both legs. The leg
above the market is the take-profit of a sell (the stop of a buy), the leg below the other.
"""

from __future__ import annotations

from decimal import localcontext
from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.ccxt_connection import NATIVE_OCO_EXCHANGES, map_ccxt_error

if TYPE_CHECKING:
    from tradeguard.venues.ccxt_venue import CcxtVenue

# Exchanges whose spot API takes the trigger types above and the OCO endpoint.
_WIRE_TYPE = {
    OrderType.STOP_LOSS: "STOP_LOSS",
    OrderType.STOP_LOSS_LIMIT: "STOP_LOSS_LIMIT",
    OrderType.TAKE_PROFIT: "TAKE_PROFIT",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
    OrderType.LIMIT: "LIMIT_MAKER",  # an OCO's plain take-profit leg
}


_KRAKEN_TRIGGER = {
    OrderType.STOP_LOSS: "stopLossPrice",
    OrderType.STOP_LOSS_LIMIT: "stopLossPrice",
    OrderType.TAKE_PROFIT: "takeProfitPrice",
    OrderType.TAKE_PROFIT_LIMIT: "takeProfitPrice",
}


def trigger_args(
    order: Order, exchange_id: str = "binance"
) -> tuple[str, float | None, dict[str, Any]]:
    """The ccxt (type, price, params) of a trigger order, params beyond the client id."""
    assert order.trigger_price is not None
    if exchange_id == "kraken":
        return _kraken_trigger_args(order)
    params: dict[str, Any] = {"stopPrice": str(order.trigger_price)}
    price = None
    if order.type.has_limit:
        assert order.price is not None
        price = float(order.price)
        params["timeInForce"] = order.time_in_force.value
    return _WIRE_TYPE[order.type], price, params


def _kraken_trigger_args(order: Order) -> tuple[str, float | None, dict[str, Any]]:
    params: dict[str, Any] = {_KRAKEN_TRIGGER[order.type]: str(order.trigger_price)}
    if not order.type.has_limit:
        return "market", None, params
    assert order.price is not None
    params["timeInForce"] = order.time_in_force.value
    return "limit", float(order.price), params


def _leg(prefix: str, order: Order, venue: CcxtVenue) -> dict[str, str]:
    symbol = order.symbol
    out = {f"{prefix}Type": _WIRE_TYPE[order.type], f"{prefix}ClientOrderId": order.client_order_id}
    if order.trigger_price is not None:
        out[f"{prefix}StopPrice"] = venue.client.price_to_precision(
            symbol, str(order.trigger_price)
        )
    if order.type.has_limit and order.price is not None:
        out[f"{prefix}Price"] = venue.client.price_to_precision(symbol, str(order.price))
        if order.type is not OrderType.LIMIT:
            out[f"{prefix}TimeInForce"] = order.time_in_force.value
    return out


async def submit_oco(venue: CcxtVenue, take_profit: Order, stop: Order) -> list[OrderReport]:
    """Send both legs as one Binance OCO list; answer one report per leg."""
    method = getattr(venue.client, "private_post_orderlist_oco", None)
    if method is None or venue.exchange_id not in NATIVE_OCO_EXCHANGES:
        raise DefinitiveVenueError(
            venue.name, f"{venue.exchange_id} takes no OCO orders through tradeguard",
            "OCO_UNSUPPORTED",
        )  # fmt: skip
    try:
        with localcontext():  # ccxt's precision helpers change the context they run in
            market, request = _request(venue, take_profit, stop)
    except Exception as exc:  # ccxt refuses the symbol or an amount before anything is sent
        raise map_ccxt_error(venue.name, "submit", exc) from None
    for order in (take_profit, stop):
        inst = venue.instruments.get(order.symbol)
        if inst is not None:
            await venue._check_rules(order, inst)
    raw = await venue._send((take_profit, stop), method, request)
    reports = []
    for row in raw.get("orderReports") or ():
        parsed = venue.client.parse_order(row, market)
        cid = str(row.get("clientOrderId") or "")
        reports.append(venue._report(parsed, cid))
        for leg in (take_profit, stop):
            if leg.client_order_id == cid:  # a leg that filled as it arrived
                venue._apply_trades(parsed, leg)
    return reports


def _request(venue: CcxtVenue, take_profit: Order, stop: Order) -> tuple[Any, dict[str, Any]]:
    """The market and the OCO list request of both legs, amounts and prices in its precision."""
    market = venue.client.market(stop.symbol)
    above, below = (take_profit, stop) if stop.side is Side.SELL else (stop, take_profit)
    request = {
        "symbol": market["id"],
        "side": stop.side.value.upper(),
        "quantity": venue.client.amount_to_precision(stop.symbol, str(stop.amount)),
        "listClientOrderId": stop.oco_group,
        "newOrderRespType": "FULL",
        **_leg("above", above, venue),
        **_leg("below", below, venue),
    }
    return market, request

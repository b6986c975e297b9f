"""Kraken's JSON shapes for orders, trades and errors, from the matching engine's records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO
from tradeguard.sandbox.kraken.names import pair_altname, pair_id, trade_txid
from tradeguard.sandbox.orders import (
    CANCELED,
    EXPIRED,
    FILLED,
    INSUFFICIENT_BALANCE,
    MARKET,
    REJECTED,
    STOP_LOSS,
    STOP_LOSS_LIMIT,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
    EngineOrder,
    EngineReject,
    MarketSpec,
    Trade,
)

INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
UNKNOWN_ORDER = "EOrder:Unknown order"
ORDER_MINIMUM = "EOrder:Order minimum not met"
INVALID_PRICE = "EOrder:Invalid price:Invalid price argument"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"
_STATUS = {FILLED: "closed", CANCELED: "canceled", EXPIRED: "expired", REJECTED: "canceled"}
_ORDERTYPE = {
    MARKET: "market", STOP_LOSS: "stop-loss", TAKE_PROFIT: "take-profit",
    STOP_LOSS_LIMIT: "stop-loss-limit", TAKE_PROFIT_LIMIT: "take-profit-limit",
}  # fmt: skip


def ordertype(engine_type: str) -> str:
    """Kraken's `ordertype` of an engine order type (limit for a plain or post-only limit)."""
    return _ORDERTYPE.get(engine_type, "limit")


def describe(engine_type: str, price: Decimal | None, stop_price: Decimal | None) -> str:
    """The tail of an order's `descr.order` after side, volume and pair, as Kraken writes it:
    ` @ limit 50000`, ` @ market`, ` @ stop loss 45000`, ` @ take profit 55000 -> limit 55100`."""
    kind = ordertype(engine_type)
    if kind == "market":
        return " @ market"
    if kind == "limit":
        return f" @ limit {num(price or ZERO)}"
    words = kind.removesuffix("-limit").replace("-", " ")
    tail = f" -> limit {num(price or ZERO)}" if kind.endswith("-limit") else ""
    return f" @ {words} {num(stop_price or ZERO)}{tail}"


class KrakenError(Exception):
    """An answer `{"error": [message], "result": {}}`."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def num(value: Decimal) -> str:
    """A decimal as Kraken writes it: plain digits, no exponent."""
    text = format(value.normalize(), "f") if value else "0"
    return text


def secs(ms: int) -> float:
    """Epoch milliseconds as Kraken's float seconds."""
    return ms / 1000


def engine_error(exc: EngineReject) -> KrakenError:
    """The Kraken error string for an engine refusal."""
    msg = exc.msg
    if msg == INSUFFICIENT_BALANCE:
        return KrakenError(INSUFFICIENT_FUNDS)
    if exc.code == -2011 or exc.code == -2013:
        return KrakenError(UNKNOWN_ORDER)
    if exc.code == -1121:
        return KrakenError(UNKNOWN_PAIR)
    if "PRICE_FILTER" in msg or msg == "Invalid price.":
        return KrakenError(INVALID_PRICE)
    if "LOT_SIZE" in msg or "NOTIONAL" in msg:
        return KrakenError(ORDER_MINIMUM)
    if msg == "Invalid quantity.":
        return KrakenError(f"{INVALID_ARGUMENTS}:volume")
    if msg == "Duplicate order sent.":
        return KrakenError("EOrder:Invalid order:cl_ord_id is in use by an open order")
    return KrakenError(f"{INVALID_ARGUMENTS}:{msg}")


def order_status(order: EngineOrder) -> str:
    return _STATUS.get(order.status, "open")


def order_json(
    order: EngineOrder,
    spec: MarketSpec,
    trades: list[Trade],
    userref: int | None,
    cl_ord_id: str | None,
    with_trades: bool,
) -> dict[str, Any]:
    """One order as QueryOrders / OpenOrders / ClosedOrders show it."""
    pair = pair_altname(spec.base, spec.quote)
    kind = ordertype(order.type)
    side = order.side.lower()
    trigger = order.stop_price if order.stop_price else None
    limit = order.price if kind not in ("market", "stop-loss", "take-profit") else None
    # Kraken's `price` is the trigger of a stop, `price2` its limit.
    price, price2 = (trigger, limit) if trigger is not None else (limit, None)
    fee = sum(
        (t.buyer_fee if t.buyer_order_id == order.order_id else t.seller_fee for t in trades),
        ZERO,
    )
    avg = order.cum_quote / order.executed_qty if order.executed_qty else ZERO
    at = describe(order.type, limit, trigger)
    doc: dict[str, Any] = {
        "refid": None,
        "userref": userref,
        "cl_ord_id": cl_ord_id,
        "status": order_status(order),
        "reason": None,
        "opentm": secs(order.created_ms),
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": pair, "type": side, "ordertype": kind, "price": num(price or ZERO),
            "price2": num(price2 or ZERO),
            "leverage": "none", "order": f"{side} {num(order.orig_qty)} {pair}{at}", "close": "",
        },
        "vol": num(order.orig_qty),
        "vol_exec": num(order.executed_qty),
        "cost": num(order.cum_quote),
        "fee": num(fee),
        "price": num(avg),
        "stopprice": num(trigger or ZERO),
        "limitprice": num(limit) if trigger is not None and limit is not None else "0",
        "misc": "",
        "oflags": "fciq",
    }  # fmt: skip
    if order.is_final:
        doc["closetm"] = secs(order.updated_ms)
    if with_trades:
        doc["trades"] = [trade_txid(t.trade_id) for t in trades]
    return doc


def trade_json(
    trade: Trade, spec: MarketSpec, account_id: str, txid_of_order: str, ordertype: str
) -> dict[str, Any]:
    """One of an account's executions as TradesHistory / QueryTrades show it."""
    is_buyer = trade.buyer_account == account_id
    maker = trade.buyer_is_maker if is_buyer else not trade.buyer_is_maker
    return {
        "ordertxid": txid_of_order,
        "postxid": "TKH2SE-M7IF5-CFI7LT",
        "pair": pair_id(spec.base, spec.quote),
        "time": secs(trade.time_ms),
        "type": "buy" if is_buyer else "sell",
        "ordertype": ordertype,
        "price": num(trade.price),
        "cost": num(trade.quote_qty),
        "fee": num(trade.buyer_fee if is_buyer else trade.seller_fee),
        "vol": num(trade.qty),
        "margin": "0",
        "misc": "",
        "trade_id": trade.trade_id,
        "maker": maker,
    }

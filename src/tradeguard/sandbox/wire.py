"""Binance spot JSON shapes: how the sandbox renders markets, orders, trades and events."""

from __future__ import annotations

import hashlib
import string
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO
from tradeguard.sandbox.matching import (
    BUY,
    ORDER_TYPES,
    TRIGGERED_KIND,
    EngineOrder,
    Execution,
    MarketSpec,
    MatchingEngine,
    Trade,
)
from tradeguard.sandbox.order_caps import MAX_NUM_ORDERS

_Q8 = Decimal("0.00000001")
_BASE62 = string.digits + string.ascii_letters


def cancel_client_id(order_id: int) -> str:
    """The 22-character id Binance gives a cancel sent without `newClientOrderId`."""
    digest = int.from_bytes(hashlib.sha256(f"cancel:{order_id}".encode()).digest()[:17], "big")
    out = []
    for _ in range(22):
        digest, i = divmod(digest, 62)
        out.append(_BASE62[i])
    return "".join(out)


def d8(value: Decimal) -> str:
    """Format like Binance: fixed point with 8 decimals."""
    return f"{value.quantize(_Q8):f}"


def symbol_info(spec: MarketSpec) -> dict[str, Any]:
    """One entry of `exchangeInfo.symbols`."""
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": d8(spec.min_price),
                "maxPrice": d8(spec.max_price),
                "tickSize": d8(spec.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": d8(spec.min_qty),
                "maxQty": d8(spec.max_qty),
                "stepSize": d8(spec.step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": d8(spec.min_qty),
                "maxQty": d8(spec.max_qty),
                "stepSize": d8(spec.step),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": d8(spec.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": MAX_NUM_ORDERS},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def order_result(
    order: EngineOrder, trades: list[Trade], resp_type: str, now_ms: int, spec: MarketSpec
) -> dict[str, Any]:
    """The answer to `POST /api/v3/order` for newOrderRespType ACK, RESULT or FULL."""
    out: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "transactTime": now_ms,
    }
    if resp_type == "ACK":
        return out
    if order.type in TRIGGERED_KIND:
        out["stopPrice"] = d8(order.stop_price)
    out.update(_order_state(order))
    out.update({"workingTime": order.created_ms, "selfTradePreventionMode": "NONE"})
    if resp_type == "FULL":
        fills = []
        for t in trades:
            if order.order_id not in (t.buyer_order_id, t.seller_order_id):
                continue
            is_buyer = t.buyer_order_id == order.order_id
            fills.append(
                {
                    "price": d8(t.price),
                    "qty": d8(t.qty),
                    "commission": d8(t.buyer_fee if is_buyer else t.seller_fee),
                    "commissionAsset": fee_asset(t, spec, is_buyer),
                    "tradeId": t.trade_id,
                }
            )
        out["fills"] = fills
    return out


def order_query(order: EngineOrder) -> dict[str, Any]:
    """The answer to `GET /api/v3/order` and one row of `openOrders` / `allOrders`."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "price": d8(order.price),
        "origQty": d8(order.orig_qty),
        "executedQty": d8(order.executed_qty),
        "cummulativeQuoteQty": d8(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
        "stopPrice": d8(order.stop_price),
        "icebergQty": d8(Decimal(0)),
        "time": order.created_ms,
        "updateTime": order.updated_ms,
        "isWorking": order.on_book or order.working or order.triggered,
        "workingTime": order.created_ms,
        "origQuoteOrderQty": d8(order.orig_quote_qty),
        "selfTradePreventionMode": "NONE",
    }


def cancel_result(order: EngineOrder, cancel_id: str, now_ms: int) -> dict[str, Any]:
    """The answer to `DELETE /api/v3/order`."""
    out = {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": cancel_id,
        "transactTime": now_ms,
        **_order_state(order),
        "selfTradePreventionMode": "NONE",
    }
    if order.type in TRIGGERED_KIND:
        out["stopPrice"] = d8(order.stop_price)
    return out


def _order_state(order: EngineOrder) -> dict[str, Any]:
    """Price, quantities, status and kind, as an order or cancel answer lists them."""
    return {
        "price": d8(order.price),
        "origQty": d8(order.orig_qty),
        "executedQty": d8(order.executed_qty),
        "origQuoteOrderQty": d8(order.orig_quote_qty),
        "cummulativeQuoteQty": d8(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }


def my_trade(t: Trade, account_id: str, spec: MarketSpec) -> list[dict[str, Any]]:
    """Rows of `GET /api/v3/myTrades` for one trade (two if the account was on both sides)."""
    rows = []
    for is_buyer in (True, False):
        acc = t.buyer_account if is_buyer else t.seller_account
        if acc != account_id:
            continue
        rows.append(
            {
                "symbol": t.symbol,
                "id": t.trade_id,
                "orderId": t.buyer_order_id if is_buyer else t.seller_order_id,
                "orderListId": -1,
                "price": d8(t.price),
                "qty": d8(t.qty),
                "quoteQty": d8(t.quote_qty),
                "commission": d8(t.buyer_fee if is_buyer else t.seller_fee),
                "commissionAsset": fee_asset(t, spec, is_buyer),
                "time": t.time_ms,
                "isBuyer": is_buyer,
                "isMaker": t.buyer_is_maker == is_buyer,
                "isBestMatch": True,
            }
        )
    return rows


def execution_report(e: Execution) -> dict[str, Any]:
    """A user-stream `executionReport` event."""
    canceled = e.exec_type == "CANCELED"
    return {
        "e": "executionReport",
        "E": e.event_ms,
        "s": e.symbol,
        "c": e.client_order_id if not canceled else cancel_client_id(e.order_id),
        "S": e.side,
        "o": e.type,
        "f": e.time_in_force,
        "q": d8(e.orig_qty),
        "p": d8(e.price),
        "P": d8(e.stop_price),
        "F": d8(Decimal(0)),
        "g": e.order_list_id,
        "C": e.client_order_id if canceled else "",
        "x": e.exec_type,
        "X": e.status,
        "r": "NONE",
        "i": e.order_id,
        "l": d8(e.last_qty),
        "z": d8(e.executed_qty),
        "L": d8(e.last_price),
        "n": d8(e.commission),
        "N": e.commission_asset,
        "T": e.event_ms,
        "t": e.trade_id,
        "v": 0,
        "I": e.order_id * 10 + (1 if e.exec_type == "TRADE" else 0),
        "w": e.on_book,
        "m": e.is_maker,
        "M": False,
        "O": e.created_ms,
        "Z": d8(e.cum_quote),
        "Y": d8(e.last_qty * e.last_price),
        "Q": d8(e.orig_quote_qty),
        "W": e.created_ms,
        "V": "NONE",
    }


def account_position(now_ms: int, balances: list[tuple[str, Decimal, Decimal]]) -> dict[str, Any]:
    """A user-stream `outboundAccountPosition` event."""
    return {
        "e": "outboundAccountPosition",
        "E": now_ms,
        "u": now_ms,
        "B": [{"a": a, "f": d8(f), "l": d8(lk)} for a, f, lk in balances],
    }


def agg_trade(t: Trade) -> dict[str, Any]:
    """One aggregate trade as `GET /api/v3/aggTrades` and the `aggTrade` stream carry it (each
    trade is its own aggregate)."""
    return {
        "a": t.trade_id,
        "p": d8(t.price),
        "q": d8(t.qty),
        "f": t.trade_id,
        "l": t.trade_id,
        "T": t.time_ms,
        "m": t.buyer_is_maker,
        "M": True,
    }


def side_of_taker(t: Trade) -> str:
    """The aggressor side of a trade."""
    return "SELL" if t.buyer_is_maker else BUY


def book_ticker_row(engine: MatchingEngine, symbol: str) -> dict[str, Any]:
    """One row of `GET /api/v3/ticker/bookTicker`."""
    bid, ask = engine.best(symbol)
    return {
        "symbol": symbol,
        "bidPrice": d8(bid[0] if bid else ZERO),
        "bidQty": d8(bid[1] if bid else ZERO),
        "askPrice": d8(ask[0] if ask else ZERO),
        "askQty": d8(ask[1] if ask else ZERO),
    }


def ticker_row(engine: MatchingEngine, symbol: str, now: int) -> dict[str, Any]:
    """One row of `GET /api/v3/ticker/24hr` over the last 24 hours of trades."""
    trades = [t for t in engine.trades[symbol] if t.time_ms >= now - 86_400_000]
    bid, ask = engine.best(symbol)
    last = engine.last_price(symbol) or ZERO
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


def order_list_result(
    list_id: int,
    list_client_id: str,
    status: tuple[str, str],
    orders: list[EngineOrder],
    reports: list[dict[str, Any]],
    now_ms: int,
) -> dict[str, Any]:
    """The answer to `POST /api/v3/orderList/oco`: the list, its orders and their reports."""
    return {
        "orderListId": list_id,
        "contingencyType": "OCO",
        "listStatusType": status[0],
        "listOrderStatus": status[1],
        "listClientOrderId": list_client_id,
        "transactionTime": now_ms,
        "symbol": orders[0].symbol,
        "orders": [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
            for o in orders
        ],
        "orderReports": reports,
    }


def fee_asset(t: Trade, spec: MarketSpec, is_buyer: bool) -> str:
    """The asset a trade side paid its fee in: what it received, unless paid in BNB."""
    if is_buyer:
        return t.buyer_fee_asset or spec.base
    return t.seller_fee_asset or spec.quote

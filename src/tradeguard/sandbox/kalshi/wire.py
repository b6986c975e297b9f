"""Kalshi's JSON shapes: fixed-point dollar strings (`*_dollars`) and counts (`*_fp`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from tradeguard.model.money import ONE, ZERO, dec
from tradeguard.sandbox.binary_book import BinaryOrder, Trade
from tradeguard.sandbox.loopback import too_large


class KalshiError(Exception):
    """An answer in Kalshi's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(slots=True)
class KalshiMarket:
    ticker: str
    event_ticker: str
    title: str
    tick: Decimal = Decimal("0.01")
    fee_rate: Decimal = Decimal("0.07")
    maker_fee_rate: Decimal = ZERO
    status: str = "active"
    result: str = ""


def dollars(value: Decimal) -> str:
    return f"{value:.4f}"


def fp(value: Decimal) -> str:
    return f"{value:.2f}"


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_json(o: BinaryOrder) -> dict[str, Any]:
    yes = o.yes_price if o.outcome.value == "yes" else ONE - o.price
    return {
        "order_id": o.order_id,
        "user_id": o.account,
        "client_order_id": o.client_id,
        "ticker": o.market,
        "side": o.outcome.value,
        "action": "buy" if o.buy else "sell",
        "type": "limit",
        "status": o.status,
        "yes_price_dollars": dollars(yes),
        "no_price_dollars": dollars(ONE - yes),
        "fill_count_fp": fp(o.filled),
        "remaining_count_fp": fp(o.remaining if o.status == "resting" else Decimal(0)),
        "initial_count_fp": fp(o.size),
        "taker_fill_cost_dollars": dollars(o.cost),
        "taker_fees_dollars": dollars(o.fee),
        "created_time": iso(o.ts),
        "self_trade_prevention_type": "taker_at_cross",
    }


def fill_json(t: Trade, order: BinaryOrder, fee: Decimal) -> dict[str, Any]:
    return {
        "fill_id": f"{t.trade_id}-{order.order_id}",
        "trade_id": f"{t.trade_id}-{order.order_id}",  # Kalshi: the same as fill_id
        "order_id": order.order_id,
        "client_order_id": order.client_id,
        "ticker": t.market,
        "market_ticker": t.market,
        "side": order.outcome.value,
        "action": "buy" if order.buy else "sell",
        "count_fp": fp(t.size),
        "yes_price_dollars": dollars(t.yes_price),
        "no_price_dollars": dollars(ONE - t.yes_price),
        "is_taker": order is t.taker,
        "fee_cost": dollars(fee),
        "created_time": iso(t.ts),
        "ts": t.ts // 1000,
    }


def ws_fill_json(row: dict[str, Any]) -> dict[str, Any]:
    """A REST fill row as the `fill` channel carries it: the fill's id as `trade_id`, the market
    as `market_ticker`, the YES price only and a whole-second `ts` (no `fill_id`, `ticker`,
    `no_price_dollars` or `created_time`)."""
    return {
        "trade_id": row["fill_id"],
        "order_id": row["order_id"],
        "market_ticker": row["market_ticker"],
        "is_taker": row["is_taker"],
        "side": row["side"],
        "purchased_side": row["side"],
        "action": row["action"],
        "yes_price_dollars": row["yes_price_dollars"],
        "count_fp": row["count_fp"],
        "fee_cost": row["fee_cost"],
        "ts": row["ts"],
        "client_order_id": row["client_order_id"],
    }


def book_json(
    ticker: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
) -> dict[str, Any]:
    """Bids only on both sides: a YES ask at p is a NO bid at 1 - p; best price last."""
    yes = [[dollars(p), fp(q)] for p, q in reversed(bids)]
    no = [[dollars(ONE - p), fp(q)] for p, q in reversed(asks)]
    return {"market_ticker": ticker, "yes_dollars": yes, "no_dollars": no}


def order_count(body: dict[str, Any]) -> Decimal:
    """The contracts of an order: `count_fp`, else `count`; both given must agree (Kalshi
    refuses an order whose two counts differ rather than take one of them)."""
    if "count_fp" not in body:
        return dec(body.get("count", ""), "count")
    count = dec(body["count_fp"], "count_fp")
    if "count" in body and dec(body["count"], "count") != count:
        raise ValueError(f"count {body['count']!r} and count_fp {body['count_fp']!r} differ")
    return count


def decimal_of(value: object) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def ws_command_error(cmd: Any) -> str | None:
    """What is wrong with the shape of a websocket command, or None: an object whose `params`
    (if any) is an object, its `channels` and `market_tickers` lists of strings and its
    `market_ticker` a string."""
    if not isinstance(cmd, dict):
        return "a command must be a JSON object"
    params = cmd.get("params") or {}
    if not isinstance(params, dict):
        return "params must be a JSON object"
    for name in ("channels", "market_tickers"):
        value = params.get(name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            return f"params.{name} must be a list of strings"
    ticker = params.get("market_ticker")
    if ticker is not None and not isinstance(ticker, str):
        return "params.market_ticker must be a string"
    return None


async def object_body(request: web.Request) -> None:
    """Refuse a POST body that is not a JSON object (aiohttp keeps it for the handler)."""
    if request.method != "POST":
        return
    if not request.can_read_body:  # every POST here takes an object; an empty one was a 500
        raise KalshiError(400, "invalid_parameters", "the body is empty; send a JSON object")
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: thousands of nested arrays
        raise KalshiError(400, "invalid_parameters", "the body is not valid JSON") from None
    except web.HTTPRequestEntityTooLarge:  # aiohttp's own answer is plain text
        raise KalshiError(413, "request_too_large", too_large()) from None
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise KalshiError(400, "invalid_parameters", f"the body is JSON {kind}; send an object")

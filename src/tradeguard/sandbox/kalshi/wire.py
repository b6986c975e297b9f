"""Kalshi's JSON shapes: fixed-point dollar strings (`*_dollars`) and counts (`*_fp`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ONE
from tradeguard.sandbox.binary_book import BinaryOrder, Trade


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

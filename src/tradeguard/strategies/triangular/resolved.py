"""A held cycle's record once its unresolved order ended: what it holds now, at cost.

```python
amended, change = resolve_row(row, pending, order, fills)   # the record as it is now
```

`hold_unresolved` stopped the cycle on an order still in flight and held what that leg was
given. When the order ends later (the venue answers a query, its stream reports it, or the next
start's reconciliation finds it), the record is brought to what happened, once:
- filled (whole or in part): what the leg spent leaves the held amounts, what it received joins
  them at its cost (the cost of what was spent); a last leg's proceeds are the start asset come
  back, so the cycle's profit is then realised;
- ended unfilled: what the leg was given stays as it is, held (an intermediate asset) or free
  again (the start asset a first leg was given: the record ends `failed`, nothing traded).

An unwind hop held so (`hold_unresolved_hop`) is booked the same way in the record's unwinds:
its whole given stayed at cost, so start asset it brought back is returned (the cycle's profit
and unwind loss realised), anything else it bought stays held at that cost. A hop that filled
whole leaves what it was not given (the amount cut to the lot size) as dust, at its cost.

The start asset a first leg was given is no longer held once its order ended: the order locks
it no more. A fee charged in an asset the leg neither spent nor received counts at no cost here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.fill import Fill, fill_totals
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.strategies.triangular.exec_book import HUNDRED
from tradeguard.strategies.triangular.exec_records import (
    LegExecution,
    cycle_profit,
    leg_assets,
    sell_back,
)

__all__ = ["Resolution", "resolve_row"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the order's end changed in its record."""

    outcome_before: str
    outcome: str
    held_before: dict[str, str]
    held: dict[str, str]
    profit_before: Decimal
    profit: Decimal
    status: str
    filled: Decimal
    note: str


def _d(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def _booked(
    leg: Mapping[str, Any], order: Order, fills: Sequence[Fill], late: Sequence[Fill]
) -> LegExecution:
    """The leg as its order ended: its journaled `fills`, or the fills seen since it was held
    (`late`) added to what it had, or, when neither adds up to the order's filled amount, the
    order's totals (fee in quote)."""
    side, symbol = Side(leg["side"]), str(leg["symbol"])
    src, dst = str(leg.get("from") or ""), str(leg.get("to") or "")
    if not src or not dst:  # a record written without them: the market says which
        src, dst = leg_assets(symbol, side)
    ex = LegExecution(
        str(leg.get("kind") or "leg"), int(leg["index"]), symbol, side, src, dst,
        _d(leg["scanned_price"]), _d(leg["limit_price"]), _d(leg["order_amount"]),
    )  # fmt: skip
    had = _d(leg["filled"])
    late_amount = sum((f.amount for f in late), ZERO)
    if fills and sum((f.amount for f in fills), ZERO) == order.filled:
        ex.book_fills(fills)
    elif late and had + late_amount == order.filled:
        totals = fill_totals(late)
        value = had * _d(leg["avg_price"]) + totals.cost
        fee_asset = str(leg["fee_asset"]) or late[0].fee_asset
        ex.book(order.filled, value, _d(leg["fee"]) + totals.fee, fee_asset)
    else:
        quote = ex.from_asset if ex.side is Side.BUY else ex.to_asset
        ex.book(order.filled, order.filled * order.avg_price, order.fee, quote)
    ex.status = order.status.value
    ex.client_order_id, ex.latency_ms = str(leg["client_order_id"]), float(leg["latency_ms"])
    return ex


def resolve_row(
    row: Mapping[str, Any],
    pending: Mapping[str, Any],
    order: Order,
    fills: Sequence[Fill],
    late: Sequence[Fill] = (),
) -> tuple[dict[str, Any], Resolution]:
    """Return the record `row` as the end of its unresolved order `order` leaves it (`pending`:
    which leg, and the cost per unit of what it was given; `fills`: all journaled for it;
    `late`: those seen in this run since it was held)."""
    body = dict(row["legs"])
    hop = pending.get("kind") == "unwind"  # an unwind hop: its whole given stayed at cost
    part = "unwinds" if hop else "legs"
    legs = [dict(leg) for leg in body[part]]
    at = int(pending["leg"])
    old = legs[at]
    ex = _booked(old, order, fills, late)
    start, cost = str(row["start_asset"]), _d(pending["from_cost"])
    d_spent, d_recv = ex.spent - _d(old["spent"]), ex.received - _d(old["received"])
    held = {a: _d(q) for a, q in body["held"].items()}
    held_why, held_on = dict(body["held_why"]), dict(body["held_on"])
    spent, returned = _d(body["spent"]), _d(body["returned"])
    profit_before = _d(row["actual_profit"])
    fees = _d(row["fees"]) + _fee_change(ex, _d(old["fee"]), cost, start)
    note = (
        f"{'unwind' if hop else 'leg'} {at + 1} ({ex.symbol}) resolved: order "
        f"{order.client_order_id} ended {ex.status}, filled {order.filled} of {order.amount}"
    )
    held[ex.from_asset] = held.get(ex.from_asset, ZERO) - d_spent
    left = min(_d(pending.get("given")) - d_spent, held[ex.from_asset])  # the hop's own share
    if hop and ex.status == OrderStatus.FILLED.value and left > 0:
        # the hop sold all it was sent: what it was not given (cut to the lot size) is dust
        # at its cost, as an unwind that sold at once records it, not held to sell
        dust = {a: _d(q) for a, q in (body.get("dust") or {}).items()}
        dust[ex.from_asset] = dust.get(ex.from_asset, ZERO) + left
        held[ex.from_asset] -= left
        body["dust"] = {a: plain(q) for a, q in dust.items()}
    if at == 0 and not hop:
        spent += d_spent  # the start asset the cycle spent; what it bought stays at that cost
    if ex.to_asset == start and hop:  # nothing it had done was counted: all of it now
        returned += ex.received
        profit = profit_before + ex.received - ex.spent * cost
        body["unwind_loss"] = plain(_d(body.get("unwind_loss")) + ex.spent * cost - ex.received)
    elif ex.to_asset == start:
        returned += d_recv
        profit = profit_before + d_recv - d_spent * cost
    else:
        if d_recv > 0:
            held[ex.to_asset] = held.get(ex.to_asset, ZERO) + d_recv
            held_on[ex.to_asset] = ex.symbol
        profit = profit_before
    held.pop(start, None)  # its order ended: the start asset it was given is free again
    for asset in list(held):
        if held[asset] <= 0:
            del held[asset]
    for asset in held:  # why each asset stays now: no longer "it may still fill"
        held_why[asset] = f"{note}; {sell_back(start, held_on, [asset])}"
    held_why = {a: w for a, w in held_why.items() if a in held}
    held_on = {a: s for a, s in held_on.items() if a in held}
    outcome = ("held" if held else "unwound") if hop else _outcome(row, legs, at, ex, held)
    profit = cycle_profit(spent + profit, ZERO, spent)  # a residue of the costs: none
    old.update(ex.to_json())
    old["reason"] = f"{old['reason']}; {note}" if old.get("reason") else note
    legs[at] = old
    reason = f"{body['reason']}; {note}" if body.get("reason") else note
    body[part] = legs
    body.update(
        spent=plain(spent), returned=plain(returned), reason=reason,
        held={a: plain(q) for a, q in held.items()}, held_why=held_why, held_on=held_on,
        actual_profit_pct=plain(profit / spent * HUNDRED if spent > 0 else ZERO),
    )  # fmt: skip
    amended = {**row, "legs": body, "outcome": outcome, "actual_profit": profit, "fees": fees}
    change = Resolution(
        str(row["outcome"]), outcome, dict(row["legs"]["held"]), body["held"], profit_before,
        profit, ex.status, order.filled, note,
    )  # fmt: skip
    return amended, change


def _fee_change(ex: LegExecution, fee_before: Decimal, cost: Decimal, start: str) -> Decimal:
    """The leg's added fee in the start asset at cost (an asset it did not trade: none)."""
    added = ex.fee - fee_before
    if not added or ex.fee_asset == start:
        return added
    if ex.fee_asset == ex.from_asset:
        return added * cost
    if ex.fee_asset == ex.to_asset and ex.received > 0:
        return added * cost * ex.spent / ex.received
    return ZERO


def _outcome(
    row: Mapping[str, Any], legs: list[dict[str, Any]], at: int, ex: LegExecution, held: dict
) -> str:
    if held:
        return "held"
    if at == 0 and ex.filled <= 0:
        return "failed"  # the first leg ended with nothing filled: nothing traded
    planned = len((row.get("cycle") or {}).get("legs") or legs)
    last = at == len(legs) - 1 == planned - 1
    return "completed" if last and ex.status == OrderStatus.FILLED.value else "unwound"

"""A pair attempt a crash cut short, taken back by the executor at the next start.

```python
attempt = await adopt_interrupted(executor, legs, fills)   # the journal's unnamed filled legs
```

The legs the journal holds for one attempt (filled, no record naming them): a first leg, maybe a
second that filled less, maybe part of an unwind already sold. What the first leg bought and
nothing hedged or sold back is sold (IOC) no lower than the price that keeps the loss within
`max_unwind_loss_usd`, through the risk engine and the journal, as after a second leg that fails
during a run; what does not sell is held with a critical `arb.held` event. Legs of any other
shape (two first legs, a hedge as large as the first leg) are held as found and reported. One
`arb_executions` row names every leg, so they are never taken back twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.held_merge import netting_sale
from tradeguard.strategies.cross_venue.held_retry import adopt_retry, retry_cut_short
from tradeguard.strategies.cross_venue.limits import OpenPair, is_dust
from tradeguard.strategies.cross_venue.records import INTERRUPTED_PAIR, PairAttempt, PairLegResult
from tradeguard.strategies.held_now import unwind_amount


def _result(order: Order, fills: list[Fill]) -> PairLegResult:
    leg = PairLegResult(
        str(order.signal.get("arb", "")),
        order.venue,
        order.symbol,
        order.side,
        order.amount,
        order.price or ZERO,
        filled=order.filled,
        avg_price=order.avg_price,
        fee=order.fee,
        status=order.status.value,
        client_order_id=order.client_order_id,
    )
    if fills:
        leg.book_fills(fills)
    return leg


def _shape(legs: list[PairLegResult]) -> str:
    """Return why the legs are not one attempt's first leg (+ hedge, + unwinds), or ""."""
    roles = [leg.role for leg in legs]
    if roles.count("first") != 1 or roles.count("second") > 1:
        return f"the legs are not one attempt's (roles {roles})"
    first = next(leg for leg in legs if leg.role == "first")
    for leg in legs:
        if leg.role == "unwind" and (leg.venue, leg.symbol) != (first.venue, first.symbol):
            return f"unwind {leg.client_order_id} sold {leg.symbol}, not the first leg's"
        if leg.role not in ("first", "second", "unwind"):
            return f"{leg.client_order_id} has an unknown role {leg.role!r}"
    return ""


async def adopt_interrupted(
    executor: PairExecutor, legs: list[Order], fills: Mapping[str, list[Fill]]
) -> PairAttempt:
    """Sell back what an interrupted attempt's first leg left unhedged, within the cap (the
    journal's fills, when stored, say what each leg paid)."""
    started = time.perf_counter()
    results = [_result(o, fills.get(o.client_order_id, [])) for o in legs]
    cids = ", ".join(o.client_order_id for o in legs)
    rec = PairAttempt(
        executor.strategy_id,
        INTERRUPTED_PAIR,
        "",
        0,
        executor.mode,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        ts=executor._clock.now_ms(),
        reason=f"the node stopped during this attempt ({cids}); adopted at start",
    )
    rec.legs.extend(results)
    why = _shape(results)
    pair = _pair_of(legs)
    if pair and not why:  # the legs name their pair: the record and the book say which
        _name_pair(rec, pair)
    async with executor._lock:
        if retry_cut_short(legs) is not None:  # a held leg's retry, not a pair attempt
            adopt_retry(executor, rec, legs)
        elif why:
            _hold_as_found(executor, rec, f"{rec.reason}, not unwound: {why}")
        else:
            await _unwind_rest(executor, rec, results, pair)
    rec.latency_ms = (time.perf_counter() - started) * 1000
    return executor._finish(rec)


def hold_interrupted(
    executor: PairExecutor,
    legs: list[Order],
    fills: Mapping[str, list[Fill]],
    why: str,
    alert: Event | None = None,
) -> PairAttempt:
    """Record, without sending anything, what an interrupted attempt's legs hold: both legs
    filled are booked as their pair, a first leg left alone is held under its pair; the record
    names every leg, so no later start takes them up. The node's `alert` reporting them is
    kept with the record in its commit and published after it (once across a kill)."""
    results = [_result(o, fills.get(o.client_order_id, [])) for o in legs]
    rec = PairAttempt(executor.strategy_id, INTERRUPTED_PAIR, "", 0, executor.mode, ZERO, ZERO,
                      ZERO, ZERO, ts=executor._clock.now_ms(), reason=why)  # fmt: skip
    rec.legs.extend(results)
    rec.alerts.extend([alert] if alert is not None else [])
    pair = {} if _shape(results) else _pair_of(legs)
    if not pair:  # nothing to book it under: held as found, for a person
        rec.outcome = "held"
        _net_held(rec)
        return executor._finish(rec)
    _name_pair(rec, pair)
    first = next(r for r in results if r.role == "first")
    hedged = sum((r.filled for r in results if r.role == "second"), ZERO)
    sold = sum((r.filled for r in results if r.role == "unwind"), ZERO)
    rec.contracts = first.filled
    if 0 < hedged <= first.filled:
        _book_hedged(executor, rec, first, next(r for r in results if r.role == "second"), pair)
    left = first.filled - min(hedged, first.filled) - sold
    if is_dust(executor.gateways[first.venue].instrument(first.symbol), left):
        _write_off(executor, rec, first, left, _sold_before(first, results))
        return executor._finish(rec)
    if left > 0:
        rec.outcome, rec.held[first.symbol] = "held", left
        rec.capital = -first.cash * left / first.filled
        executor.book_pair(
            OpenPair(rec.pair_id, rec.event, rec.direction, left, rec.capital,
                     int(pair.get("settles_at_ms") or 0), (first.venue,), (first.symbol,))
        )  # fmt: skip
    elif rec.outcome != "completed":
        rec.outcome = "unwound"
    if sold > 0 and rec.outcome == "completed":  # a sale besides the pair: its P&L too
        rec.actual_profit += _sold_before(first, results)
        executor.book_result(rec, _sold_before(first, results), trade=False)
    elif sold > 0:  # what the sales before the stop lost, as a run's unwind books it
        _book_sales(executor, rec, _sold_before(first, results))
    return executor._finish(rec)


def _name_pair(rec: PairAttempt, pair: Mapping[str, Any]) -> None:
    """Set the pair the legs' orders name on `rec`, with the size cut they were sent at."""
    rec.pair_id, rec.event = str(pair["pair_id"]), str(pair.get("event", ""))
    rec.direction = int(pair.get("direction", 0))
    trimmed = pair.get("trimmed")
    if isinstance(trimmed, dict):
        rec.trimmed = {str(k): str(v) for k, v in trimmed.items()}


def _pair_of(legs: list[Order]) -> dict[str, Any]:
    """What the legs' orders say of their pair (pair id, event, direction, settlement, both
    legs in the pair's order), or {} (orders sent before they said it)."""
    found = [o.signal for o in legs if isinstance(o.signal, dict) and o.signal.get("pair_id")]
    if not found or any(f.get("pair_id") != found[0].get("pair_id") for f in found):
        return {}
    pair = found[0]
    return pair if len(pair.get("pair_legs") or ()) == 2 else {}


async def _unwind_rest(
    executor: PairExecutor, rec: PairAttempt, legs: list[PairLegResult], pair: dict[str, Any]
) -> None:
    first = next(leg for leg in legs if leg.role == "first")
    hedged = sum((leg.filled for leg in legs if leg.role == "second"), ZERO)
    sold = sum((leg.filled for leg in legs if leg.role == "unwind"), ZERO)
    rec.contracts = first.filled
    left = first.filled - hedged - sold
    booked = bool(pair) and 0 < hedged <= first.filled
    if booked:  # what both legs hold is a pair to settlement: the attempt's one trade
        _book_hedged(executor, rec, first, next(g for g in legs if g.role == "second"), pair)
    elif hedged >= first.filled:
        _hold_as_found(
            executor,
            rec,
            f"{rec.reason}: both legs filled ({hedged} hedged of {first.filled}), a pair held "
            "to settlement that the strategy's open pairs do not list; check it and keep it",
        )
        return
    if left > 0:  # merged or netted while the node was down: that sale is the leg's exit
        for sale in _netted(executor, first, left):
            legs.append(sale)
            rec.legs.append(sale)
            left, sold = left - sale.filled, sold + sale.filled
    sales = _sold_before(first, legs)
    if left <= 0:
        if not booked:
            rec.outcome = "unwound"  # an unwind sold it all before the stop
        if sold > 0:
            _realise_sales(executor, rec, sales)
        return
    gateway = executor.gateways[first.venue]
    inst = gateway.instrument(first.symbol)
    if is_dust(inst, left):  # no order can sell it: written off, as a run's unwind does
        _write_off(executor, rec, first, left, sales)
        return
    left, note = unwind_amount(gateway, inst.base, left) if inst else (left, "")
    if note:
        rec.reason = f"{rec.reason}; {note}"
        if not booked:
            rec.outcome = "failed"  # failed: nothing sold
        if is_dust(inst, left):
            _write_off(executor, rec, first, left, sales)
            return
        if left <= 0:
            if sold > 0:
                _realise_sales(executor, rec, sales)
            return
    pair_profit, pair_capital = rec.actual_profit, rec.capital
    await executor._unwind(rec, first, left, counted=booked)
    if booked:  # the sale beside the pair: the record keeps the pair's profit and capital
        rec.actual_profit += pair_profit
        if rec.outcome == "unwound":
            rec.outcome, rec.capital = "completed", pair_capital
    if sales:  # the sales before the stop lost (or made) this too
        rec.actual_profit += sales
        executor.book_result(rec, sales, trade=False)
    if pair and rec.outcome == "held":  # the lone leg counts in the book as after a run's
        executor.book_pair(
            OpenPair(rec.pair_id, rec.event, rec.direction, rec.held[first.symbol], rec.capital,
                     int(pair.get("settles_at_ms") or 0), (first.venue,), (first.symbol,))
        )  # fmt: skip
    if sold > 0 and rec.outcome == "unwound":
        rec.reason = f"{rec.reason}; {sold} had been sold back before the stop"


def _netted(executor: PairExecutor, first: PairLegResult, left: Decimal) -> list[PairLegResult]:
    """The merge or netting sales of `first`'s contracts booked after it filled that no record
    names (the venue netted them, or the CTF merged them, while the node was down), up to
    `left`, as unwinds of the attempt."""
    gateway = executor.gateways[first.venue]
    bought = gateway.journaled(first.client_order_id)[1]
    if not bought:
        return []
    out = []
    for fill in gateway.fills_since(min(f.ts for f in bought)):
        if left <= 0:
            break
        if (fill.venue, fill.symbol) != (first.venue, first.symbol) or not netting_sale(
            executor, fill
        ):
            continue
        if gateway.recorded_execution(fill.client_order_id) is not None:
            continue  # a held record's exit already
        take = min(left, fill.amount)
        out.append(PairLegResult("unwind", fill.venue, fill.symbol, Side.SELL, take, fill.price,
                                 filled=take, avg_price=fill.price,
                                 fee=fill.fee * take / fill.amount, status="filled",
                                 client_order_id=fill.client_order_id))  # fmt: skip
        left -= take
    return out


def _write_off(
    executor: PairExecutor, rec: PairAttempt, first: PairLegResult, left: Decimal, sales: Decimal
) -> None:
    """Leave `left` of the first leg (fewer than any order of its venue takes) as dust: valued
    at zero until its market settles, its share of what the leg cost (price and fees) is a loss
    now, with what the sales before the stop realised, in the record and the day's P&L."""
    lost = first.cash * left / first.filled  # negative: what the dust cost
    rec.dust[first.symbol] = left
    rec.reason = (
        f"{rec.reason}; {left} {first.symbol} left is below {first.venue}'s minimum order: "
        "dust, written off until its market settles"
    )
    if rec.outcome not in ("completed", "failed"):
        rec.outcome = "unwound"
    _realise_sales(executor, rec, sales + lost)


def _sold_before(first: PairLegResult, legs: list[PairLegResult]) -> Decimal:
    """What the unwinds sent before the stop realised: their cash less what the contracts they
    sold cost (a run's unwind books it in its record, the risk engine's cycle and the day's P&L)."""
    unwinds = [leg for leg in legs if leg.role == "unwind" and leg.filled > 0]
    sold = sum((leg.filled for leg in unwinds), ZERO)
    return sum((leg.cash for leg in unwinds), ZERO) + first.cash * sold / first.filled


def _realise_sales(executor: PairExecutor, rec: PairAttempt, sales: Decimal) -> None:
    """Book what the sales realised: beside a pair booked (the attempt's one trade, the hedged
    contracts; the rest sold or dust beside it) in its record's profit and the day's P&L, else
    as the attempt's one trade."""
    if rec.outcome == "completed":
        rec.actual_profit += sales
        executor.book_result(rec, sales, trade=False)
    else:
        _book_sales(executor, rec, sales)


def _book_sales(executor: PairExecutor, rec: PairAttempt, sales: Decimal) -> None:
    """Book the sales before the stop as the attempt's one trade, as a run's unwind does."""
    rec.actual_profit = sales
    rec.fees = sum((leg.fee for leg in rec.legs), ZERO)
    executor.book_result(rec, sales)


def _book_hedged(
    executor: PairExecutor,
    rec: PairAttempt,
    first: PairLegResult,
    second: PairLegResult,
    pair: dict[str, Any],
) -> None:
    """Book the contracts both legs filled as the pair a run would have booked, once: this
    attempt's record is written with the book."""
    n = second.filled
    capital = -first.cash * n / first.filled - second.cash
    by_venue = {first.venue: first.symbol, second.venue: second.symbol}
    venues = tuple(str(v) for v, _ in pair["pair_legs"])
    if set(venues) != set(by_venue):
        venues = (first.venue, second.venue)
    rec.capital, rec.fees = capital, first.fee * n / first.filled + second.fee
    rec.actual_profit = n - capital
    rec.actual_edge = rec.actual_profit / n
    rec.outcome = "completed"
    rec.reason = f"{rec.reason}: both legs had filled ({n} contracts), booked as a pair held"
    executor.book_result(rec)  # its profit is had at settlement: nothing realised now
    executor.book_pair(
        OpenPair(rec.pair_id, rec.event, rec.direction, n, capital,
                 int(pair.get("settles_at_ms") or 0), venues,
                 tuple(by_venue[v] for v in venues))
    )  # fmt: skip


def _hold_as_found(executor: PairExecutor, rec: PairAttempt, reason: str) -> None:
    rec.reason, rec.outcome = reason, "held"
    _net_held(rec)
    executor._hold(rec, rec.legs[0])


def _net_held(rec: PairAttempt) -> None:
    """What the legs bought less what they sold, per symbol."""
    for leg in rec.legs:
        if leg.side is Side.BUY:
            rec.held[leg.symbol] = rec.held.get(leg.symbol, ZERO) + leg.filled
        else:
            rec.held[leg.symbol] = rec.held.get(leg.symbol, ZERO) - leg.filled


__all__ = ["INTERRUPTED_PAIR", "adopt_interrupted", "hold_interrupted"]

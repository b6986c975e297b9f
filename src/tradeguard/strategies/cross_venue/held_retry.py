"""Selling again the lone legs a pair attempt left held, on a person's request.

```python
legs = held_legs(rows)                        # the strategy's arb_executions rows, any order
attempt = await retry_unwind(executor, legs[0], cap=Decimal("2"))
```

A first leg whose unwind found no bid within `max_unwind_loss_usd` (during a run, or at the
start after a crash) stays held until its markets settle. `retry_unwind` offers it again, as
the unwind did: one IOC no lower than the price keeping the loss on what it cost within `cap`,
through the risk engine and the journal, never more than the venue holds free now. Its record
names the held record (`retry_of`) and what is still held, so the next retry starts from there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult
from tradeguard.strategies.held_now import unwind_amount


@dataclass(frozen=True, slots=True)
class HeldLeg:
    """Contracts of one first leg held alone, and what they cost (fees included)."""

    record_id: int
    pair_id: str
    event: str
    direction: int
    venue: str
    symbol: str
    contracts: Decimal
    capital: Decimal
    basis: int = 0  # id of the record the leg was read from (its newest retry, else the held one)

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id, "pair_id": self.pair_id, "venue": self.venue,
            "symbol": self.symbol, "contracts": plain(self.contracts),
            "capital": plain(self.capital),
        }  # fmt: skip


def held_legs(rows: Iterable[Mapping[str, Any]]) -> list[HeldLeg]:
    """The lone legs the held records leave, each as its newest retry left it."""
    origin: dict[int, Mapping[str, Any]] = {}
    latest: dict[int, Mapping[str, Any]] = {}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        legs = row.get("legs") or {}
        retry_of = legs.get("retry_of")
        if retry_of is not None and int(retry_of) in origin:
            latest[int(retry_of)] = row
        elif retry_of is None and row.get("outcome") == "held":
            origin[int(row["id"])] = latest[int(row["id"])] = row
    out = []
    for rid, first_row in origin.items():
        leg = _held_leg(rid, first_row, latest[rid])
        if leg is not None:
            out.append(leg)
    return out


def _held_leg(rid: int, first_row: Mapping[str, Any], row: Mapping[str, Any]) -> HeldLeg | None:
    legs = row.get("legs") or {}
    held = {s: Decimal(str(q)) for s, q in (legs.get("held") or {}).items()}
    capital = Decimal(str(legs.get("capital") or "0"))
    if row.get("outcome") != "held" or len(held) != 1 or capital <= 0:
        return None  # sold, gone, or legs of another shape (a person must look at them)
    [(symbol, contracts)] = held.items()
    bought = [
        leg for leg in (first_row.get("legs") or {}).get("legs", [])
        if leg.get("symbol") == symbol and leg.get("side") == Side.BUY.value
    ]  # fmt: skip
    if contracts <= 0 or not bought:
        return None
    cycle = first_row.get("cycle") or {}
    return HeldLeg(rid, str(cycle.get("pair_id", "")), str(cycle.get("event", "")),
                   int(cycle.get("direction", 0)), str(bought[0]["venue"]), symbol, contracts,
                   capital, int(row["id"]))  # fmt: skip


def _settles_at(executor: PairExecutor, leg: HeldLeg) -> int:
    """When `leg`'s market settles: its lone leg's in the book, else its pair's in the map."""
    for pair in executor.book.open:
        if pair.record_id == leg.record_id and pair.legs == (leg.symbol,) and pair.settles_at_ms:
            return pair.settles_at_ms
    return executor.pair_settles(leg.pair_id)


def stale(executor: PairExecutor, leg: HeldLeg) -> bool:
    """Tell whether `leg` was retried since it was read (another request sold some of it): its
    contracts are no longer what is held, and selling them could sell another pair's."""
    newest = executor.held_retries.get(leg.record_id)
    return newest is not None and newest != (leg.basis or leg.record_id)


async def retry_unwind(executor: PairExecutor, leg: HeldLeg, cap: Decimal) -> PairAttempt | None:
    """Offer `leg` for sale again within the loss `cap` (USD); record and return the attempt,
    or None (nothing sent, nothing recorded) when the leg was retried since it was read."""
    rec = PairAttempt(
        executor.strategy_id, leg.pair_id, leg.event, leg.direction, executor.mode,
        leg.contracts, ZERO, ZERO, ZERO, ts=executor._clock.now_ms(), retry_of=leg.record_id,
        reason=(f"unwind retried by request: {leg.contracts} {leg.symbol} held on {leg.venue} "
                f"(record {leg.record_id}), max_unwind_loss_usd={cap}"),
    )  # fmt: skip
    first = PairLegResult("first", leg.venue, leg.symbol, Side.BUY, leg.contracts, ZERO,
                          filled=leg.contracts, avg_price=leg.capital / leg.contracts,
                          status="held")  # fmt: skip
    gateway = executor.gateways.get(leg.venue)
    if gateway is None:
        rec.outcome, rec.held, rec.capital = "held", {leg.symbol: leg.contracts}, leg.capital
        rec.reason = f"{rec.reason}; venue {leg.venue} is not one of this strategy's"
        return executor._finish(rec)
    async with executor._lock:
        if stale(executor, leg):
            return None
        inst = gateway.instrument(leg.symbol)
        amount, note = unwind_amount(gateway, inst.base, leg.contracts) if inst else (
            leg.contracts, "")  # fmt: skip
        if note:
            rec.reason = f"{rec.reason}; {note}"
        if amount > 0:
            # The IOC names the record, so a start after a kill before this record is written
            # takes it up as this retry (adopt_retry), not as a leg of no attempt.
            # and its pair's event, direction and settlement time: a FAILED sale holds the
            # contracts again as they were, after a restart too (leg_failed.sale_failed)
            executor.retry_signal = {
                "retry_of": leg.record_id, "pair_id": leg.pair_id,
                "retry_cost": plain(leg.capital * amount / leg.contracts),
                "event": leg.event, "direction": leg.direction,
                "settles_at_ms": _settles_at(executor, leg),
            }  # fmt: skip
            try:
                await executor._unwind(rec, first, amount, cap)
            finally:
                executor.retry_signal, executor.attempt_signal = {}, {}
        else:
            rec.outcome = "failed"  # nothing free to sell: the rest is recorded as gone
        rebook(executor, leg, rec.held.get(leg.symbol, ZERO))
        from tradeguard.strategies.cross_venue.late_sale import watch_late

        # a sale still in flight: its late fills are this retry's (kept with the record, so a
        # restart before they arrive still books them so)
        watch_late(executor, leg, rec)
        executor._finish(rec)  # recorded before the next request may read the held records
        if rec.record_id is not None:
            executor.held_retries[leg.record_id] = rec.record_id
    return rec


def retry_cut_short(orders: Sequence[Order]) -> int | None:
    """The held record the retry these orders are the sales of tried to sell, else None."""
    ids = {o.signal.get("retry_of") for o in orders if isinstance(o.signal, dict)}
    if len(ids) != 1 or not all(o.signal.get("arb") == "unwind" for o in orders):
        return None
    [rid] = ids
    return rid if isinstance(rid, int) else None


def adopt_retry(executor: PairExecutor, rec: PairAttempt, orders: Sequence[Order]) -> None:
    """Book, as the retry would have, the sale of a held leg a stop cut short before its
    record: what the IOC did not sell stays held from the held record (`retry_of`)."""
    rid = retry_cut_short(orders)
    assert rid is not None
    order = orders[0]
    offered = order.amount
    cost = Decimal(str(order.signal.get("retry_cost") or "0"))
    sold = sum((leg.filled for leg in rec.legs), ZERO)
    rec.retry_of, rec.pair_id = rid, str(order.signal.get("pair_id", rec.pair_id))
    rec.contracts = offered
    rec.actual_profit = sum((leg.cash for leg in rec.legs), ZERO) - cost * sold / offered
    rec.fees = sum((leg.fee for leg in rec.legs), ZERO)
    executor.book_result(rec, rec.actual_profit)
    left = offered - sold
    rec.reason = f"{rec.reason}: the retry of held record {rid} sold {sold} of {offered}"
    if left > 0:
        rec.held[order.symbol], rec.capital, rec.outcome = left, cost * left / offered, "held"
        executor._hold(rec, rec.legs[0])
    else:
        rec.outcome = "unwound"
    leg = HeldLeg(rid, rec.pair_id, "", 0, order.venue, order.symbol, offered, cost)
    rebook(executor, leg, left)


def own_lone(book: Any, leg: HeldLeg) -> int | None:
    """Where the book holds `leg`: the lone leg its held record booked (one of no known record
    when none names it); another attempt's lone leg of the same pair is not this one."""
    mine = [i for i, p in enumerate(book.open) if p.legs == (leg.symbol,)]
    for i in mine:
        if book.open[i].record_id == leg.record_id:
            return i
    unknown = [i for i in mine if book.open[i].record_id is None
               and book.open[i].pair_id == leg.pair_id]  # fmt: skip
    return unknown[0] if unknown else None


def rebook(executor: PairExecutor, leg: HeldLeg, left: Decimal) -> None:
    """The book holds what is left of the lone leg (none: it no longer counts)."""
    book = executor.book
    i = own_lone(book, leg)
    if i is None:
        return
    held = book.open[i]
    if left <= 0:
        del book.open[i]
    else:
        capital = held.capital * left / held.contracts
        # a shrink's note counted what the leg held before this sale: no longer true
        book.open[i] = dataclasses.replace(held, contracts=left, capital=capital, note="")


__all__ = [
    "HeldLeg",
    "adopt_retry",
    "held_legs",
    "own_lone",
    "rebook",
    "retry_cut_short",
    "retry_unwind",
    "stale",
]

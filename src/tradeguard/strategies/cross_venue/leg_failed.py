"""A complete pair one of whose legs FAILED at its venue, cut to the lone leg that is left.

```python
leg = cut_failed_leg(executor, booked_fill, pair_id="fed")  # the flagged fill of a leg
```

A Polymarket trade can match, be booked as a leg's fill, and FAIL on chain later: the contracts
it bought never existed (the reconciliation flags the fill, `execution/failed_fills.py`). The
pair it completed holds only its other leg then, unhedged. The pair loses the contracts the
failed fill bought (the pair its order's attempt booked, else the newest its order names,
else the newest holding that leg); the other
leg's contracts are booked as a lone leg held, at what they cost (the pair's capital less what
the failed fill would have cost, its fee included), in one `arb_executions` record: code
`LEG_FAILED`, outcome `held`, a critical `arb.held` event, committed with the book. That record
is a held record like those a failed second leg leaves: counted against the limits, shrunk to
what the venue holds, settled as a lone leg, offered by `pm arb retry`; and under
`on_interrupted = "unwind"` the strategy offers it for sale at once within
`max_unwind_loss_usd` (`retry_unwind`), under `"hold"` it waits for a person.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.held_retry import HeldLeg
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.records import (
    LEG_FAILED,
    SALE_FAILED,
    PairAttempt,
    PairLegResult,
)


def _pair_of(executor: PairExecutor, fill: Fill, pair_id: str, record_id: int | None) -> int | None:
    """The index of the complete pair holding `fill`'s leg: the one the record of its order's
    attempt booked (`record_id`, else the attempt this process ran that sent the order), else
    the newest its order's pair names, else the newest."""
    found = [
        i for i, pair in enumerate(executor.book.open)
        if not pair.lone and (fill.venue, fill.symbol) in zip(pair.venues, pair.legs, strict=True)
    ]  # fmt: skip
    booked_by = record_id or _record_of(executor, fill.client_order_id)
    own = [i for i in found if booked_by and executor.book.open[i].record_id == booked_by]
    named = [i for i in found if executor.book.open[i].pair_id == pair_id]
    chosen = own or named or found
    return chosen[-1] if chosen else None


def _record_of(executor: PairExecutor, client_order_id: str) -> int | None:
    """The record of the attempt this process ran whose leg was the order (None: not one)."""
    for rec in reversed(executor.attempts):
        if client_order_id and any(
            leg.client_order_id == client_order_id and leg.role != "unwind" for leg in rec.legs
        ):
            return rec.record_id
    return None


def cut_failed_leg(
    executor: PairExecutor,
    fill: Fill,
    pair_id: str = "",
    record_id: int | None = None,
    order: Order | None = None,
) -> HeldLeg | None:
    """Cut the contracts `fill` (a leg's fill whose trade FAILED) bought out of their pair (the
    one the record `record_id` of its order's attempt booked, `_pair_of`) and record the other
    leg's as a lone leg held; return it, or None when no complete pair holds that leg (a lone
    leg, a pair settled or shrunk since: nothing to cut)."""
    if fill.side is Side.SELL and order is not None and fill.amount > 0:
        return sale_failed(executor, fill, order, record_id)
    if fill.side is not Side.BUY or fill.amount <= 0:
        return None
    i = _pair_of(executor, fill, pair_id, record_id)
    if i is None:
        return None
    book = executor.book
    pair = book.open[i]
    n = min(fill.amount, pair.contracts)
    [(venue, symbol)] = [
        (v, s) for v, s in zip(pair.venues, pair.legs, strict=True) if (v, s) != (fill.venue,
                                                                             fill.symbol)
    ]  # fmt: skip
    failed_cost = (fill.price * fill.amount + fill.fee_in_quote) * n / fill.amount
    capital = max(pair.capital * n / pair.contracts - failed_cost, ZERO)
    # the profit the pair's record counted of these contracts (1 a pair at settlement), never
    # had: taken back by this record, so the figures hold only what the lone leg makes
    counted = n - pair.capital * n / pair.contracts
    if n < pair.contracts:
        rest = pair.contracts - n
        book.open[i] = dataclasses.replace(
            pair, contracts=rest, capital=pair.capital * rest / pair.contracts
        )
    else:
        del book.open[i]
    why = (
        f"{fill.venue} reports trade {fill.trade_id} FAILED (never settled): the {n} "
        f"{fill.symbol} it bought for pair {pair.pair_id} never existed; the {n} {symbol} "
        f"bought on {venue} are held alone, unhedged"
    )
    rec = PairAttempt(
        executor.strategy_id, pair.pair_id, pair.event, pair.direction, executor.mode, n,
        ZERO, ZERO, ZERO, outcome="held", reason=why, code=LEG_FAILED, capital=capital,
        actual_profit=-counted, ts=executor._clock.now_ms(),
    )  # fmt: skip
    # the leg held (filled when the pair was booked, not now: this record trades nothing)
    rec.legs.append(PairLegResult("first", venue, symbol, Side.BUY, n, capital / n,
                                  status="held", reason=why))  # fmt: skip
    rec.held[symbol] = n
    data = {
        "path": f"{pair.pair_id} d{pair.direction}", "pair_id": pair.pair_id,
        "mode": executor.mode, "held": {symbol: plain(n)}, "reason": why,
        "failed_trade_id": fill.trade_id,
        "message": f"[{executor.mode}] pair {pair.pair_id}: {n} {symbol} held unhedged on "
                   f"{venue} (its {fill.symbol} leg FAILED on {fill.venue}); "
                   f"on_interrupted={executor.config.on_interrupted}",
    }  # fmt: skip
    rec.alerts.append(Event(EventKind.ARB_HELD, executor._clock.now_ms(), data, venue, symbol,
                            executor.strategy_id, "critical"))  # fmt: skip
    executor.book_pair(OpenPair(pair.pair_id, pair.event, pair.direction, n, capital,
                                pair.settles_at_ms, (venue,), (symbol,)))  # fmt: skip
    executor._finish(rec)  # the record and the book in one transaction, and its events
    rid = rec.record_id or 0
    return HeldLeg(rid, pair.pair_id, pair.event, pair.direction, venue, symbol, n, capital, rid)


def sale_failed(
    executor: PairExecutor, fill: Fill, order: Order, record_id: int | None = None
) -> HeldLeg | None:
    """The sale of a lone leg whose trade FAILED: `order`, a retry's `arb-unwind` naming its
    held record, or an attempt's own unwind (`record_id`: the attempt's record, naming the
    order). The venue holds the `fill.amount` contracts it sold again. They are booked again
    at what they cost, with the pair's event, direction and settlement time (from the order,
    so after a restart too), in one record (code `SALE_FAILED`, outcome `held`, `retry_of` the
    held record it adds to; an unwind that left nothing held starts a held record of its own)
    taking back the P&L the sale counted, with a critical `arb.held` event; return the leg as
    a retry reads it (None: the order is no such sale)."""
    sig = order.signal if isinstance(order.signal, dict) else {}
    rid, offered = sig.get("retry_of"), order.amount
    if sig.get("arb") != "unwind" or offered <= 0:
        return None
    if isinstance(rid, int):
        cost = Decimal(str(sig.get("retry_cost") or "0")) * fill.amount / offered
    elif record_id is not None and sig.get("unwind_cost") is not None:
        rid, cost = record_id, Decimal(str(sig["unwind_cost"])) * fill.amount / offered
    else:
        return None
    n, pair_id, book = fill.amount, str(sig.get("pair_id") or ""), executor.book
    origin = next((r for r in executor.attempts if r.record_id == rid), None)
    event = str(sig.get("event") or (origin.event if origin else ""))
    direction = int(sig.get("direction") or (origin.direction if origin else 0))
    settles = int(sig.get("settles_at_ms") or 0) or executor.pair_settles(pair_id)
    # the lone leg of the held record itself: another of the same pair is another's to sell
    at = next((i for i, p in enumerate(book.open)
               if p.record_id == rid and p.legs == (fill.symbol,)), None)  # fmt: skip
    held, capital = n, cost
    retry_of: int | None = rid
    if at is not None:
        lone = book.open[at]
        held, capital = lone.contracts + n, lone.capital + cost
        book.open[at] = dataclasses.replace(lone, contracts=held, capital=capital, note="")
    elif "retry_of" in sig:  # under the held record (not this one's: retries name the held one)
        book.open.append(OpenPair(pair_id, event, direction, n, cost, settles, (fill.venue,),
                                  (fill.symbol,), record_id=rid))  # fmt: skip
    else:  # an attempt's unwind that left nothing held: this record holds them
        retry_of = None
        executor.book_pair(OpenPair(pair_id, event, direction, n, cost, settles,
                                    (fill.venue,), (fill.symbol,)))  # fmt: skip
    proceeds = fill.price * n - fill.fee_in_quote
    why = (
        f"{fill.venue} reports trade {fill.trade_id} FAILED (never settled): the {n} "
        f"{fill.symbol} it sold (record {rid}) are held again, unhedged"
    )
    rec = PairAttempt(
        executor.strategy_id, pair_id, event, direction, executor.mode, n, ZERO, ZERO, ZERO,
        outcome="held", reason=why, code=SALE_FAILED, capital=capital, retry_of=retry_of,
        actual_profit=cost - proceeds, ts=executor._clock.now_ms(),
    )  # fmt: skip
    rec.legs.append(PairLegResult("first", fill.venue, fill.symbol, Side.BUY, held,
                                  capital / held, status="held", reason=why))  # fmt: skip
    rec.held[fill.symbol] = held
    executor.book_result(rec, cost - proceeds, trade=False)
    rec.realised = ZERO  # the sale's realised P&L taken back in the day's figures only
    data = {
        "path": f"{pair_id} d{direction}", "pair_id": pair_id, "mode": executor.mode,
        "held": {fill.symbol: plain(held)}, "reason": why, "failed_trade_id": fill.trade_id,
        "message": f"[{executor.mode}] pair {pair_id}: {held} {fill.symbol} held unhedged on "
                   f"{fill.venue} (its sale FAILED on {fill.venue}); "
                   f"on_interrupted={executor.config.on_interrupted}",
    }  # fmt: skip
    rec.alerts.append(Event(EventKind.ARB_HELD, executor._clock.now_ms(), data, fill.venue,
                            fill.symbol, executor.strategy_id, "critical"))  # fmt: skip
    executor._finish(rec)
    if rec.record_id is not None and retry_of is not None:
        executor.held_retries[retry_of] = rec.record_id
    held_as = retry_of if retry_of is not None else rec.record_id or rid
    return HeldLeg(held_as, pair_id, event, direction, fill.venue, fill.symbol, held, capital,
                   rec.record_id or held_as)  # fmt: skip


def failed_leg_pair(signal: object) -> str:
    """The pair id a leg's order signal names ("" when none)."""
    return str(signal.get("pair_id") or "") if isinstance(signal, dict) else ""


__all__ = ["cut_failed_leg", "failed_leg_pair", "sale_failed"]

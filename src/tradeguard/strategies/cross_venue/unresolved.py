"""A leg the venue acknowledged and then never ended: held, never guessed filled or not.

```python
if unresolved(leg):                          # no end nor fill within leg_timeout_s, nor after
    hold_unresolved(executor, rec, opp, leg)  # its cancel: the attempt ends held, alerted
```

An order still in flight after its timeout and its cancel (a lost answer, a fill not streamed
yet) may fill later, whole. Counting it as unfilled would end a first leg `failed` with nothing
in the book (a late fill then sits unhedged, outside the limits, without an alert) and would
unwind the first leg under a second that may still fill (leaving that one alone). So the first
leg is held at its full size (a FOK fills whole or not at all), or the filled first leg is held
as it is and not sold back, with a critical `arb.held` naming the unresolved order. The book
counts it against the limits until a reconciliation shows what the venue holds: a leg that
never filled is shrunk away then (`held_sync.py`), one that filled may be retried or settles.
An unresolved second leg is counted too, alone on its venue at its full size and limit, until a
reconciliation of that venue shows it never filled; it is no part of the held record (a retry
offers the first leg alone) and, if it filled, it settles with its market. An unwind left in
flight so is no more taken as unsold: the attempt is held on what it has not been seen to sell
(`hold_unresolved_unwind`), never written off as dust, with the same critical alert.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO, plain
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult
from tradeguard.strategies.cross_venue.scanner import PairOpportunity

if TYPE_CHECKING:
    from tradeguard.strategies.cross_venue.executor import PairExecutor

_IN_FLIGHT = frozenset(s.value for s in OrderStatus if not s.is_terminal)


def unresolved(leg: PairLegResult) -> bool:
    """Tell whether a sent leg is still in flight at the end of its wait (and its cancel's)."""
    return leg.status in _IN_FLIGHT


def hold_unresolved(
    ex: PairExecutor, rec: PairAttempt, opp: PairOpportunity, leg: PairLegResult
) -> None:
    """End the attempt `held` on its first leg because `leg` (the first or the second) is in
    flight; book the lone leg and raise a critical `arb.held`."""
    first = rec.legs[0]
    if leg is first:  # it may fill whole: counted at its size and limit, fees aside
        contracts, capital = first.contracts, first.contracts * first.limit_price
        then = "counted held at its full size until the venue shows what it holds"
    else:
        contracts, capital = first.filled, -first.cash
        then = f"{first.symbol} on {first.venue} is not sold back while {leg.symbol} may fill"
    rec.outcome = "held"
    rec.reason = (
        f"{leg.role} leg {leg.symbol} on {leg.venue} unresolved: still {leg.status} after "
        f"leg_timeout_s={ex.config.leg_timeout_s} and its cancel; {then}"
    )
    rec.held[first.symbol] = contracts
    rec.capital = capital
    rec.fees = sum((sent.fee for sent in rec.legs), ZERO)
    ex.book_result(rec)  # the attempt's trade; nothing realised
    ex.book_pair(
        OpenPair(opp.pair_id, opp.event, opp.direction, contracts, capital, opp.settles_at_ms,
                 (first.venue,), (first.symbol,))
    )  # fmt: skip
    if leg is not first:
        _count_second(ex, opp, leg)
    _alert(ex, rec, first, contracts)


def hold_unresolved_unwind(
    ex: PairExecutor,
    rec: PairAttempt,
    first: PairLegResult,
    leg: PairLegResult,
    amount: Decimal,
    counted: bool,
) -> None:
    """End the attempt `held` on what the unwind `leg` of `amount` of the first leg has not been
    seen to sell: it is in flight and may sell yet, so nothing of it is guessed unsold (nor
    written off as dust); realise what it sold, and raise a critical `arb.held` naming it.
    `counted`: the attempt is a trade of the day already (a pair booked of part of it)."""
    cost = -first.cash * amount / first.filled
    rec.actual_profit = leg.cash - cost * leg.filled / amount if leg.filled else ZERO
    rec.fees = sum((sent.fee for sent in rec.legs), ZERO)
    ex.book_result(rec, rec.actual_profit, trade=not counted)
    left = amount - leg.filled
    rec.outcome = "held"
    why = f"; {rec.reason}" if rec.reason else ""
    rec.reason = (
        f"unwind leg {leg.symbol} on {leg.venue} (order {leg.client_order_id}) unresolved: "
        f"still {leg.status} after leg_timeout_s={ex.config.leg_timeout_s} and its cancel; "
        f"{left} counted held until the venue shows what it sold{why}"
    )
    rec.held[first.symbol] = left
    rec.capital = cost * left / amount
    if leg.client_order_id:  # its late fills are this attempt's sale (`late_sale.py`)
        from tradeguard.strategies.cross_venue.held_retry import HeldLeg
        from tradeguard.strategies.cross_venue.late_sale import LateSale

        held = HeldLeg(0, rec.pair_id, rec.event, rec.direction, first.venue, first.symbol,
                       amount, cost)  # fmt: skip
        ex.late_sales[leg.client_order_id] = LateSale(held, amount, leg.filled)
    _alert(ex, rec, first, left)


def _alert(ex: PairExecutor, rec: PairAttempt, first: PairLegResult, contracts: Decimal) -> None:
    gateway = ex.gateways[first.venue]
    rec.alerts.append(  # kept with the record, published after its commit
        Event(
            EventKind.ARB_HELD,
            gateway.now_ms(),
            {
                "path": f"{rec.pair_id} d{rec.direction}",
                "pair_id": rec.pair_id,
                "mode": ex.mode,
                "held": {first.symbol: plain(contracts)},
                "reason": rec.reason,
                "message": (
                    f"[{ex.mode}] pair {rec.pair_id}: {contracts} {first.symbol} held on "
                    f"{first.venue} ({rec.reason}); check both venues' orders and positions, "
                    "then sell or hedge it by hand"
                ),
            },
            first.venue,
            first.symbol,
            ex.strategy_id,
            "critical",
        )
    )


def _count_second(ex: PairExecutor, opp: PairOpportunity, leg: PairLegResult) -> None:
    """Count the unresolved second leg on its venue at its full size and limit (it may fill
    whole): outside the held record, so a sync shrinking it leaves the first leg's as it is."""
    ex.book.open.append(
        OpenPair(opp.pair_id, opp.event, opp.direction, leg.contracts,
                 leg.contracts * leg.limit_price, opp.settles_at_ms, (leg.venue,), (leg.symbol,))
    )  # fmt: skip

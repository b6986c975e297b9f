"""A forward leg the venue acknowledged (or never answered) and then never ended: held.

```python
if unresolved(ex):                                   # still in flight after its wait and cancel
    leftover = hold_unresolved(rec, ex, amount_in, run, config, venue)
```

An order still open after `leg_timeout_s` and its cancel (a timed-out send, a lost answer, a
fill not streamed yet) may still execute. Taking it as unfilled would end a first leg `failed`
with nothing at risk while a late fill leaves the cycle's second asset unhedged without an
alert, or would unwind what a later leg was given while that leg may still spend it (the unwind
then sells coins the leg took, or the leg's proceeds sit stranded). So the cycle stops there:
no further leg, no unwind; what the leg was given (and anything it is known to have received)
is recorded held, the order named, for a person to check on the venue; so is what an earlier
leg filled in part left stranded (it stays on the account, at its cost: never counted lost).
The order is watched until it ends; then the record changes to what it did (`held_legs.py`).
An unwind hop left in flight so is held the same way (`hold_unresolved_hop`): the way back
stops there, what the hop was given (and what it is known to have received) is held, the
order named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO
from tradeguard.strategies.gateway import ExecutionGateway
from tradeguard.strategies.triangular.exec_config import TriangularExecConfig
from tradeguard.strategies.triangular.exec_records import ArbExecution, LegExecution, sell_back
from tradeguard.strategies.triangular.unwind_routes import Stranded

__all__ = ["alert_held", "hold_unresolved", "hold_unresolved_hop", "unresolved"]

_IN_FLIGHT = frozenset(s.value for s in OrderStatus if not s.is_terminal)


class Chain(Protocol):
    """A cycle's bookkeeping so far: cost per unit of each asset reached, what was stranded."""

    @property
    def cost_per_unit(self) -> Mapping[str, Decimal]: ...

    @property
    def stranded(self) -> Sequence[Stranded]: ...


def unresolved(ex: LegExecution) -> bool:
    """Tell whether a sent order is still in flight at the end of its wait (and its cancel's)."""
    return bool(ex.client_order_id) and ex.status in _IN_FLIGHT


def hold_unresolved(
    rec: ArbExecution,
    ex: LegExecution,
    amount_in: Decimal,
    run: Chain,
    config: TriangularExecConfig,
    venue: str,
) -> Decimal:
    """End `rec` held on the in-flight leg `ex` (given `amount_in` of its from-asset); return
    the start-asset cost of what is held (the start asset itself is not spent: no cost), what
    earlier legs left stranded in `run` included."""
    rec.outcome = "held"
    why = (
        f"leg {ex.index + 1} ({ex.symbol}) unresolved: order {ex.client_order_id} still "
        f"{ex.status} after leg_timeout_s={config.leg_timeout_s} and its cancel; it may still "
        f"fill, so no further leg or unwind is sent; check the order on {venue}"
    )
    rec.reason = f"{rec.reason}; {why}" if rec.reason else why
    cost_per_unit, leftover = run.cost_per_unit, ZERO
    given = amount_in - ex.spent
    if given > 0:
        rec.hold(ex.from_asset, given, why, ex.symbol)
        if ex.index > 0:  # bought by the legs before: counted at its cost
            leftover += given * cost_per_unit[ex.from_asset]
    if ex.received > 0:
        rec.hold(ex.to_asset, ex.received, why, ex.symbol)
        leftover += ex.spent * cost_per_unit[ex.from_asset]
    for s in run.stranded:  # left by a leg filled in part: on the account, at its cost
        rec.hold(s.asset, s.amount, why, rec.legs[s.position].symbol)
        leftover += s.cost
    return leftover


def hold_unresolved_hop(
    rec: ArbExecution,
    ex: LegExecution,
    amount_in: Decimal,
    config: TriangularExecConfig,
    venue: str,
) -> None:
    """Hold what the in-flight unwind hop `ex` (given `amount_in` of its from-asset) has not
    been seen to spend, and what it was seen to receive: it may still trade, so no further hop
    is sent on it. What the hold costs is the caller's (the hop's whole cost stays)."""
    why = (
        f"unwind {ex.index + 1} ({ex.symbol}) unresolved: order {ex.client_order_id} still "
        f"{ex.status} after leg_timeout_s={config.leg_timeout_s} and its cancel; it may still "
        f"fill, so no further hop is sent; check the order on {venue}"
    )
    rec.reason = f"{rec.reason}; {why}" if rec.reason else why
    given = amount_in - ex.spent
    if given > 0:
        rec.hold(ex.from_asset, given, why, ex.symbol)
    if ex.received > 0:
        rec.hold(ex.to_asset, ex.received, why, ex.symbol)


def alert_held(gateway: ExecutionGateway, rec: ArbExecution) -> None:
    """Raise the critical `arb.held` event of a cycle that stopped with something held: kept
    with its record, in the same commit, and published after it (`TriangularExecutor._finish`)."""
    held = ", ".join(f"{q} {a}" for a, q in rec.held.items())
    # what stopped each held asset where it is (a refusal while halted is no unfilled bound)
    why = "; ".join(dict.fromkeys(rec.held_why.values())) or rec.reason
    where = next(iter(rec.held_on.values()), rec.legs[-1].symbol if rec.legs else "")
    rec.alerts.append(
        Event(
            EventKind.ARB_HELD,
            gateway.now_ms(),
            {
                "path": rec.path,
                "cycle_id": rec.cycle_id,
                "start_asset": rec.start_asset,
                "held": {a: str(q) for a, q in rec.held.items()},
                "held_why": dict(rec.held_why),
                "reason": rec.reason,
                "message": (
                    f"arbitrage cycle {rec.path} stopped with {held} held ({why}); "
                    f"{sell_back(rec.start_asset, rec.held_on, rec.held)}"
                ),
            },
            gateway.venue,
            where,
            rec.strategy_id,
            "critical",
        )
    )

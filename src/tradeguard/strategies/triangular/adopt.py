"""A cycle a crash cut short, taken back by the executor at the next start.

```python
record = await adopt_interrupted(executor, legs, fills)   # the journal's unnamed filled legs
```

The forward legs the journal holds (oldest first, filled, no record naming them) are chained as
the executor chains them while running: what each received, less what the next spent, is left
in between at its cost in the start asset (the first leg's input). What is left is then traded
back exactly as after a leg failure during a run: the way back over the venue's markets, each
hop an IOC whose prices stay within `max_unwind_loss_pct` of the cost, through the risk engine
and the journal; what does not fill within the bound is held with a critical `arb.held` event.
One `arb_executions` row names the interrupted legs and the unwind orders, so the legs are never
taken back twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.fill import Fill
from tradeguard.model.money import ONE, ZERO
from tradeguard.model.order import Order
from tradeguard.strategies.held_now import unwind_amount
from tradeguard.strategies.triangular.exec_records import (
    UNKNOWN_START,
    ArbExecution,
    LegExecution,
    leg_assets,
)
from tradeguard.strategies.triangular.executor import TriangularExecutor, _add_reason, _Run
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity
from tradeguard.strategies.triangular.unwind_routes import Stranded

INTERRUPTED_CYCLE_ID = -1  # the record of an adopted cycle: the scanner's id is not journaled


def chain_of(
    executor: TriangularExecutor, legs: list[Order], fills: Mapping[str, list[Fill]]
) -> list[LegExecution] | str:
    """Return the forward legs as executions, oldest first, or why they are no chain; the
    journal's fills say what each received (a fee charged in the bought asset included)."""
    out: list[LegExecution] = []
    for n, order in enumerate(legs):
        inst = executor.gateway.instrument(order.symbol)
        index = order.signal.get("index")
        if order.signal.get("arb") != "leg" or index != n:
            return (
                f"{order.client_order_id} is not forward leg {n + 1} of one cycle "
                f"(signal {order.signal})"
            )
        if inst is None:
            return f"{order.symbol} is not listed on {executor.gateway.venue}"
        buy = order.side is Side.BUY
        src, dst = (inst.quote, inst.base) if buy else (inst.base, inst.quote)
        if out and out[-1].to_asset != src:
            return f"leg {n + 1} ({order.symbol}) does not spend what leg {n} received"
        ex = LegExecution("leg", n, order.symbol, order.side, src, dst, order.price or ZERO)
        ex.limit_price = order.price or ZERO
        ex.order_amount = order.amount
        ex.status = order.status.value
        ex.client_order_id = order.client_order_id
        _apply(executor, ex, order, fills.get(order.client_order_id, []))
        out.append(ex)
    return out


def _apply(executor: TriangularExecutor, ex: LegExecution, order: Order, fills: list[Fill]) -> None:
    """Set what the leg spent and received from its stored fills (the order's totals, fee in
    the quote, when none is stored)."""
    if fills:
        ex.book_fills(fills)
    else:
        executor._apply_fills(ex, order.client_order_id, order.filled, order.avg_price, order.fee)


async def adopt_interrupted(
    executor: TriangularExecutor, legs: list[Order], fills: Mapping[str, list[Fill]]
) -> ArbExecution:
    """Trade back what an interrupted cycle's filled legs left, within the unwind bound."""
    # A lone leg is unwound whatever on_leg_failure says: `on_interrupted` chose it.
    runner = TriangularExecutor(
        executor.gateway, executor.config.model_copy(update={"on_leg_failure": "unwind"})
    )
    started = time.perf_counter()
    chain = chain_of(executor, legs, fills)
    cids = ", ".join(o.client_order_id for o in legs)
    reason = f"the node stopped between the legs of this cycle ({cids}); adopted at start"
    if isinstance(chain, str):
        return _held_as_found(runner, legs, fills, f"{reason}, not unwound: {chain}", started)
    start = chain[0].from_asset
    opp = Opportunity(
        INTERRUPTED_CYCLE_ID,
        start,
        tuple(Leg(x.symbol, x.side, x.from_asset, x.to_asset, x.limit_price, ZERO) for x in chain),
        ZERO,
        chain[0].spent,
        (),
        "interrupted",
    )
    rec = ArbExecution(
        strategy_id=runner.config.strategy_id,
        cycle_id=INTERRUPTED_CYCLE_ID,
        path=f"{opp.path()} (interrupted)",
        start_asset=start,
        size=chain[0].spent,
        expected_profit_pct=ZERO,
        expected_profit=ZERO,
        ts=runner.gateway.now_ms(),
        reason=reason,
    )
    rec.legs.extend(chain)
    rec.spent = chain[0].spent
    run = _Run(cost_per_unit={start: ONE})
    amount = chain[0].spent
    for i, ex in enumerate(chain):
        residual = amount - ex.spent
        if i > 0 and residual > 0:
            run.stranded.append(
                Stranded(ex.from_asset, residual, residual * run.cost_per_unit[ex.from_asset], i)
            )
        if ex.to_asset != start:
            run.cost_per_unit[ex.to_asset] = (
                run.cost_per_unit[ex.from_asset] * ex.spent / ex.received
                if ex.received > 0
                else ZERO
            )
        amount = ex.received
    last = chain[-1]
    if last.to_asset == start:
        rec.returned += last.received
    elif amount > 0:
        run.stranded.append(
            Stranded(last.to_asset, amount, amount * run.cost_per_unit[last.to_asset], len(chain))
        )
    _cap_to_held(runner, rec, run)
    async with runner._lock:
        await runner._settle(rec, opp, run)
    if rec.outcome == "completed" and last.to_asset != start:
        rec.outcome = "failed"  # only dust was left: nothing to trade back
    return runner._finish(rec, opp, started)


def _cap_to_held(runner: TriangularExecutor, rec: ArbExecution, run: _Run) -> None:
    """Trade back no more of each asset than the venue holds free now; what the legs left
    beyond it is gone (counted at its cost, neither won nor lost) and the record says so."""
    kept: list[Stranded] = []
    for s in run.stranded:
        taken = sum((k.amount for k in kept if k.asset == s.asset), ZERO)
        amount, note = unwind_amount(runner.gateway, s.asset, s.amount + taken)
        amount = max(amount - taken, ZERO)
        if note:
            _add_reason(rec, note)
            run.leftover_cost += s.cost * (s.amount - amount) / s.amount
            s.cost, s.amount = s.cost * amount / s.amount, amount
        if amount > 0:
            kept.append(s)
    run.stranded = kept


def _held_as_found(
    runner: TriangularExecutor,
    legs: list[Order],
    fills: Mapping[str, list[Fill]],
    reason: str,
    started: float,
) -> ArbExecution:
    """Record legs that are no single cycle's chain as held, untouched, and alert: they hold
    what each brought in (the part that filled, net of a fee in it) less what another gave of
    it, each asset named by the market it came in on."""
    rec = ArbExecution(
        strategy_id=runner.config.strategy_id,
        cycle_id=INTERRUPTED_CYCLE_ID,
        path="interrupted",
        start_asset=UNKNOWN_START,  # not known: the legs are no chain from one start asset
        size=ZERO,
        expected_profit_pct=ZERO,
        expected_profit=ZERO,
        ts=runner.gateway.now_ms(),
        reason=reason,
        outcome="held",
    )
    net: dict[str, Decimal] = {}  # what the legs brought in less what they gave, per asset
    on: dict[str, str] = {}  # the market each asset was brought in on
    for n, order in enumerate(legs):
        inst = runner.gateway.instrument(order.symbol)
        if inst is not None:
            src, dst = (
                (inst.quote, inst.base) if order.side is Side.BUY else (inst.base, inst.quote)
            )
        else:  # no longer listed: its symbol says what it traded
            src, dst = leg_assets(order.symbol, order.side)
        ex = LegExecution("leg", n, order.symbol, order.side, src, dst, order.price or ZERO)
        ex.limit_price, ex.order_amount = order.price or ZERO, order.amount
        ex.client_order_id, ex.status = order.client_order_id, order.status.value
        _apply(runner, ex, order, fills.get(order.client_order_id, []))
        rec.legs.append(ex)
        if dst and ex.received > 0:
            net[dst], on[dst] = net.get(dst, ZERO) + ex.received, order.symbol
            net[src] = net.get(src, ZERO) - ex.spent  # a later leg sold what one bought
        elif order.filled > 0:  # no asset to name: what it traded, on its market
            said = f"{order.client_order_id} {order.side.value} {order.filled} {order.symbol}"
            _add_reason(rec, f"{said}: no asset known, check {order.symbol} by hand")
    for asset, amount in net.items():
        if amount > 0 and asset in on:
            rec.hold(asset, amount, reason, on[asset])
    runner._alert_held(rec)
    opp = Opportunity(INTERRUPTED_CYCLE_ID, "", (), ZERO, ZERO, (), "interrupted")
    return runner._finish(rec, opp, started)


__all__ = ["INTERRUPTED_CYCLE_ID", "adopt_interrupted", "chain_of"]

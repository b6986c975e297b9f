"""Leg-safe execution of a scanned cycle: IOC legs chained on what actually filled.

```python
gateway = ctx.execution_gateway("triangular", "paper")   # the node's order path
executor = TriangularExecutor(gateway, TriangularExecConfig())
record = await executor.execute(opportunity)      # one arb_executions row, whatever happens
```

The executor holds only its `ExecutionGateway`: orders go through the risk engine and the
journal, the record goes to storage and the result to the risk engine, all through the gateway.

How one cycle runs
- The cycle as a whole goes through the risk engine's cycle check (min profit after fees, cycle
  length, size per cycle); each leg still goes through `RiskEngine.check` inside the order path.
- Each leg is an IOC limit order at the scanned price (the worst book level the scanner needed),
  or at the worst level the current book needs for this leg's amount, but never more than
  `slippage_pct` beyond the scanned price; when even the best level is beyond that, the leg is
  not sent. Without a current book the scanned price is the limit.
- What a leg actually received (fills, minus fees charged in the received asset) is chained into
  the next leg, rounded down to that market's amount step.
- When a leg fails or fills partially, the asset left in between is either traded back to the
  start asset (`unwind`), or kept and announced with a critical `arb.held` event (`hold`).
- The way back is searched over every market the venue lists, not only the cycle's own: simple
  routes of at most `max_unwind_hops` orders, ranked at top of book after fees, the best few
  walked through the current books at the stranded amount, the one returning the most chosen.
  So an asset with no direct market to the start asset, or a poor one, still finds its way.
- Each hop is an IOC. Together their prices stay within `max_unwind_loss_pct` of the stranded
  asset's cost (fees come on top): before each hop the rest of the route is priced at the
  current books, the slack over the bound is shared evenly between the hops left, the last hop's
  limit is the bound; never past risk.price_band_pct's edge (refused there). A sell hop whose IOC
  expired unfilled at the book's level (lagging the venue's) is resent at its bound. A hop that
  fills nothing stops the unwind: what is in hand is held (critical `arb.held`). Amounts too
  small to trade on the way back are dust.
- A leg still in flight after its wait and its cancel may fill yet: held (`unresolved.py`).
- Outcome: `completed`, `unwound`, `held`, `rejected` (nothing sent) or `failed` (the first leg
  filled nothing). Profit is in the start asset; assets left over count at their cost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ONE, ZERO, plain
from tradeguard.model.order import ARB_UNWIND_TAG, OrderIntent
from tradeguard.strategies.gateway import ExecutionGateway, refusal_status, wait_or_cancel
from tradeguard.strategies.triangular.exec_book import (
    HUNDRED,
    below_minimum,
    fees_in_start,
    gross_and_fees,
    order_amount,
    price_of,
    product,
    round_price,
    worst_needed,
)
from tradeguard.strategies.triangular.exec_config import TriangularExecConfig
from tradeguard.strategies.triangular.exec_records import ArbExecution, LegExecution, cycle_profit
from tradeguard.strategies.triangular.held_legs import HeldLegs
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity
from tradeguard.strategies.triangular.unresolved import (
    alert_held,
    hold_unresolved,
    hold_unresolved_hop,
    unresolved,
)
from tradeguard.strategies.triangular.unwind_routes import Route, Stranded, UnwindRouter

__all__ = [
    "ARB_EXECUTION",
    "ARB_HELD",
    "ArbExecution",
    "TriangularExecConfig",
    "TriangularExecutor",
]

log = logging.getLogger(__name__)

ARB_EXECUTION = EventKind.ARB_EXECUTION
ARB_HELD = EventKind.ARB_HELD


@dataclass(slots=True)
class _Run:
    """Bookkeeping of one cycle: cost per unit of each asset reached, what is left over."""

    cost_per_unit: dict[str, Decimal]
    stranded: list[Stranded] = field(default_factory=list)
    leftover_cost: Decimal = ZERO  # start-asset cost of what stays (held or dust)

    def add_dust(self, rec: ArbExecution, asset: str, amount: Decimal, cost: Decimal) -> None:
        rec.dust[asset] = rec.dust.get(asset, ZERO) + amount
        self.leftover_cost += cost


class TriangularExecutor:
    """Execute scanned cycles leg by leg through the order path, safe against leg risk."""

    def __init__(
        self,
        gateway: ExecutionGateway,
        config: TriangularExecConfig | None = None,
    ) -> None:
        self.gateway = gateway
        self.config = config or TriangularExecConfig()
        if gateway.strategy_id != self.config.strategy_id:
            # The gateway hands back fills and reports results for its own strategy id only.
            raise ConfigError(
                f"triangular.exec.strategy_id={self.config.strategy_id!r} differs from the "
                f"execution gateway's strategy id {gateway.strategy_id!r}; use the same id"
            )
        self._lock = asyncio.Lock()
        self._slip = self.config.slippage_pct / HUNDRED
        self._unwind_loss = self.config.max_unwind_loss_pct / HUNDRED
        self._first_sent: float | None = None  # perf_counter when this cycle's first order went
        self._router = UnwindRouter(gateway, self.config)
        self.held_legs = HeldLegs(gateway)  # held cycles' orders in doubt, until they end

    @property
    def busy(self) -> bool:
        """Tell whether a cycle is being executed now."""
        return self._lock.locked()

    async def execute(self, opp: Opportunity, size: Decimal | None = None) -> ArbExecution:
        """Run one cycle (at most one at a time) and record it; never raises for a venue no."""
        rec = self._new_record(opp, size)
        if self._lock.locked():
            rec.reason = "cycle rejected: another cycle is still executing (no overlapping cycles)"
            return self._finish(rec, opp, time.perf_counter())
        async with self._lock:
            started = time.perf_counter()
            self._first_sent = None
            try:
                await self._execute(rec, opp)
            except Exception as exc:  # the record must be written whatever broke
                log.exception("cycle %s failed", opp.path())
                rec.reason = f"cycle aborted by an error: {exc!r}"
                rec.outcome = "held" if any(leg.filled for leg in rec.legs) else "failed"
                if rec.outcome == "held":
                    self._alert_held(rec)
            if self._first_sent is not None:
                rec.first_order_ms = (self._first_sent - started) * 1000
            return self._finish(rec, opp, started)

    # planning ----------------------------------------------------------------------------------
    def _new_record(self, opp: Opportunity, size: Decimal | None) -> ArbExecution:
        planned = size if size is not None else opp.max_size
        at_size = opp.profit_at_size_pct if opp.leg_amounts else opp.profit_pct
        return ArbExecution(
            strategy_id=self.config.strategy_id,
            cycle_id=opp.cycle_id,
            path=opp.path(),
            start_asset=opp.start_asset,
            size=planned,
            expected_profit_pct=opp.profit_pct,
            expected_profit=planned * at_size / HUNDRED,
            ts=self.gateway.now_ms(),
        )

    def _precheck(self, rec: ArbExecution, opp: Opportunity) -> str:
        """Return why the cycle may not start, or "" when it may."""
        cfg = self.config
        if not opp.legs:
            return "cycle rejected: the opportunity has no legs"
        if cfg.start_assets and opp.start_asset not in cfg.start_assets:
            return (
                f"cycle rejected: start asset {opp.start_asset} is not in start_assets="
                f"{list(cfg.start_assets)} (triangular.exec.start_assets)"
            )
        if opp.profit_pct < cfg.min_profit_pct:
            return (
                f"cycle rejected: expected profit after fees {opp.profit_pct:.4f}% is below "
                f"min_profit_pct={cfg.min_profit_pct} (triangular.exec.min_profit_pct)"
            )
        usd = self.gateway.usd_price(opp.start_asset)
        if usd is None or usd <= 0:
            return (
                f"cycle rejected: no USD price for the start asset {opp.start_asset}; "
                f"mark a {opp.start_asset}/USDT market first"
            )
        if cfg.max_size_usd is not None and rec.size * usd > cfg.max_size_usd:
            rec.size = cfg.max_size_usd / usd
            rec.expected_profit = rec.size * rec.expected_profit_pct / HUNDRED
        free = self.gateway.free(opp.start_asset)
        if free is not None and rec.size > free:
            if free <= 0:
                return (
                    f"cycle rejected: no free {opp.start_asset} on {self.gateway.venue} to start "
                    f"with (free {free}, the cycle wants {rec.size})"
                )
            rec.size = free  # the first leg can spend only what is free
            rec.expected_profit = rec.size * rec.expected_profit_pct / HUNDRED
        if rec.size <= 0:
            return (
                f"cycle rejected: size {rec.size} {opp.start_asset} is not positive "
                f"(limited by {opp.size_limited_by or 'nothing quoted'})"
            )
        return ""

    def _cycle_intents(self, opp: Opportunity, size: Decimal) -> list[OrderIntent]:
        intents = []
        amount = size
        for i, leg in enumerate(opp.legs):
            base_amount = (
                opp.leg_amounts[i].order_amount
                if opp.leg_amounts
                else (amount / leg.price if leg.side is Side.BUY and leg.price else amount)
            )
            intents.append(
                OrderIntent(
                    strategy_id=self.config.strategy_id,
                    venue=self.gateway.venue,
                    symbol=leg.symbol,
                    side=leg.side,
                    amount=base_amount,
                    type=OrderType.LIMIT,
                    price=leg.price,
                    time_in_force=TimeInForce.IOC,
                    tag="arb",
                )
            )
        return intents

    # running -----------------------------------------------------------------------------------
    async def _execute(self, rec: ArbExecution, opp: Opportunity) -> None:
        why = self._precheck(rec, opp)
        if why:
            rec.reason = why
            return
        gross_pct, fees_pct = gross_and_fees(opp)
        usd = self.gateway.usd_price(opp.start_asset) or ZERO
        decision = self.gateway.check_cycle(
            self._cycle_intents(opp, rec.size), gross_pct, fees_pct, rec.size * usd
        )
        if not decision.approved:
            rec.reason = decision.reason or f"cycle rejected by risk: {decision.code}"
            return
        run = _Run(cost_per_unit={opp.start_asset: ONE})
        amount = rec.size
        for i, leg in enumerate(opp.legs):
            scanned = opp.leg_amounts[i].limit_price if opp.leg_amounts else leg.price
            ex = await self._forward_leg(i, leg, scanned, amount)
            rec.legs.append(ex)
            if i == 0:
                rec.spent = ex.spent
            if unresolved(ex):  # it may fill yet: never guessed unfilled, nothing sent on it
                run.leftover_cost += hold_unresolved(
                    rec, ex, amount, run, self.config, self.gateway.venue
                )
                self._alert_held(rec)
                self._account(rec, run)
                self.held_legs.expect(ex, run.cost_per_unit)  # its record changes when it ends
                return
            if i == 0:
                if ex.filled <= 0:
                    # Nothing traded, so nothing is at risk and nothing needs unwinding.
                    rec.outcome = "rejected" if ex.status in ("not_sent", "denied") else "failed"
                    rec.reason = ex.reason or f"first leg {leg.symbol} filled nothing"
                    return
            else:
                residual = amount - ex.spent
                if residual > 0:
                    cost = residual * run.cost_per_unit[leg.from_asset]
                    if ex.status == OrderStatus.FILLED.value:
                        run.add_dust(rec, leg.from_asset, residual, cost)  # lot-size rounding
                    else:
                        run.stranded.append(Stranded(leg.from_asset, residual, cost, i))
            if ex.filled <= 0:
                rec.reason = ex.reason or f"leg {i + 1} ({leg.symbol}) filled nothing"
                break
            if ex.partial and not rec.reason:
                rec.reason = ex.reason
            if leg.to_asset != opp.start_asset:  # the start asset costs itself
                run.cost_per_unit[leg.to_asset] = (
                    run.cost_per_unit[leg.from_asset] * ex.spent / ex.received
                    if ex.received > 0
                    else ZERO
                )
            amount = ex.received
            if i == len(opp.legs) - 1:
                rec.returned += ex.received
        await self._settle(rec, opp, run)

    async def _forward_leg(
        self, index: int, leg: Leg, scanned: Decimal, amount_in: Decimal
    ) -> LegExecution:
        ex = LegExecution("leg", index, leg.symbol, leg.side, leg.from_asset, leg.to_asset, scanned)
        inst = self.gateway.instrument(leg.symbol)
        if inst is None:
            ex.reason = f"leg {index + 1}: {leg.symbol} is not listed on {self.gateway.venue}"
            return ex
        buy = leg.side is Side.BUY
        bound = scanned * (ONE + self._slip) if buy else scanned * (ONE - self._slip)
        levels = self.gateway.levels(leg.symbol, leg.side)
        limit = scanned
        if levels:
            best = levels[0][0]
            if (best > bound) if buy else (best < bound):
                moved = abs(best - scanned) / scanned * HUNDRED
                ex.reason = (
                    f"leg {index + 1} not sent: best {'ask' if buy else 'bid'} {best} on "
                    f"{leg.symbol} is {moved:.4f}% worse than the scanned {scanned}, beyond "
                    f"slippage_pct={self.config.slippage_pct} (triangular.exec.slippage_pct)"
                )
                return ex
            need = worst_needed(levels, amount_in, buy, inst.taker_fee)
            # The book as it is now, for this size; never beyond the bound.
            limit = min(need, bound) if buy else max(need, bound)
        ex.limit_price = round_price(limit, inst.price_tick, buy, bound)
        amount = order_amount(
            self.config.fees_charged_in,
            amount_in,
            ex.limit_price,
            buy,
            inst.taker_fee,
            inst.amount_step,
        )
        return await self._send(ex, amount, inst.min_amount, inst.min_notional)

    async def _send(
        self, ex: LegExecution, amount: Decimal, min_amount: Decimal, min_notional: Decimal
    ) -> LegExecution:
        ex.order_amount = amount
        if below_minimum(amount, ex.limit_price, min_amount, min_notional):
            ex.reason = (
                f"{ex.kind} {ex.index + 1} not sent: {amount} {ex.symbol} at {ex.limit_price} is "
                f"below the market minimum (amount {min_amount}, notional {min_notional})"
            )
            return ex
        intent = OrderIntent(
            strategy_id=self.config.strategy_id,
            venue=self.gateway.venue,
            symbol=ex.symbol,
            side=ex.side,
            amount=amount,
            type=OrderType.LIMIT,
            price=ex.limit_price,
            time_in_force=TimeInForce.IOC,
            signal={"arb": ex.kind, "index": ex.index},
            tag=ARB_UNWIND_TAG if ex.kind == "unwind" else f"arb-{ex.kind}",
        )
        started = time.perf_counter()
        if self._first_sent is None:
            self._first_sent = started
        result = await self.gateway.submit(intent)
        order = result.order
        if order is not None:
            ex.client_order_id = order.client_order_id
        if not result.ok or order is None:
            ex.status = refusal_status(result)
            ex.reason = f"{ex.kind} {ex.index + 1} ({ex.symbol}) {result.status}: {result.reason}"
            ex.latency_ms = (time.perf_counter() - started) * 1000
            return ex
        cid = order.client_order_id
        final = await wait_or_cancel(self.gateway, cid, self.config.leg_timeout_s)
        ex.latency_ms = (time.perf_counter() - started) * 1000
        order = final or order
        ex.status = order.status.value
        if not order.status.is_terminal:
            ex.reason = f"{ex.kind} {ex.index + 1} ({ex.symbol}) still {ex.status} after cancel"
        elif order.status is not OrderStatus.FILLED:
            ex.reason = (
                f"{ex.kind} {ex.index + 1} ({ex.symbol}) {ex.status}: filled {order.filled} of "
                f"{order.amount} within the limit {ex.limit_price}"
                + (f" ({order.reason})" if order.reason else "")
            )
        self._apply_fills(ex, cid, order.filled, order.avg_price, order.fee)
        self.gateway.forget(cid)
        return ex

    def _apply_fills(
        self, ex: LegExecution, cid: str, filled: Decimal, avg: Decimal, order_fee: Decimal
    ) -> None:
        fills = self.gateway.fills(cid)
        if fills:
            ex.book_fills(fills)
        else:  # fills not seen by the gateway: fall back on the order's totals (fee in quote)
            quote = ex.from_asset if ex.side is Side.BUY else ex.to_asset
            ex.book(filled, filled * avg, order_fee, quote)

    # after the legs ----------------------------------------------------------------------------
    async def _settle(self, rec: ArbExecution, opp: Opportunity, run: _Run) -> None:
        completed_chain = len(rec.legs) == len(opp.legs) and rec.legs[-1].filled > 0
        start = opp.start_asset
        tradable: list[tuple[Stranded, Route | None]] = []
        for s in run.stranded:
            route, dust = self._router.way_back(s, start)
            if dust:
                run.add_dust(rec, s.asset, s.amount, s.cost)
            else:
                tradable.append((s, route))
        if not tradable:  # the first leg filled: what is left is dust at its cost, not lost
            rec.outcome = "completed" if completed_chain else "unwound"
        elif self.config.on_leg_failure == "hold":
            for s, _ in tradable:
                rec.hold(s.asset, s.amount, "on_leg_failure=hold", rec.legs[-1].symbol)
                run.leftover_cost += s.cost
            rec.outcome = "held"
        else:
            for s, route in tradable:
                if route is None:
                    why = (
                        f"unwind: no quoted route from {s.asset} back to {start} within "
                        f"max_unwind_hops={self.config.max_unwind_hops} "
                        "(triangular.exec.max_unwind_hops)"
                    )
                    rec.hold(s.asset, s.amount, why, rec.legs[-1].symbol)
                    _add_reason(rec, why)
                    back, stayed = ZERO, s.cost
                else:
                    back, stayed = await self._unwind(rec, s, run, route)
                rec.returned += back
                rec.unwind_loss += s.cost - back - stayed
                run.leftover_cost += stayed
            rec.outcome = "held" if rec.held else "unwound"
        if rec.outcome == "held":
            self._alert_held(rec)
        self._account(rec, run)

    def _account(self, rec: ArbExecution, run: _Run) -> None:  # profit, fees; leftovers at cost
        sent = (*rec.legs, *rec.unwinds)
        usd = self.gateway.usd_price
        rec.fees, off_chain = fees_in_start(sent, run.cost_per_unit, usd, rec.start_asset)
        rec.actual_profit = cycle_profit(rec.returned, run.leftover_cost, rec.spent + off_chain)
        if rec.spent > 0:
            rec.actual_profit_pct = rec.actual_profit / rec.spent * HUNDRED

    async def _unwind(
        self, rec: ArbExecution, s: Stranded, run: _Run, route: Route
    ) -> tuple[Decimal, Decimal]:
        """Trade a stranded asset back along `route`; return (start asset back, cost stayed)."""
        # The whole way back may give up at most max_unwind_loss_pct of the cost, before fees:
        # the product of the hops' gross rates stays at or above `floor_rate`.
        floor_rate = s.cost / s.amount * (ONE - self._unwind_loss)
        achieved = ONE  # gross rate of the hops done, per unit of the stranded asset
        asset, amount, cost, stayed = s.asset, s.amount, s.cost, ZERO
        for n, hop in enumerate(route):
            rest = route[n:]
            need = floor_rate / achieved  # what the hops left must reach together
            buy = hop.side is Side.BUY
            ex = LegExecution("unwind", len(rec.unwinds), hop.symbol, hop.side, asset,
                              hop.to_asset, price_of(need, buy))  # fmt: skip
            rec.unwinds.append(ex)
            inst = self.gateway.instrument(hop.symbol)
            priced = self._router.price_route(rest, amount)
            if inst is None:
                ex.reason = f"unwind {n + 1}: {hop.symbol} is not listed on {self.gateway.venue}"
            elif priced is None and len(rest) > 1:
                ex.reason = (
                    f"unwind {n + 1} not sent: the way on from {asset} "
                    f"({' -> '.join(h.symbol for h in rest)}) cannot be priced (a book is "
                    "missing or an order would be below the market minimum), so no limit "
                    f"keeps it within max_unwind_loss_pct={self.config.max_unwind_loss_pct}"
                )
            else:
                bound = need  # the last hop may go down to the bound itself
                rate = bound
                levels = self.gateway.levels(hop.symbol, hop.side)
                if priced is not None and levels:
                    ref = priced[0][0]
                    ex.scanned_price = price_of(ref, buy)
                    if len(rest) > 1:
                        # Share the slack over the bound evenly between the hops left.
                        bound = ref / (product(priced[0]) / need) ** (ONE / len(rest))
                    # The book as it is now for this amount, as a forward leg; never beyond.
                    worst = worst_needed(levels, amount, buy, inst.taker_fee)
                    rate = max(bound, ONE / worst if buy else worst)
                limit, worst_limit = price_of(rate, buy), price_of(bound, buy)
                ex.limit_price = await self._router.banded(ex, limit, worst_limit, inst)
                qty = order_amount(
                    self.config.fees_charged_in,
                    amount,
                    ex.limit_price,
                    buy,
                    inst.taker_fee,
                    inst.amount_step,
                )
                if n > 0 and below_minimum(qty, ex.limit_price, inst.min_amount, inst.min_notional):
                    # What reached this hop is too small to trade on: dust, at its cost.
                    ex.reason = (
                        f"unwind {n + 1} not sent: {qty} {hop.symbol} is below the market minimum"
                    )
                    run.add_dust(rec, asset, amount, ZERO)
                    return ZERO, stayed + cost
                await self._send(ex, qty, inst.min_amount, inst.min_notional)
                ex = await self._sell_at_bound(rec, ex, qty, worst_limit, inst)
            if unresolved(ex) or ex.filled <= 0:  # the way back stops here
                self._hold_hop(rec, ex, asset, amount, cost)
                return ZERO, stayed + cost
            achieved *= ONE / ex.avg_price if buy else ex.avg_price
            left = amount - ex.spent
            if left > 0:
                left_cost = cost * left / amount
                if ex.status == OrderStatus.FILLED.value:
                    run.add_dust(rec, asset, left, ZERO)  # rounding: its cost is in `stayed`
                else:
                    rec.hold(asset, left, ex.reason, ex.symbol)
                stayed += left_cost
                cost -= left_cost
            if ex.received > 0:
                run.cost_per_unit.setdefault(hop.to_asset, cost / ex.received)
            asset, amount = hop.to_asset, ex.received
        return amount, stayed

    def _hold_hop(
        self, rec: ArbExecution, ex: LegExecution, asset: str, amount: Decimal, cost: Decimal
    ) -> None:
        """Hold what an unwind hop was given (`amount`, at `cost`) when it traded nothing
        (refused by a halt or the band, expired, not sent) or may trade yet (in flight: never
        guessed unfilled; its record changes when it ends)."""
        if unresolved(ex):
            hold_unresolved_hop(rec, ex, amount, self.config, self.gateway.venue)
            per_unit = {asset: cost / amount if amount > 0 else ZERO}
            self.held_legs.expect(ex, per_unit, amount - ex.spent)
            return
        why = ex.reason
        if ex.status in ("expired", "canceled"):  # sent, and no bid or ask within it
            why = f"unwind did not fill within {self._bound_key()}: {why}"
        rec.hold(asset, amount, why, ex.symbol)
        _add_reason(rec, ex.reason)

    async def _sell_at_bound(
        self, rec: ArbExecution, ex: LegExecution, qty: Decimal, bound: Decimal, inst: Instrument
    ) -> LegExecution:
        """Resend a sell hop that expired at the node's (stale) book level at its bound: the
        same limit could only expire again; down to the bound, the IOC fills at the best bids.
        Any other hop is returned as it is."""
        if ex.side is Side.BUY or ex.status != "expired" or ex.filled > 0:
            return ex
        at_bound = await self._router.banded(ex, bound, bound, inst)
        if ex.limit_price <= at_bound:
            return ex  # it was at the bound (to the tick) already: the same IOC would expire
        again = LegExecution("unwind", len(rec.unwinds), ex.symbol, ex.side, ex.from_asset,
                             ex.to_asset, ex.scanned_price)  # fmt: skip
        _add_reason(rec, ex.reason)
        again.limit_price = at_bound
        rec.unwinds.append(again)
        return await self._send(again, qty, inst.min_amount, inst.min_notional)

    def _bound_key(self) -> str:
        return f"max_unwind_loss_pct={self.config.max_unwind_loss_pct}"

    def _alert_held(self, rec: ArbExecution) -> None:
        alert_held(self.gateway, rec)

    # record ------------------------------------------------------------------------------------
    def _finish(self, rec: ArbExecution, opp: Opportunity, started: float) -> ArbExecution:
        rec.latency_ms = (time.perf_counter() - started) * 1000
        if rec.outcome == "rejected" and not rec.reason:
            rec.reason = "cycle rejected"
        cycle = {
            "cycle_id": opp.cycle_id,
            "path": opp.path(),
            "size_limited_by": opp.size_limited_by,
            "max_size": plain(opp.max_size),
            "legs": [
                {"symbol": leg.symbol, "side": leg.side.value, "price": plain(leg.price),
                 "fee": plain(leg.fee)}
                for leg in opp.legs
            ],
        }  # fmt: skip
        awaited = self.held_legs.awaiting  # its result is reported when its order ends
        severity = "warning" if rec.outcome in ("unwound", "failed") else "info"
        if rec.outcome == "held":
            severity = "critical"

        def announce(record_id: int | None) -> list[Event]:  # kept with the record, published
            rec.record_id = record_id  # after it: its `arb.held` events first, then this
            symbol = opp.legs[0].symbol if opp.legs else ""
            done = Event(ARB_EXECUTION, self.gateway.now_ms(), rec.event_data(),
                         self.gateway.venue, symbol, rec.strategy_id, severity)  # fmt: skip
            return [*rec.held_events(), done]

        rec.record_id = self.held_legs.record(rec.to_row(cycle), announce)
        if any(leg.filled for leg in rec.legs) and not awaited:
            # The legs booked balances only; the risk engine sees the cycle as one trade.
            usd = self.gateway.usd_price(opp.start_asset) or ZERO
            symbols = tuple(
                dict.fromkeys([leg.symbol for leg in opp.legs] + [u.symbol for u in rec.unwinds])
            )
            self.gateway.observe_cycle(symbols, rec.actual_profit * usd, rec.ts)
        return rec


def _add_reason(rec: ArbExecution, reason: str) -> None:
    rec.reason = f"{rec.reason}; {reason}" if rec.reason else reason

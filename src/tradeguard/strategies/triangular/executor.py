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
  current books, the slack over the bound is shared evenly between the hops left, and the last
  hop's limit is exactly the bound. A hop that fills nothing stops the unwind: what is in hand
  is held (critical `arb.held`). Amounts too small to trade on the way back are dust.
- Outcome: `completed`, `unwound`, `held`, `rejected` (nothing sent) or `failed` (the first leg
  filled nothing). Profit is in the start asset; assets left over count at their cost.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ONE, ZERO, quantize_down
from tradeguard.model.order import ARB_UNWIND_TAG, OrderIntent
from tradeguard.strategies.gateway import ExecutionGateway
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
ARB_EXECUTION = EventKind.ARB_EXECUTION
ARB_HELD = EventKind.ARB_HELD
Outcome = Literal["completed", "unwound", "held", "rejected", "failed"]


class TriangularExecConfig(BaseModel):
    """How cycles are executed (`[strategies.triangular.exec]`); percents are 0-100."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy_id: str = Field(default="triangular", min_length=1)
    # Worst price a leg may take, as % beyond the scanned price; beyond it the leg is not sent.
    slippage_pct: Decimal = Field(default=Decimal(2), ge=0, le=10)
    on_leg_failure: Literal["unwind", "hold"] = "unwind"
    # Unwind prices stay within this % of the stranded asset's cost (fees come on top).
    max_unwind_loss_pct: Decimal = Field(default=Decimal(1), gt=0, le=20)
    leg_timeout_s: float = Field(default=5.0, gt=0, le=120)
    min_profit_pct: Decimal = Field(default=Decimal("0.5"), ge=0, le=100)
    # Assets a cycle may start from; empty allows any.
    start_assets: tuple[str, ...] = ()
    # Cap on one cycle's size, in USD of the start asset; None trades the scanned max size.
    max_size_usd: Decimal | None = Field(default=None, gt=0, le=Decimal(10_000_000))
    # Where the venue charges a buy's fee: in the quote spent (paper venue) or the base received
    # (most exchanges). Buys are sized so the fee never overdraws the quote.
    fees_charged_in: Literal["quote", "received"] = "quote"
    # Most orders an unwind may take to reach the start asset, through any of the venue's markets.
    max_unwind_hops: int = Field(default=3, ge=1, le=4)


@dataclass(slots=True)
class LegExecution:
    """One order of a cycle (a forward leg or an unwind hop) and what it did."""

    kind: str  # "leg" | "unwind"
    index: int
    symbol: str
    side: Side
    from_asset: str
    to_asset: str
    scanned_price: Decimal
    limit_price: Decimal = ZERO
    order_amount: Decimal = ZERO
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    spent: Decimal = ZERO  # in from_asset, fees charged in it included
    received: Decimal = ZERO  # in to_asset, fees charged in it deducted
    fee: Decimal = ZERO
    fee_asset: str = ""
    status: str = "not_sent"  # not_sent | denied | rejected | filled | partially_filled | expired
    client_order_id: str = ""
    latency_ms: float = 0.0
    reason: str = ""

    @property
    def partial(self) -> bool:
        """Tell whether the order filled some but not all of its amount."""
        return ZERO < self.filled < self.order_amount

    def to_json(self) -> dict[str, Any]:
        """Return the leg as JSON-safe data (Decimals as strings)."""
        return {
            "kind": self.kind,
            "index": self.index,
            "symbol": self.symbol,
            "side": self.side.value,
            "from": self.from_asset,
            "to": self.to_asset,
            "scanned_price": str(self.scanned_price),
            "limit_price": str(self.limit_price),
            "order_amount": str(self.order_amount),
            "filled": str(self.filled),
            "avg_price": str(self.avg_price),
            "spent": str(self.spent),
            "received": str(self.received),
            "fee": str(self.fee),
            "fee_asset": self.fee_asset,
            "status": self.status,
            "client_order_id": self.client_order_id,
            "latency_ms": round(self.latency_ms, 3),
            "reason": self.reason,
        }


@dataclass(slots=True)
class ArbExecution:
    """One cycle attempt: expected versus actual, every order, and how it ended."""

    strategy_id: str
    cycle_id: int
    path: str
    start_asset: str
    size: Decimal  # planned start amount
    expected_profit_pct: Decimal  # scanned, top of book, after fees
    expected_profit: Decimal  # in start_asset at `size`
    outcome: Outcome = "rejected"
    reason: str = ""
    spent: Decimal = ZERO  # start asset the first leg spent
    returned: Decimal = ZERO  # start asset received back (last leg and unwinds)
    actual_profit: Decimal = ZERO  # in start_asset; assets left over count at their cost
    actual_profit_pct: Decimal = ZERO
    fees: Decimal = ZERO  # valued in start_asset at cost
    unwind_loss: Decimal = ZERO  # start asset lost by unwinding (cost minus what came back)
    legs: list[LegExecution] = field(default_factory=list)
    unwinds: list[LegExecution] = field(default_factory=list)
    held: dict[str, Decimal] = field(default_factory=dict)  # asset -> amount kept
    dust: dict[str, Decimal] = field(default_factory=dict)  # too small to trade back
    latency_ms: float = 0.0
    first_order_ms: float = 0.0  # from the call to the first order handed to the order path
    ts: int = 0
    record_id: int | None = None

    @property
    def orders_sent(self) -> int:
        """Return how many orders reached the order path's venue step."""
        return sum(1 for leg in (*self.legs, *self.unwinds) if leg.client_order_id)

    def to_row(self, cycle: dict[str, Any]) -> dict[str, Any]:
        """Return the `arb_executions` row for this record."""
        return {
            "strategy_id": self.strategy_id,
            "cycle": cycle,
            "start_asset": self.start_asset,
            "expected_profit_pct": self.expected_profit_pct,
            "actual_profit": self.actual_profit,
            "fees": self.fees,
            "legs": {
                "size": str(self.size),
                "expected_profit": str(self.expected_profit),
                "actual_profit_pct": str(self.actual_profit_pct),
                "spent": str(self.spent),
                "returned": str(self.returned),
                "unwind_loss": str(self.unwind_loss),
                "first_order_ms": round(self.first_order_ms, 3),
                "reason": self.reason,
                "legs": [leg.to_json() for leg in self.legs],
                "unwinds": [leg.to_json() for leg in self.unwinds],
                "held": {a: str(q) for a, q in self.held.items()},
                "dust": {a: str(q) for a, q in self.dust.items()},
            },
            "outcome": self.outcome,
            "latency_ms": round(self.latency_ms),
            "ts": self.ts,
        }


@dataclass(slots=True)
class _Run:
    """Bookkeeping of one cycle: cost per unit of each asset reached, what is left over."""

    cost_per_unit: dict[str, Decimal]
    stranded: list[_Stranded] = field(default_factory=list)
    leftover_cost: Decimal = ZERO  # start-asset cost of what stays (held or dust)

    def add_dust(self, rec: ArbExecution, asset: str, amount: Decimal, cost: Decimal) -> None:
        rec.dust[asset] = rec.dust.get(asset, ZERO) + amount
        self.leftover_cost += cost


@dataclass(slots=True)
class _Stranded:
    """Asset left between legs: amount, its cost in the start asset, and where it sits."""

    asset: str
    amount: Decimal
    cost: Decimal
    position: int  # index of the forward leg whose input it is


@dataclass(frozen=True, slots=True)
class _Hop:
    """One order of a way back: a market, the side that leaves `from_asset`, its taker fee."""

    symbol: str
    side: Side
    from_asset: str
    to_asset: str
    fee: Decimal


Route = tuple[_Hop, ...]
ROUTE_BEAM = 3  # partial routes kept per asset reached while searching
ROUTES_PER_LENGTH = 3  # best routes of each length at top of book, then walked through the books


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
        self._adjacency_of: tuple[int, dict[str, list[_Hop]]] | None = None  # by market count

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
        gross_pct, fees_pct = _gross_and_fees(opp)
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
                        run.stranded.append(_Stranded(leg.from_asset, residual, cost, i))
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
            need = _worst_needed(levels, amount_in, buy, inst.taker_fee)
            # The book as it is now, for this size; never beyond the bound.
            limit = min(need, bound) if buy else max(need, bound)
        ex.limit_price = _round_price(limit, inst.price_tick, buy, bound)
        amount = self._order_amount(
            amount_in, ex.limit_price, buy, inst.taker_fee, inst.amount_step
        )
        return await self._send(ex, amount, inst.min_amount, inst.min_notional)

    def _order_amount(
        self, amount_in: Decimal, limit: Decimal, buy: bool, fee: Decimal, step: Decimal
    ) -> Decimal:
        if not buy:
            return quantize_down(amount_in, step)
        if limit <= 0:
            return ZERO
        per_unit = limit * (ONE + fee) if self.config.fees_charged_in == "quote" else limit
        return quantize_down(amount_in / per_unit, step)

    async def _send(
        self, ex: LegExecution, amount: Decimal, min_amount: Decimal, min_notional: Decimal
    ) -> LegExecution:
        ex.order_amount = amount
        if _below_minimum(amount, ex.limit_price, min_amount, min_notional):
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
            ex.status = "denied" if result.status == "denied" else "rejected"
            ex.reason = f"{ex.kind} {ex.index + 1} ({ex.symbol}) {result.status}: {result.reason}"
            ex.latency_ms = (time.perf_counter() - started) * 1000
            return ex
        cid = order.client_order_id
        final = await self.gateway.wait_terminal(cid, self.config.leg_timeout_s)
        if final is not None and not final.status.is_terminal:
            # An IOC should close at once; cancel what the venue still shows before going on.
            await self.gateway.cancel(cid)
            final = await self.gateway.wait_terminal(cid, self.config.leg_timeout_s)
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
            qty = sum((f.amount for f in fills), ZERO)
            value = sum((f.amount * f.price for f in fills), ZERO)
            fee = sum((f.fee for f in fills), ZERO)
            fee_asset = fills[0].fee_asset
        else:  # fills not seen by the gateway: fall back on the order's totals (fee in quote)
            quote = ex.from_asset if ex.side is Side.BUY else ex.to_asset
            qty, value, fee, fee_asset = filled, filled * avg, order_fee, quote
        ex.filled = qty
        ex.avg_price = value / qty if qty else ZERO
        ex.fee, ex.fee_asset = fee, fee_asset
        if ex.side is Side.BUY:
            ex.spent, ex.received = value, qty
        else:
            ex.spent, ex.received = qty, value
        if fee_asset == ex.from_asset:
            ex.spent += fee
        elif fee_asset == ex.to_asset:
            ex.received -= fee

    # after the legs ----------------------------------------------------------------------------
    async def _settle(self, rec: ArbExecution, opp: Opportunity, run: _Run) -> None:
        completed_chain = len(rec.legs) == len(opp.legs) and rec.legs[-1].filled > 0
        start = opp.start_asset
        tradable: list[tuple[_Stranded, Route | None]] = []
        for s in run.stranded:
            route, dust = self._way_back(s, start)
            if dust:
                run.add_dust(rec, s.asset, s.amount, s.cost)
            else:
                tradable.append((s, route))
        if not tradable:
            rec.outcome = "completed" if completed_chain else "failed"
        elif self.config.on_leg_failure == "hold":
            for s, _ in tradable:
                rec.held[s.asset] = rec.held.get(s.asset, ZERO) + s.amount
                run.leftover_cost += s.cost
            rec.outcome = "held"
        else:
            for s, route in tradable:
                if route is None:
                    rec.held[s.asset] = rec.held.get(s.asset, ZERO) + s.amount
                    _add_reason(
                        rec,
                        f"unwind: no quoted route from {s.asset} back to {start} within "
                        f"max_unwind_hops={self.config.max_unwind_hops} "
                        "(triangular.exec.max_unwind_hops)",
                    )
                    back, stayed = ZERO, s.cost
                else:
                    back, stayed = await self._unwind(rec, s, run, route)
                rec.returned += back
                rec.unwind_loss += s.cost - back - stayed
                run.leftover_cost += stayed
            rec.outcome = "held" if rec.held else "unwound"
        if rec.outcome == "held":
            self._alert_held(rec)
        rec.actual_profit = rec.returned + run.leftover_cost - rec.spent
        if rec.spent > 0:
            rec.actual_profit_pct = rec.actual_profit / rec.spent * HUNDRED
        rec.fees = self._fees_in_start(rec, run.cost_per_unit)

    # the way back ------------------------------------------------------------------------------
    def _way_back(self, s: _Stranded, start: str) -> tuple[Route | None, bool]:
        """Return the route to unwind a stranded amount by (None if none), and whether it is dust.

        Safety first: the fewest hops that trade the whole amount within the loss bound at the
        current books, the best return among those. When no route is within the bound, the
        shortest one is still tried: its limits hold the bound and the venue has the last word.
        An amount below the first order's minimums on every route is dust.
        """
        if s.amount <= 0 or s.cost <= 0:
            return None, True
        floor_rate = s.cost / s.amount * (ONE - self._unwind_loss)
        direct = self._direct_hop(s.asset, start)
        fallback: Route | None = None
        found = False
        for length, routes in enumerate(self._routes(s.asset, start), 1):
            if length == 1 and direct is not None and (direct,) not in routes:
                routes.append((direct,))  # unquoted here: the venue answers at the bound
            found = found or bool(routes)
            best: Route | None = None
            best_end = ZERO
            for route in routes:
                first = route[0]
                price = self._top_price(first) or self._break_even_price(first, s)
                if not self._fits(first, s.amount, price):
                    continue
                fallback = fallback or route
                priced = self._price_route(route, s.amount)
                if priced is None:
                    continue
                rates, end, complete = priced
                if complete and _product(rates) >= floor_rate and (best is None or end > best_end):
                    best, best_end = route, end
            if best is not None:
                return best, False
        if fallback is not None:
            return fallback, False
        return None, found

    def _adjacency(self) -> dict[str, list[_Hop]]:
        """Return, per asset, the orders that leave it on any of the venue's markets."""
        listed = self.gateway.instruments()
        if self._adjacency_of is not None and self._adjacency_of[0] == len(listed):
            return self._adjacency_of[1]
        out: dict[str, list[_Hop]] = {}
        for inst in listed:
            if inst.base == inst.quote:
                continue
            fee = inst.taker_fee
            out.setdefault(inst.quote, []).append(
                _Hop(inst.symbol, Side.BUY, inst.quote, inst.base, fee)
            )
            out.setdefault(inst.base, []).append(
                _Hop(inst.symbol, Side.SELL, inst.base, inst.quote, fee)
            )
        self._adjacency_of = (len(listed), out)
        return out

    def _routes(self, asset: str, start: str) -> Iterator[list[Route]]:
        """Yield simple quoted routes from `asset` to `start`, one list per length, best first.

        Routes are ranked at top of book after fees, `ROUTES_PER_LENGTH` of each length. The
        search goes one hop further only when asked for the next length, and at each asset
        reached only the `ROUTE_BEAM` best partial routes go on: the work stays linear in the
        venue's markets.
        """
        adjacency = self._adjacency()
        log_rates: dict[tuple[str, Side], float | None] = {}

        def log_rate(hop: _Hop) -> float | None:
            key = (hop.symbol, hop.side)
            if key not in log_rates:
                price = self._top_price(hop)
                rate = None
                if price is not None and price > 0 and hop.fee < 1:
                    gross = price if hop.side is Side.SELL else ONE / price
                    rate = math.log(gross * (ONE - hop.fee))
                log_rates[key] = rate
            return log_rates[key]

        frontier: list[tuple[float, Route, tuple[str, ...]]] = [(0.0, (), (asset,))]
        hops = self.config.max_unwind_hops
        for depth in range(hops):
            found: list[tuple[float, Route]] = []
            reached: dict[str, list[tuple[float, Route, tuple[str, ...]]]] = {}
            for score, route, seen in frontier:
                for hop in adjacency.get(seen[-1], ()):
                    if hop.to_asset in seen:
                        continue
                    rate = log_rate(hop)
                    if rate is None:
                        continue
                    item = (score + rate, (*route, hop), (*seen, hop.to_asset))
                    if hop.to_asset == start:
                        found.append(item[:2])
                    elif depth + 1 < hops:
                        reached.setdefault(hop.to_asset, []).append(item)
            yield [r for _, r in heapq.nlargest(ROUTES_PER_LENGTH, found, key=lambda it: it[0])]
            frontier = [
                item
                for items in reached.values()
                for item in heapq.nlargest(ROUTE_BEAM, items, key=lambda it: it[0])
            ]

    def _direct_hop(self, asset: str, start: str) -> _Hop | None:
        inst = self.gateway.instrument(f"{asset}/{start}")
        if inst is not None:
            return _Hop(inst.symbol, Side.SELL, asset, start, inst.taker_fee)
        inst = self.gateway.instrument(f"{start}/{asset}")
        if inst is not None:
            return _Hop(inst.symbol, Side.BUY, asset, start, inst.taker_fee)
        return None

    def _top_price(self, hop: _Hop) -> Decimal | None:
        levels = self.gateway.levels(hop.symbol, hop.side)
        return levels[0][0] if levels else None

    def _break_even_price(self, hop: _Hop, s: _Stranded) -> Decimal:
        """Return the price at which a direct hop returns exactly the stranded amount's cost."""
        return s.cost / s.amount if hop.side is Side.SELL else s.amount / s.cost

    def _fits(self, hop: _Hop, amount: Decimal, price: Decimal) -> bool:
        """Tell whether `amount` of the hop's input makes an order above the market minimums."""
        inst = self.gateway.instrument(hop.symbol)
        if inst is None or price <= 0:
            return False
        buy = hop.side is Side.BUY
        qty = self._order_amount(amount, price, buy, inst.taker_fee, inst.amount_step)
        return not _below_minimum(qty, price, inst.min_amount, inst.min_notional)

    def _price_route(
        self, route: Route, amount: Decimal
    ) -> tuple[list[Decimal], Decimal, bool] | None:
        """Walk `amount` through each hop's current book.

        Return the gross rate of each hop, the amount at the end and whether every book was
        deep enough; None when a hop has no book or its order would be below the minimums.
        """
        rates: list[Decimal] = []
        complete = True
        for hop in route:
            inst = self.gateway.instrument(hop.symbol)
            levels = self.gateway.levels(hop.symbol, hop.side)
            if inst is None or not levels:
                return None
            buy = hop.side is Side.BUY
            fee = inst.taker_fee
            if buy:
                budget = amount / (ONE + fee) if self.config.fees_charged_in == "quote" else amount
                qty = quantize_down(_affordable(levels, budget), inst.amount_step)
            else:
                qty = quantize_down(amount, inst.amount_step)
            filled, value = _take(levels, qty)
            complete = complete and filled == qty
            if filled <= 0 or _below_minimum(filled, value / filled, inst.min_amount, ZERO):
                return None
            if value < inst.min_notional:
                return None
            if buy:
                rates.append(filled / value)
                amount = filled if self.config.fees_charged_in == "quote" else filled * (ONE - fee)
            else:
                rates.append(value / filled)
                amount = value * (ONE - fee)
        return rates, amount, complete

    async def _unwind(
        self, rec: ArbExecution, s: _Stranded, run: _Run, route: Route
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
                              hop.to_asset, _price_of(need, buy))  # fmt: skip
            rec.unwinds.append(ex)
            inst = self.gateway.instrument(hop.symbol)
            priced = self._price_route(rest, amount)
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
                    ex.scanned_price = _price_of(ref, buy)
                    if len(rest) > 1:
                        # Share the slack over the bound evenly between the hops left.
                        bound = ref / (_product(priced[0]) / need) ** (ONE / len(rest))
                    # The book as it is now for this amount, as a forward leg; never beyond.
                    worst = _worst_needed(levels, amount, buy, inst.taker_fee)
                    rate = max(bound, ONE / worst if buy else worst)
                limit, worst_limit = _price_of(rate, buy), _price_of(bound, buy)
                ex.limit_price = _round_price(limit, inst.price_tick, buy, worst_limit)
                qty = self._order_amount(
                    amount, ex.limit_price, buy, inst.taker_fee, inst.amount_step
                )
                if n > 0 and _below_minimum(
                    qty, ex.limit_price, inst.min_amount, inst.min_notional
                ):
                    # What reached this hop is too small to trade on: dust, at its cost.
                    ex.reason = (
                        f"unwind {n + 1} not sent: {qty} {hop.symbol} is below the market minimum"
                    )
                    run.add_dust(rec, asset, amount, ZERO)
                    return ZERO, stayed + cost
                await self._send(ex, qty, inst.min_amount, inst.min_notional)
            if ex.filled <= 0:
                rec.held[asset] = rec.held.get(asset, ZERO) + amount
                _add_reason(rec, ex.reason)
                return ZERO, stayed + cost
            achieved *= ONE / ex.avg_price if buy else ex.avg_price
            left = amount - ex.spent
            if left > 0:
                left_cost = cost * left / amount
                if ex.status == OrderStatus.FILLED.value:
                    run.add_dust(rec, asset, left, ZERO)  # rounding: its cost is in `stayed`
                else:
                    rec.held[asset] = rec.held.get(asset, ZERO) + left
                stayed += left_cost
                cost -= left_cost
            if ex.received > 0:
                run.cost_per_unit.setdefault(hop.to_asset, cost / ex.received)
            asset, amount = hop.to_asset, ex.received
        return amount, stayed

    def _fees_in_start(self, rec: ArbExecution, cost_per_unit: dict[str, Decimal]) -> Decimal:
        total = ZERO
        for ex in (*rec.legs, *rec.unwinds):
            if ex.fee:
                total += ex.fee * cost_per_unit.get(ex.fee_asset, ZERO)
        return total

    def _alert_held(self, rec: ArbExecution) -> None:
        held = ", ".join(f"{q} {a}" for a, q in rec.held.items())
        why = (
            "on_leg_failure=hold"
            if self.config.on_leg_failure == "hold"
            else f"unwind did not fill within max_unwind_loss_pct={self.config.max_unwind_loss_pct}"
        )
        self.gateway.publish(
            Event(
                ARB_HELD,
                self.gateway.now_ms(),
                {
                    "path": rec.path,
                    "cycle_id": rec.cycle_id,
                    "start_asset": rec.start_asset,
                    "held": {a: str(q) for a, q in rec.held.items()},
                    "reason": rec.reason,
                    "message": (
                        f"arbitrage cycle {rec.path} stopped with {held} held ({why}); "
                        "sell it back to the start asset or keep it deliberately"
                    ),
                },
                self.gateway.venue,
                rec.legs[-1].symbol if rec.legs else "",
                rec.strategy_id,
                "critical",
            )
        )

    # record ------------------------------------------------------------------------------------
    def _finish(self, rec: ArbExecution, opp: Opportunity, started: float) -> ArbExecution:
        rec.latency_ms = (time.perf_counter() - started) * 1000
        if rec.outcome == "rejected" and not rec.reason:
            rec.reason = "cycle rejected"
        cycle = {
            "cycle_id": opp.cycle_id,
            "path": opp.path(),
            "size_limited_by": opp.size_limited_by,
            "max_size": str(opp.max_size),
            "legs": [
                {"symbol": leg.symbol, "side": leg.side.value, "price": str(leg.price),
                 "fee": str(leg.fee)}
                for leg in opp.legs
            ],
        }  # fmt: skip
        rec.record_id = self.gateway.record_execution(rec.to_row(cycle))
        if any(leg.filled for leg in rec.legs):
            # The legs booked balances only; the risk engine sees the cycle as one trade.
            usd = self.gateway.usd_price(opp.start_asset) or ZERO
            symbols = tuple(
                dict.fromkeys([leg.symbol for leg in opp.legs] + [u.symbol for u in rec.unwinds])
            )
            self.gateway.observe_cycle(symbols, rec.actual_profit * usd, rec.ts)
        severity = "warning" if rec.outcome in ("unwound", "failed") else "info"
        if rec.outcome == "held":
            severity = "critical"
        self.gateway.publish(
            Event(
                ARB_EXECUTION,
                self.gateway.now_ms(),
                {
                    "record_id": rec.record_id,
                    "path": rec.path,
                    "start_asset": rec.start_asset,
                    "outcome": rec.outcome,
                    "reason": rec.reason,
                    "expected_profit_pct": str(rec.expected_profit_pct),
                    "actual_profit": str(rec.actual_profit),
                    "actual_profit_pct": str(rec.actual_profit_pct),
                    "latency_ms": round(rec.latency_ms, 3),
                },
                self.gateway.venue,
                opp.legs[0].symbol if opp.legs else "",
                rec.strategy_id,
                severity,
            )
        )
        return rec


def _gross_and_fees(opp: Opportunity) -> tuple[Decimal, Decimal]:
    """Split the scanned profit into gross (before fees) and the fees' share, in %."""
    gross = ONE
    for leg in opp.legs:
        if leg.price <= 0:
            return ZERO, ZERO
        gross *= ONE / leg.price if leg.side is Side.BUY else leg.price
    gross_pct = (gross - ONE) * HUNDRED
    return gross_pct, gross_pct - opp.profit_pct


def _worst_needed(
    levels: list[tuple[Decimal, Decimal]], amount_in: Decimal, buy: bool, fee: Decimal
) -> Decimal:
    """Return the worst level price trading `amount_in` reaches (the last level if too thin)."""
    left = amount_in / (ONE + fee) if buy else amount_in
    worst = levels[0][0]
    for price, size in levels:
        worst = price
        take = price * size if buy else size
        if take >= left:
            break
        left -= take
    return worst


def _round_price(price: Decimal, tick: Decimal, buy: bool, bound: Decimal) -> Decimal:
    """Round a limit to the tick, away from the book unless that crosses the slippage bound."""
    if tick <= 0:
        return price
    up = (price / tick).to_integral_value(ROUND_CEILING) * tick
    down = (price / tick).to_integral_value(ROUND_FLOOR) * tick
    if buy:
        return up if up <= bound else down
    return down if down >= bound else up


def _add_reason(rec: ArbExecution, reason: str) -> None:
    rec.reason = f"{rec.reason}; {reason}" if rec.reason else reason


def _below_minimum(
    qty: Decimal, price: Decimal, min_amount: Decimal, min_notional: Decimal
) -> bool:
    return qty <= 0 or qty < min_amount or qty * price < min_notional


def _price_of(rate: Decimal, buy: bool) -> Decimal:
    """Return the limit price giving a hop `rate` (to-asset per from-asset, before fees)."""
    return ONE / rate if buy else rate


def _product(values: list[Decimal]) -> Decimal:
    out = ONE
    for v in values:
        out *= v
    return out


def _affordable(levels: list[tuple[Decimal, Decimal]], budget: Decimal) -> Decimal:
    """Return the base amount `budget` of quote buys down the asks (capped by their depth)."""
    base = ZERO
    for price, size in levels:
        cost = price * size
        if cost >= budget:
            return base + budget / price
        base += size
        budget -= cost
    return base


def _take(levels: list[tuple[Decimal, Decimal]], qty: Decimal) -> tuple[Decimal, Decimal]:
    """Return (base filled, quote value) of trading `qty` through the levels."""
    filled = value = ZERO
    for price, size in levels:
        if filled >= qty:
            break
        take = min(size, qty - filled)
        filled += take
        value += take * price
    return filled, value

"""Leg-safe execution of a scanned cycle: IOC legs chained on what actually filled.

```python
gateway = OrderManagerGateway(node.orders, "paper", "triangular")
executor = TriangularExecutor(gateway, node.risk, node.storage, node.clock, TriangularExecConfig())
record = await executor.execute(opportunity)      # one arb_executions row, whatever happens
```

How one cycle runs
- The cycle as a whole goes through `RiskEngine.check_cycle` (min profit after fees, cycle
  length, size per cycle); each leg still goes through `RiskEngine.check` inside the order path.
- Each leg is an IOC limit order at the scanned price (the worst book level the scanner needed),
  or at the worst level the current book needs for this leg's amount, but never more than
  `slippage_pct` beyond the scanned price; when even the best level is beyond that, the leg is
  not sent. Without a current book the scanned price is the limit.
- What a leg actually received (fills, minus fees charged in the received asset) is chained into
  the next leg, rounded down to that market's amount step.
- When a leg fails or fills partially, the asset left in between is either sold back to the start
  asset with IOC orders whose prices stay within `max_unwind_loss_pct` of its cost (`unwind`), or
  kept and announced with a critical `arb.held` event (`hold`). Amounts too small to trade on the
  way back are reported as dust.
- Outcome: `completed`, `unwound`, `held`, `rejected` (nothing sent) or `failed` (the first leg
  filled nothing). Profit is in the start asset; assets left over count at their cost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from tradeguard.clock import Clock
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.events import Event
from tradeguard.model.money import ONE, ZERO, quantize_down
from tradeguard.model.order import OrderIntent
from tradeguard.storage.arb_repository import insert_arb_execution
from tradeguard.strategies.triangular.exec_gateway import ExecGateway
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
ARB_EXECUTION = "arb.execution"
ARB_HELD = "arb.held"
Outcome = Literal["completed", "unwound", "held", "rejected", "failed"]


class CycleRisk(Protocol):
    """The part of the risk engine that approves a cycle as a whole."""

    def check_cycle(
        self,
        legs: list[OrderIntent],
        gross_profit_pct: Decimal,
        fees_pct: Decimal,
        notional_usd: Decimal,
    ) -> Any: ...


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


class TriangularExecutor:
    """Execute scanned cycles leg by leg through the order path, safe against leg risk."""

    def __init__(
        self,
        gateway: ExecGateway,
        risk: CycleRisk,
        storage: Any,
        clock: Clock,
        config: TriangularExecConfig | None = None,
    ) -> None:
        self.gateway = gateway
        self.risk = risk
        self.storage = storage
        self.clock = clock
        self.config = config or TriangularExecConfig()
        self._lock = asyncio.Lock()
        self._slip = self.config.slippage_pct / HUNDRED
        self._unwind_loss = self.config.max_unwind_loss_pct / HUNDRED

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
            try:
                await self._execute(rec, opp)
            except Exception as exc:  # the record must be written whatever broke
                log.exception("cycle %s failed", opp.path())
                rec.reason = f"cycle aborted by an error: {exc!r}"
                rec.outcome = "held" if any(leg.filled for leg in rec.legs) else "failed"
                if rec.outcome == "held":
                    self._alert_held(rec)
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
            ts=self.clock.now_ms(),
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
        decision = self.risk.check_cycle(
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
        if amount <= 0 or amount < min_amount or amount * ex.limit_price < min_notional:
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
            tag=f"arb-{ex.kind}",
        )
        started = time.perf_counter()
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
        tradable: list[_Stranded] = []
        for s in run.stranded:
            if self._tradable(s, opp):
                tradable.append(s)
            else:
                run.add_dust(rec, s.asset, s.amount, s.cost)
        if not tradable:
            rec.outcome = "completed" if completed_chain else "failed"
        elif self.config.on_leg_failure == "hold":
            for s in tradable:
                rec.held[s.asset] = rec.held.get(s.asset, ZERO) + s.amount
                run.leftover_cost += s.cost
            rec.outcome = "held"
        else:
            for s in tradable:
                back, stayed = await self._unwind(rec, opp, s, run)
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

    def _tradable(self, s: _Stranded, opp: Opportunity) -> bool:
        """Tell whether a stranded amount can form the first order on the way back."""
        route = self._unwind_route(s, opp)
        if not route:
            return False
        symbol, side, price = route[0]
        inst = self.gateway.instrument(symbol)
        if inst is None or price <= 0:
            return False
        qty = quantize_down(s.amount if side is Side.SELL else s.amount / price, inst.amount_step)
        return qty > 0 and qty >= inst.min_amount and qty * price >= inst.min_notional

    def _unwind_route(self, s: _Stranded, opp: Opportunity) -> list[tuple[str, Side, Decimal]]:
        """Return (symbol, side, break-even price) hops from the stranded asset to the start."""
        start = opp.start_asset
        if s.amount > 0 and s.cost > 0:
            # One hop back at its cost: the price that returns exactly what the asset cost.
            if self.gateway.instrument(f"{s.asset}/{start}") is not None:
                return [(f"{s.asset}/{start}", Side.SELL, s.cost / s.amount)]
            if self.gateway.instrument(f"{start}/{s.asset}") is not None:
                return [(f"{start}/{s.asset}", Side.BUY, s.amount / s.cost)]
        # Otherwise retrace the legs already done (`_unwind` uses the prices they filled at).
        return [
            (leg.symbol, leg.side.opposite, leg.price) for leg in reversed(opp.legs[: s.position])
        ]

    async def _unwind(
        self, rec: ArbExecution, opp: Opportunity, s: _Stranded, run: _Run
    ) -> tuple[Decimal, Decimal]:
        """Trade a stranded asset back; return (start asset back, cost of what stayed)."""
        route = self._unwind_route(s, opp)
        fills = {ex.symbol: ex.avg_price for ex in rec.legs if ex.avg_price > 0}
        per_hop = self._unwind_loss / len(route)
        asset, amount, cost, stayed = s.asset, s.amount, s.cost, ZERO
        for n, (symbol, side, ref) in enumerate(route):
            if len(route) > 1 and symbol in fills:
                ref = fills[symbol]  # retracing: the break-even is the price paid on the way in
            base, _, quote = symbol.partition("/")
            to_asset = quote if side is Side.SELL else base
            ex = LegExecution("unwind", len(rec.unwinds), symbol, side, asset, to_asset, ref)
            rec.unwinds.append(ex)
            inst = self.gateway.instrument(symbol)
            if inst is None:
                ex.reason = f"unwind {n + 1}: {symbol} is not listed on {self.gateway.venue}"
            else:
                buy = side is Side.BUY
                bound = ref * (ONE + per_hop) if buy else ref * (ONE - per_hop)
                ex.limit_price = _round_price(bound, inst.price_tick, buy, bound)
                qty = self._order_amount(
                    amount, ex.limit_price, buy, inst.taker_fee, inst.amount_step
                )
                await self._send(ex, qty, inst.min_amount, inst.min_notional)
            if ex.filled <= 0:
                rec.held[asset] = rec.held.get(asset, ZERO) + amount
                rec.reason = f"{rec.reason}; {ex.reason}" if rec.reason else ex.reason
                return ZERO, stayed + cost
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
                run.cost_per_unit.setdefault(to_asset, cost / ex.received)
            asset, amount = to_asset, ex.received
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
                self.clock.now_ms(),
                {
                    "path": rec.path,
                    "cycle_id": rec.cycle_id,
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
        if self.storage is not None:
            rec.record_id = insert_arb_execution(self.storage, rec.to_row(cycle))
        severity = "warning" if rec.outcome in ("unwound", "failed") else "info"
        if rec.outcome == "held":
            severity = "critical"
        self.gateway.publish(
            Event(
                ARB_EXECUTION,
                self.clock.now_ms(),
                {
                    "record_id": rec.record_id,
                    "path": rec.path,
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

"""Both legs or neither: the thinner leg first as FOK, the other as FOK, else unwind or hold.

```python
executor = PairExecutor({"pm": pm_gateway, "kalshi": k_gateway}, "pmarb", PairExecConfig(),
                        limits=PairLimits(), book=LimitBook(), refusal=lambda pair_id, now: "")
attempt = await executor.execute(opportunity)     # one arb_executions row, whatever happens
```

One attempt:
- the pair's map entry must still allow trading (reviewed, review not expired), no leg may buy
  what its venue would net against contracts held there (`netting_guard.py`), the strategy's
  limits must pass (trimming the size to the caps' room), the size is trimmed so the first leg
  could be sold back within `max_unwind_loss_usd` at the book it was planned on, or the pair is
  refused (`unwind_size.py`), and the risk engine's cycle check must
  approve both legs as one; each leg still passes the risk check and the journal on submit;
- the leg with less depth at its limit goes first, fill-or-kill at the worst level its size
  needs; if it does not fill, nothing is at risk (`failed`);
- the second leg goes fill-or-kill at the highest price that still keeps `min_edge_usd` per
  contract pair given what the first leg actually cost (fees at that price included);
- if the second leg does not fill, the first is sold back (IOC) no lower than the price that
  keeps the loss within `max_unwind_loss_usd`, nor below the edge of `risk.price_band_pct`
  (a lower limit is refused by the risk engine) (`unwound`); what does not sell is held and a
  critical `arb.held` event says what, where and why (`held`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_UP, Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.money import ONE, ZERO, plain
from tradeguard.model.order import ARB_UNWIND_TAG, OrderIntent
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.limits import (
    LimitBook,
    OpenPair,
    PairLimits,
    check_limits,
    is_dust,
)
from tradeguard.strategies.cross_venue.netting_guard import (
    PAIR_NETS,
    NetsRefusals,
    netting_refusal,
)
from tradeguard.strategies.cross_venue.recording import PairRecording
from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult, trim_text
from tradeguard.strategies.cross_venue.scanner import HUNDRED, LegPlan, PairOpportunity
from tradeguard.strategies.cross_venue.unresolved import (
    hold_unresolved,
    hold_unresolved_unwind,
    unresolved,
)
from tradeguard.strategies.cross_venue.unwind_size import (
    PAIR_UNWIND,
    planned_unwind_loss,
    unwind_size,
)
from tradeguard.strategies.gateway import (
    CycleDecision,
    ExecutionGateway,
    refusal_status,
    wait_or_cancel,
    within_band,
)

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
# Risk refusals a lower limit price may lift (the band, notional and cash limits); any other
# refuses every price alike.
PRICE_CODES = frozenset({
    "PRICE_BAND", "MAX_ORDER_NOTIONAL", "MAX_ORDER_NOTIONAL_PCT", "MAX_POSITION_NOTIONAL",
    "PRICE_FILTER", "PORTFOLIO_HEAT", "STABLE_RESERVE", "MIN_ACCOUNT_BALANCE", "TX_VALUE_CAP",
})  # fmt: skip


class PairExecConfig(ConfigModel):
    """`[strategies.params.exec]` of a cross_venue strategy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    leg_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # The second leg's limit keeps at least this profit per contract pair, in USD.
    min_edge_usd: Decimal = Field(default=ZERO, ge=0, lt=1)
    # Most an unwind of a lone first leg may lose (prices and fees), in USD; pairs are sized so
    # the unwind at the planned book fits it (unwind_size.py).
    max_unwind_loss_usd: Decimal = Field(default=Decimal(5), ge=0, le=Decimal(100_000))
    # A lone leg a stopped node left without a record, at the next start: sold back within
    # max_unwind_loss_usd before the strategy trades (`unwind`), or kept and reported (`hold`).
    on_interrupted: Literal["unwind", "hold"] = "unwind"


class PairExecutor(PairRecording):
    """Execute pair opportunities through two venues' execution gateways, one at a time."""

    def __init__(
        self,
        gateways: Mapping[str, ExecutionGateway],
        strategy_id: str,
        config: PairExecConfig | None = None,
        *,
        limits: PairLimits | None = None,
        book: LimitBook | None = None,
        fees: Mapping[str, FeeModel] | None = None,
        refusal: Callable[[str, int], str] | None = None,
        mode: str = "PAPER",
    ) -> None:
        self.gateways = dict(gateways)
        self.strategy_id = strategy_id
        self.config = config or PairExecConfig()
        self.limits = limits or PairLimits()
        self.book = book or LimitBook()
        self.fees = dict(fees or {})
        self.refusal = refusal or (lambda _pair, _now: "")
        # when a mapped pair settles (0: not mapped), set by the strategy from its map
        self.pair_settles: Callable[[str], int] = lambda _pair: 0
        self.mode = mode
        self.attempts: list[PairAttempt] = []
        # held record id -> id of its newest retry record written by this process
        self.held_retries: dict[int, int] = {}
        # set while a held leg's retry sells: its orders name the held record (held_retry.py)
        self.retry_signal: dict[str, Any] = {}
        # set while a pair's legs are sent: their orders name the pair, so a start after a kill
        # before the record books it from the journal (adopt.py)
        self.attempt_signal: dict[str, Any] = {}
        self.last_record_id = 0  # the newest record this strategy's book reflects
        self._unstamped: list[OpenPair] = []  # booked by the attempt whose record is unwritten
        self.nets_refused = NetsRefusals()  # PAIR_NETS recorded once per pair and held state
        self._nets_pending: PairAttempt | None = None
        self.late_sales: dict[str, Any] = {}  # retry sales in flight at their record (late_sale)
        self._lock = asyncio.Lock()
        self._clock = next(iter(self.gateways.values()))

    @property
    def busy(self) -> bool:
        """Tell whether a pair is being executed now."""
        return self._lock.locked()

    def _fee(self, venue: str) -> FeeModel:
        found = self.fees.get(venue)
        if found is None:
            kind = self.gateways[venue].venue_kind
            found = FeeModel.default("kalshi" if "kalshi" in kind else "polymarket")
        return found

    async def execute(self, opp: PairOpportunity) -> PairAttempt:
        """Run one attempt and record it; never raises for a venue's no."""
        now = self._clock.now_ms()
        rec = PairAttempt(
            self.strategy_id,
            opp.pair_id,
            opp.event,
            opp.direction,
            self.mode,
            opp.contracts,
            opp.edge,
            opp.profit,
            opp.roi_pct,
            ts=now,
        )
        started = time.perf_counter()
        if self._lock.locked():
            rec.reason = "pair rejected: another pair is still executing"
        else:
            async with self._lock:
                try:
                    await self._run(rec, opp, started)
                except Exception as exc:  # the record is written whatever broke
                    log.exception("pair %s failed", opp.pair_id)
                    rec.reason = f"pair aborted by an error: {exc!r}"
                    rec.outcome = "held" if any(leg.filled for leg in rec.legs) else "failed"
                    if rec.outcome == "held":
                        self._held_by_error(rec, opp)
                finally:
                    self.attempt_signal = {}
        rec.latency_ms = (time.perf_counter() - started) * 1000
        if rec.code == PAIR_NETS and self.nets_refused.repeat(rec.pair_id, rec.reason, rec.ts):
            self._clock.record_note({"nets_refused": self.nets_refused.to_json()})  # kill-safe
            return rec  # counted on the held state's record: no record, no event again
        self._nets_pending = rec if rec.code == PAIR_NETS else None  # committed with its record
        try:
            return self._finish(rec)
        finally:
            self._nets_pending = None  # a record not written registers nothing

    async def _run(self, rec: PairAttempt, opp: PairOpportunity, started: float) -> None:
        why = self.refusal(opp.pair_id, rec.ts)
        if why:
            rec.code, rec.reason = "PAIR_REFUSED", f"pair rejected: {why}"
            return
        why = netting_refusal(self.gateways, opp)  # its leg would be netted away at once
        if why:
            rec.code, rec.reason = PAIR_NETS, why
            return
        self.nets_refused.clear(opp.pair_id)
        verdict = check_limits(self.limits, self.book, opp, rec.ts)
        if not verdict.ok:
            rec.code, rec.reason = verdict.code, verdict.reason
            return
        first_plan, second_plan = sorted(opp.legs, key=lambda leg: leg.depth_at_limit)
        n = self._unwindable(rec, opp, first_plan, verdict.contracts)
        if n is None:
            return
        second_cap = await self._approve(rec, opp, n, first_plan, second_plan)
        if second_cap is None:
            return
        # the trim rides with the legs: a start adopting them after a kill records it too
        self.attempt_signal = {**opp.signal(), **({"trimmed": rec.trimmed} if rec.trimmed else {})}
        first = await self._send(
            "first",
            first_plan.venue,
            first_plan.symbol,
            Side.BUY,
            n,
            first_plan.limit_price,
            TimeInForce.FOK,
        )
        rec.legs.append(first)
        if unresolved(first):  # it may fill yet: never guessed unfilled
            hold_unresolved(self, rec, opp, first)
            return
        if first.filled <= 0:
            rec.outcome = "rejected" if first.status in ("not_sent", "denied") else "failed"
            rec.reason = first.reason or f"first leg {first.symbol} filled nothing"
            return
        held = first.filled
        limit = self._second_limit(second_plan, -first.cash / first.filled, held)
        if limit is not None:  # never above the price the risk engine approved before leg one
            limit = min(limit, second_cap)
        if limit is None:
            second = PairLegResult(
                "second",
                second_plan.venue,
                second_plan.symbol,
                Side.BUY,
                held,
                ZERO,
                reason="no price keeps the edge after leg one",
            )
        else:
            second = await self._send(
                "second",
                second_plan.venue,
                second_plan.symbol,
                Side.BUY,
                held,
                limit,
                TimeInForce.FOK,
            )
        rec.legs.append(second)
        rec.decision_to_acks_ms = (time.perf_counter() - started) * 1000
        if second.filled >= held:
            self._completed(rec, opp, first, second)
            return
        if unresolved(second):  # selling the first back could leave the second alone
            hold_unresolved(self, rec, opp, second)
            return
        rec.reason = second.reason or f"second leg {second.symbol} did not fill"
        await self._unwind(rec, first, held - second.filled)
        if rec.outcome == "held":  # capital in the pair until it is sold or settles
            left = rec.held[first.symbol]
            self.book_pair(
                OpenPair(opp.pair_id, opp.event, opp.direction, left, rec.capital,
                         opp.settles_at_ms, (first.venue,), (first.symbol,))
            )  # fmt: skip

    def _unwindable(
        self, rec: PairAttempt, opp: PairOpportunity, plan: LegPlan, n: Decimal
    ) -> Decimal | None:
        """The size (at most `n`) whose first leg could be sold back within max_unwind_loss_usd
        at the planned book, set on `rec`, or None with the refusal on `rec` (`unwind_size.py`)."""
        gateway, fees = self.gateways[plan.venue], self._fee(plan.venue)
        size, why = unwind_size(gateway, fees, plan, n, self.config.max_unwind_loss_usd)
        if why:
            rec.code, rec.reason = PAIR_UNWIND, why
            return None
        if size < n:  # recorded and shown with the attempt: the operator sees why
            cap = self.config.max_unwind_loss_usd
            full = planned_unwind_loss(fees, plan, gateway.levels(plan.symbol, Side.SELL), n)
            rec.trimmed = {"from": plain(n), "to": plain(size), "max_unwind_loss_usd": plain(cap),
                           "planned_loss_usd": plain(full.quantize(CENT))}  # fmt: skip
            log.info("pair %s %s", rec.pair_id, trim_text(rec.trimmed))
        rec.contracts, rec.expected_profit = size, opp.edge * size
        return size

    def _held_by_error(self, rec: PairAttempt, opp: PairOpportunity) -> None:
        """Book the first leg an error left held (less what a later leg bought or sold) in the
        pair's book, as a held unwind does, and alert."""
        first = rec.legs[0]
        rec.fees = sum((leg.fee for leg in rec.legs), ZERO)  # every fee the attempt paid
        left = first.filled - sum((leg.filled for leg in rec.legs[1:]), ZERO)
        if left > 0:  # (an error never follows the normal path booking it)
            rec.held[first.symbol] = left
            rec.capital = -first.cash * left / first.filled
            self.book_pair(
                OpenPair(opp.pair_id, opp.event, opp.direction, left, rec.capital,
                         opp.settles_at_ms, (first.venue,), (first.symbol,))
            )  # fmt: skip
        self._hold(rec, first)

    async def _approve(
        self,
        rec: PairAttempt,
        opp: PairOpportunity,
        n: Decimal,
        first_plan: LegPlan,
        second_plan: LegPlan,
    ) -> Decimal | None:
        """Approve the pair before any leg is sent: the risk engine's cycle check, each leg's own
        risk check (the second at the highest price it may be sent at), the cash on both venues.
        Return that highest second-leg price, or None with the refusal recorded on `rec`."""
        first_fee = self._fee(first_plan.venue).order_fee([(first_plan.limit_price, n)])
        cap = self._second_limit(second_plan, first_plan.limit_price + first_fee / n, n)
        if cap is None:
            rec.code = "PAIR_EDGE"
            rec.reason = (
                f"pair rejected: no {second_plan.symbol} price keeps min_edge_usd="
                f"{self.config.min_edge_usd} if the first leg fills at its limit "
                f"{first_plan.limit_price}"
            )
            return None
        intents = [self._intent(p.venue, p.symbol, Side.BUY, n, p.limit_price) for p in opp.legs]
        cost = opp.capital * n / opp.contracts
        fees = sum((leg.fee for leg in opp.legs), ZERO) * n / opp.contracts
        gross_pct = (n - cost + fees) / cost * HUNDRED
        decision = self.gateways[first_plan.venue].check_cycle(
            intents, gross_pct, fees / cost * HUNDRED, cost
        )
        if not decision.approved:
            rec.code = decision.code
            rec.reason = decision.reason or f"pair rejected by risk: {decision.code}"
            return None
        # A leg the risk engine would refuse must be found now: refused after leg one filled,
        # the second leg leaves the first to unwind or to hold.
        spent = first_plan.limit_price * n + first_fee  # the first leg's cash, for the second
        for ahead, (role, plan) in enumerate((("first", first_plan), ("second", second_plan))):
            price, verdict = await self._approved_price(
                plan, n, cap if ahead else None, ahead, spent if ahead else ZERO
            )
            if price is None:
                rec.code = verdict.code
                rec.reason = (
                    f"pair rejected before either leg was sent: {role} leg {plan.symbol} on "
                    f"{plan.venue} at {plan.limit_price}: {verdict.reason or verdict.code}"
                )
                return None
            if role == "second":
                cap = price
        short = self._short_of_funds(opp, n)
        if short:
            rec.code, rec.reason = "PAIR_FUNDS", short
            return None
        return cap

    async def _approved_price(
        self, plan: LegPlan, n: Decimal, cap: Decimal | None, ahead: int, spent: Decimal
    ) -> tuple[Decimal | None, CycleDecision]:
        """The highest price from `cap` (None: the plan's limit) down to the plan's limit that
        the risk engine passes for this leg after `ahead` earlier legs spending `spent` USD (a
        dry run), or None with the refusal.

        The walk starts at the price band's edge (no price above it passes) and stops at the
        first refusal a lower price cannot lift (a day without trades left, a halt)."""
        gateway = self.gateways[plan.venue]
        inst = gateway.instrument(plan.symbol)
        tick = inst.price_tick if inst is not None else CENT
        price = plan.limit_price if cap is None else cap
        if price > plan.limit_price:
            edge = await gateway.band_edge(plan.symbol, Side.BUY)
            if edge is not None and edge < price:
                price = max(edge, plan.limit_price)
        while True:
            intent = self._intent(plan.venue, plan.symbol, Side.BUY, n, price)
            verdict = gateway.check_order(intent, ahead, spent)
            if verdict.approved:
                return price, verdict
            if price <= plan.limit_price or verdict.code not in PRICE_CODES:
                return None, verdict
            price = max(price - tick, plan.limit_price)

    def _short_of_funds(self, opp: PairOpportunity, n: Decimal) -> str:
        """Why a venue cannot pay for its leg (both are checked before the first is sent, so a
        shortfall never turns into an unwind), or ""."""
        for leg in opp.legs:
            gateway = self.gateways[leg.venue]
            inst = gateway.instrument(leg.symbol)
            free = gateway.free(inst.quote) if inst is not None else None
            need = (leg.limit_price * n + leg.fee * n / opp.contracts).quantize(CENT, ROUND_UP)
            if free is not None and free < need:
                return (
                    f"pair rejected: {leg.venue} has {free} {inst.quote if inst else ''} free, "
                    f"its {leg.symbol} leg needs up to {need} ({n} contracts at {leg.limit_price} "
                    "plus fees); both legs are checked before the first is sent"
                )
        return ""

    def _completed(
        self, rec: PairAttempt, opp: PairOpportunity, first: PairLegResult, second: PairLegResult
    ) -> None:
        n = first.filled
        rec.capital = -(first.cash + second.cash)
        rec.fees = first.fee + second.fee
        rec.actual_profit = n - rec.capital
        rec.actual_edge = rec.actual_profit / n
        rec.outcome = "completed"
        by_venue = {leg.venue: leg.symbol for leg in (first, second)}
        venues = (opp.legs[0].venue, opp.legs[1].venue)
        self.book_result(rec)  # the attempt's trade: its profit comes at settlement
        self.book_pair(
            OpenPair(
                opp.pair_id,
                opp.event,
                opp.direction,
                n,
                rec.capital,
                opp.settles_at_ms,
                venues,
                (by_venue[venues[0]], by_venue[venues[1]]),
            )
        )

    def _second_limit(self, plan: LegPlan, paid: Decimal, n: Decimal) -> Decimal | None:
        """Return the highest tick price for the second leg that keeps min_edge_usd given what
        the first cost per contract (`paid`, fee included), if any."""
        inst = self.gateways[plan.venue].instrument(plan.symbol)
        tick = inst.price_tick if inst is not None else CENT
        fees = self._fee(plan.venue)
        price = ((ONE - paid - self.config.min_edge_usd) / tick).to_integral_value(
            rounding=ROUND_FLOOR
        ) * tick
        price = min(price, ONE - tick)
        while price > 0:
            fee = fees.order_fee([(price, n)]) / n
            if ONE - paid - price - fee >= self.config.min_edge_usd:
                return price
            price -= tick
        return None

    async def _unwind(
        self,
        rec: PairAttempt,
        first: PairLegResult,
        amount: Decimal,
        cap: Decimal | None = None,
        counted: bool = False,
    ) -> None:
        """Sell back `amount` of the first leg within the loss cap (`cap`, else the config's),
        else hold it and alert; `counted`: the attempt is a trade of the day already (a pair
        booked of part of it), the sale only realises its P&L."""
        cap = self.config.max_unwind_loss_usd if cap is None else cap
        cost = -first.cash * amount / first.filled
        inst = self.gateways[first.venue].instrument(first.symbol)
        tick = inst.price_tick if inst is not None else CENT
        fees = self._fee(first.venue)
        floor = ((cost - cap) / amount / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        price = max(floor, tick)
        while price < ONE and cost - (amount * price - fees.order_fee([(price, amount)])) > cap:
            price += tick
        if price < ONE:  # never below the band's edge, where the risk engine would refuse it
            price = await within_band(self.gateways[first.venue], first.symbol, Side.SELL, price)
        if price >= ONE:
            leg = PairLegResult(
                "unwind",
                first.venue,
                first.symbol,
                Side.SELL,
                amount,
                ZERO,
                reason="no sell price keeps the loss within the cap",
            )
        else:  # the sale names what it sells cost: a FAILED trade holds them again at that
            self.attempt_signal = {**self.attempt_signal, "unwind_cost": plain(cost)}
            leg = await self._send(
                "unwind", first.venue, first.symbol, Side.SELL, amount, price, TimeInForce.IOC
            )
        rec.legs.append(leg)
        if unresolved(leg):  # it may sell yet: never guessed unsold
            hold_unresolved_unwind(self, rec, first, leg, amount, counted)
            return
        sold_cost = cost * leg.filled / amount
        rec.actual_profit = leg.cash - sold_cost if leg.filled else ZERO
        rec.fees = sum((paid.fee for paid in rec.legs), ZERO)  # every fee the attempt paid
        left = amount - leg.filled
        if left > 0 and is_dust(inst, left):
            # No order can sell it: its only value is its settlement, unknown until then, so
            # its cost is realised as a loss now (valued at zero), in the day's realised loss.
            rec.actual_profit -= cost * left / amount
        self.book_result(rec, rec.actual_profit, trade=not counted)
        if left > 0 and not is_dust(inst, left):
            rec.held[first.symbol] = left
            rec.capital = cost * left / amount
            rec.outcome = "held"
            self._hold(rec, leg)
        else:  # flat: what no order can sell is shown as dust on the record, not held
            rec.outcome = "unwound"
            rec.dust.update({first.symbol: left} if left > 0 else {})

    def _intent(
        self,
        venue: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal,
        tif: TimeInForce = TimeInForce.FOK,
        role: str = "leg",
    ) -> OrderIntent:
        return OrderIntent(
            strategy_id=self.strategy_id,
            venue=venue,
            symbol=symbol,
            side=side,
            amount=amount,
            type=OrderType.LIMIT,
            price=price,
            time_in_force=tif,
            signal={
                "arb": role,
                "kind": "cross_venue",
                **self.attempt_signal,
                **self.retry_signal,
            },
            tag=ARB_UNWIND_TAG if role == "unwind" else f"arb-{role}",
        )

    async def _send(
        self,
        role: str,
        venue: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal,
        tif: TimeInForce,
    ) -> PairLegResult:
        leg = PairLegResult(role, venue, symbol, side, amount, price)
        gateway = self.gateways[venue]
        started = time.perf_counter()
        result = await gateway.submit(self._intent(venue, symbol, side, amount, price, tif, role))
        order = result.order
        if order is not None:
            leg.client_order_id = order.client_order_id
        if not result.ok or order is None:
            leg.status = refusal_status(result)
            leg.reason = f"{role} leg {symbol} on {venue} {result.status}: {result.reason}"
            leg.latency_ms = (time.perf_counter() - started) * 1000
            return leg
        cid = order.client_order_id
        final = await wait_or_cancel(gateway, cid, self.config.leg_timeout_s)
        leg.latency_ms = (time.perf_counter() - started) * 1000
        order = final or order
        leg.status = order.status.value
        fills = gateway.fills(cid)
        if fills:
            leg.book_fills(fills)
        else:
            leg.filled, leg.avg_price, leg.fee = order.filled, order.avg_price, order.fee
        if order.status is not OrderStatus.FILLED:
            leg.reason = (
                f"{role} leg {symbol} on {venue} {leg.status}: filled {leg.filled} of {amount} "
                f"within {price}" + (f" ({order.reason})" if order.reason else "")
            )
        gateway.forget(cid)
        return leg

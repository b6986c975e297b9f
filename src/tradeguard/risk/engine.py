"""The risk engine: the one gate between an intent and the order manager.

`check` answers with a reason code, the value and the limit, never silence, and every answer goes
to the audit log. The rules are classes in `risk/rules/`, evaluated in order:
- HALTED denies every order, with one narrow exception: intents issued by the kill switch itself
  to flatten positions (`tag="kill-flatten"`, `reduce_only=True`) pass when they only shrink the
  net position on their symbol or their strategy's own, within the market slippage cap.
- `ORDER_RULES` (venue breaker, stale data, instrument, price band / bound, per-transaction
  value cap, reduce-only,
  REDUCING), the order rate and the order's USD value apply to every order.
- `ENTRY_RULES` (exposure, losses, counts, cooldowns) apply to orders that open or grow
  exposure; an exit is never trapped by them.
The tuples of bound `check`s are built once per config, leaving out rules that cannot deny under
it (and the REDUCING rule while trading is ACTIVE); one `Check` context is reused across checks.
Breakers and the persisted state live in `observers.py` and `state.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.events import Event, EventData, EventKind
from tradeguard.model.money import ONE, STABLECOINS, ZERO, plain
from tradeguard.model.order import OrderIntent
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.portfolio.usd_equity import UsdEquity, usd_equity, usd_rate
from tradeguard.risk.breakers import DAY_MS, RateBucket, VenueBreaker
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.cycle import cycle_denial
from tradeguard.risk.exposure import Exposure, ExposureMeter
from tradeguard.risk.mark_guard import MarkGuard
from tradeguard.risk.observers import RiskObservers
from tradeguard.risk.rules import (
    ARB_UNWIND_TAG,
    ENTRY_RULES,
    ORDER_RULES,
    PRICING_RULES,
    Check,
    Denial,
    OrderRateRule,
    build,
)
from tradeguard.risk.rules.base import frac
from tradeguard.risk.rules.order import closes_own, price_bound, shrinks
from tradeguard.risk.state import LOSS_LIMIT_BY, ResumeRefused
from tradeguard.risk.unwind import CycleHoldings
from tradeguard.risk.views import MarketView, PortfolioView, StateStore

__all__ = [
    "ARB_UNWIND_TAG",
    "CEILING_OVERRIDE",
    "KILL_FLATTEN_TAG",
    "STABLECOINS",
    "ResumeRefused",
    "RiskDecision",
    "RiskEngine",
]

KILL_FLATTEN_TAG = "kill-flatten"
# bound once: enum members and constants read on every check
_HALTED = TradingState.HALTED
_ACTIVE = TradingState.ACTIVE
_APPROVED = EventKind.RISK_APPROVED
CEILING_OVERRIDE = "risk.ceiling_override"
# Summed exposure is re-read after every fill and at least this often (marks, cancels).
_EXPOSURE_MAX_AGE_MS = 1_000


@dataclass(slots=True)
class RiskDecision:
    """The answer to one intent: approved or not, with the rule, value and limit that decided."""

    approved: bool
    code: str
    reason: str = ""
    price_bound: Decimal | None = None
    rule: str = ""
    value: Decimal | None = None
    limit: Decimal | None = None
    # an approval's counts taken back (`RiskEngine.check`): its order was never sent
    withdraw: Callable[[], None] | None = field(default=None, compare=False, repr=False)


def _discard(event: Event) -> None:
    pass


def _s(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


class RiskEngine(RiskObservers):
    """Check every intent against the limits; trip breakers from fills, equity and venue errors."""

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        store: StateStore,
        emit: Callable[[Event], None],
        valuation_asset: str = "USDT",
    ) -> None:
        super().__init__(config, clock, store, emit, valuation_asset)
        self._is_usd = is_usd = self.valuation.is_usd
        self._rate = OrderRateRule(config)
        # every order: the order rules, the order rate (its bucket counts approvals), pricing
        tail = (self._rate.check, *build(PRICING_RULES, config, is_usd))
        self._order_rules = (*build(ORDER_RULES, config, is_usd), *tail)
        self._active_order_rules = (*build(ORDER_RULES, config, is_usd, active=True), *tail)
        self._entry_rules = build(ENTRY_RULES, config, is_usd)
        self._meter = ExposureMeter(
            frac(config.assumed_stop_distance_pct), config.stale_data_s * 1000
        )
        self._assumed_stop_frac = self._meter.assumed_stop_frac
        self._slip_frac = frac(config.market_slippage_cap_pct)
        # (venue, symbol) whose orders the stale-data breaker stops: each venue reads its own data
        self.stale_data: set[tuple[str, str]] = set()
        # marks far from the last accepted one, held until confirmed (MarkSuspectRule reads it)
        self.mark_guard = MarkGuard(
            config.max_mark_jump_pct, config.max_mark_jump_outcome_pct, notify=self._mark_notice
        )
        self._exposure: Exposure | None = None
        # what each strategy's unfinished arbitrage cycles hold: what an arb-unwind may give back
        self.cycle_holdings = CycleHoldings()
        # the last entry check's equity in USD, holding by holding (a valuation asset not USD)
        self.usd_equity: UsdEquity | None = None
        self._spare: Check | None = Check(self)
        self._max_notional_usd = config.max_order_notional_usd
        self._max_notional_str = plain(config.max_order_notional_usd)
        overrides = config.ceiling_overrides()
        if overrides:
            listed = [{"key": k, "value": plain(v), "ceiling": plain(c)} for k, v, c in overrides]
            data = {"overrides": listed, "acknowledgement": config.ceiling_override_ack}
            self._emit(Event(CEILING_OVERRIDE, clock.now_ms(), data, severity="warning"))

    # pre-trade ----------------------------------------------------------------------------------
    def check(
        self,
        intent: OrderIntent,
        portfolio: PortfolioView,
        market: MarketView,
        dry_run: bool = False,
        ahead: int = 0,
        ahead_stable_usd: Decimal = ZERO,
    ) -> RiskDecision:
        """Approve or deny one intent; an approved market order carries its price bound.

        `dry_run` answers the same question without counting an approval toward the rate and
        per-day limits and without publishing anything (for "would this pass?" queries);
        `ahead` counts that many earlier legs of the same plan as trades already made, and
        `ahead_stable_usd` the stablecoins those legs spend as already spent.
        """
        if dry_run:
            emit, stale = self._emit, set(self.stale_data)
            self._emit = _discard
            try:
                return self._decide(intent, portfolio, market, True, ahead, ahead_stable_usd)
            finally:
                self._emit, self.stale_data = emit, stale
        return self._decide(intent, portfolio, market, False)

    def _decide(
        self,
        intent: OrderIntent,
        portfolio: PortfolioView,
        market: MarketView,
        dry_run: bool,
        ahead: int = 0,
        ahead_stable_usd: Decimal = ZERO,
    ) -> RiskDecision:
        now = self._clock.now_ms()
        if self.state is _HALTED:
            return self._halted(intent, portfolio, market, now)
        # One context serves every check; a check begun inside another (from an event handler)
        # or after one that raised takes a fresh one.
        c = self._spare
        if c is None:
            c = Check(self)
        else:
            self._spare = None
        c.intent = intent
        c.portfolio = portfolio
        c.market = market
        c.now = now
        c.bound = None  # set for market orders only
        c.ahead = ahead
        c.ahead_stable_usd = ahead_stable_usd
        # the unwind tag excuses only an intent giving back what its own cycle holds
        c.unwind = intent.tag == ARB_UNWIND_TAG and self.cycle_holdings.admits(intent)
        denial = None
        rules = self._active_order_rules if self.state is _ACTIVE else self._order_rules
        for check in rules:
            denial = check(c)
            if denial is not None:
                break
        else:
            if not c.reducing:
                denial = self._check_entry(c)
        if denial is not None:
            decision = self._deny(intent, now, denial)
        else:
            withdraw = None if dry_run else self._count(c)
            decision = RiskDecision(
                True, "OK", "", c.bound, "", c.notional_usd, self._max_notional_usd, withdraw
            )
        self._spare = c
        return decision

    def _halted(
        self, intent: OrderIntent, portfolio: PortfolioView, market: MarketView, now: int
    ) -> RiskDecision:
        if intent.tag == KILL_FLATTEN_TAG and intent.reduce_only:
            return self._check_flatten(intent, portfolio, market, now)
        reason = (
            f"order rejected: trading is HALTED ({self.state_reason}, by {self.state_by}); "
            "run `tradeguard resume` after checking why"
        )
        if intent.reduce_only:  # a close: the kill's flatten is the one that passes HALTED
            reason += (
                "; to close positions while halted, kill with flatten (`tradeguard kill "
                "--flatten` or POST /api/v1/kill with flatten=true)"
            )
            if self.state_by in LOSS_LIMIT_BY:
                reason += '; risk.on_loss_halt = "reduce" lets exits through after a loss limit'
        return self._deny(intent, now, Denial("TRADING_HALTED", "state", None, None, reason))

    def _check_entry(self, c: Check) -> Denial | None:
        """Set the entry figures (exposure, equity, the order's risk), then run the entry rules."""
        exposure = self._exposure
        now = c.now
        if exposure is None or now - exposure.ts >= _EXPOSURE_MAX_AGE_MS:
            k = self.valuation.usd_per_unit
            exposure = self._exposure = self._meter.measure(
                c.portfolio, c.market, now, ONE if k is None else k
            )
        c.exposure = exposure
        i = c.intent
        c.held = (i.venue, i.symbol, i.strategy_id) in exposure.keys
        c.equity = equity = c.portfolio.equity()
        if self._is_usd:
            c.equity_usd = equity
        elif isinstance(c.portfolio, Portfolio):
            # each venue's holdings at their own USD rate, not all at one BTC/USD price
            usd = self.usd_equity = usd_equity(c.portfolio, self.valuation.fixed_usd)
            c.equity_usd = usd.total
        else:
            k = self.valuation.usd_per_unit
            c.equity_usd = equity if k is None else equity * k
        unvalued = self._unvalued(c)
        if unvalued is not None:
            return unvalued
        # An arbitrage unwind sells back a stranded leg within its own loss cap: it sheds risk
        # sized on no equity figure, so it is not left unsold while the quotes are awaited.
        if self.holding_provisional() and not c.unwind:
            reason = (
                f"order rejected: equity is provisional ({self.provisional}); the "
                "percent-of-equity limits wait for real quotes (at most risk.stale_data_s)"
            )
            return Denial("PROVISIONAL_VALUATION", "valuation", None, None, reason)
        stop = i.stop_loss
        if stop is not None:
            risk = i.amount * abs(c.price - stop)
            c.order_risk = risk if c.usd_rate is ONE else risk * c.usd_rate
        else:
            c.order_risk = c.notional_usd * self._assumed_stop_frac
        for check in self._entry_rules:
            denial = check(c)
            if denial is not None:
                return denial
        return None

    def _count(self, c: Check) -> Callable[[], None]:
        """Count an approval: order rate, a half-open breaker's probe, exposure, trades today;
        return what takes the counts back if the order is not sent after all (its journal
        commit failed)."""
        intent = c.intent
        venue = intent.venue
        bucket = c.bucket
        bucket.take()
        breaker = c.breaker
        probe = None
        if breaker is not None:
            if breaker.state == breaker.HALF_OPEN:
                probe = breaker  # this order is its probe
            breaker.on_sent()
        if not c.reducing:  # an entry: it passed the entry rules, which set the exposure
            exposure = c.exposure
            if not c.held:
                exposure.keys.add((venue, intent.symbol, intent.strategy_id))
                exposure.strategies.add(intent.strategy_id)
            exposure.heat_usd += c.order_risk
            if c.stable_buy:
                exposure.pending_stable_usd += c.notional_usd
            self.trades_today += 1
            self._dirty = self._counts_dirty = True
        bound = c.bound
        data = EventData(
            {
                "code": "OK",
                "notional_usd": plain(c.notional_usd),
                "max_order_notional_usd": self._max_notional_str,
                "entry": not c.reducing,
                "price_bound": None if bound is None else plain(bound),
            }
        )
        self._emit(Event(_APPROVED, c.now, data, venue, intent.symbol, intent.strategy_id))
        return partial(self._uncount, bucket, probe, not c.reducing)

    def _uncount(self, bucket: RateBucket, probe: VenueBreaker | None, entry: bool) -> None:
        """Take back one approval's counts (`RiskDecision.withdraw`)."""
        bucket.give_back()
        if probe is not None and probe.state == probe.HALF_OPEN:
            probe.probe_out = False  # the probe never went: the next order may be it
        if entry:
            self.trades_today = max(0, self.trades_today - 1)
            self._exposure = None  # re-read from the open orders, which never held it
            self._dirty = self._counts_dirty = True

    def _unvalued(self, c: Check) -> Denial | None:
        """Refuse to trade an asset no rate path values in USD (equity would count it as 0)."""
        portfolio = c.portfolio
        if not isinstance(portfolio, Portfolio) or c.inst.kind != "spot":
            return None  # a derivative's value is its P&L in its settlement asset
        venue, base = c.intent.venue, c.inst.base
        if usd_rate(portfolio, venue, base, self.valuation.fixed_usd) is not None:
            return None
        reason = (
            f"order rejected: {base} on {venue} cannot be valued in USD (no {base} market on "
            f"{venue} or any venue reaching USD or {self.valuation.asset}, and no peg in "
            f"node.pegged_assets): equity and the percent-of-equity limits cannot count it; "
            f"feed a {base}/USDT market or set its peg"
        )
        return Denial("UNVALUED_ASSET", "valuation", None, None, reason)

    def loss_limits(self, now: int, equity: Decimal) -> tuple[Decimal, Decimal, Decimal, Any]:
        """(day start, daily limit, week start, weekly limit) in the valuation asset."""
        limits = self._limits
        if now // DAY_MS != self.day or limits is None:
            self._roll(now, equity)
            day_start = self.day_start_equity if self.day_start_equity is not None else equity
            week_start = self.week_start_equity if self.week_start_equity is not None else equity
            limits = self._limits = (
                day_start,
                self._daily_limit(day_start),
                week_start,
                self._weekly_limit(week_start),
            )
        return limits

    def _check_flatten(
        self, intent: OrderIntent, portfolio: PortfolioView, market: MarketView, now: int
    ) -> RiskDecision:
        """Let a kill-switch flatten order through HALTED if it only shrinks the position (the
        account's net on the symbol, or its strategy's own)."""
        net = portfolio.net_quantity(intent.venue, intent.symbol)
        side = intent.side
        if not shrinks(net, side, intent.amount) and not closes_own(portfolio, intent):
            return self._deny(
                intent,
                now,
                Denial(
                    "REDUCE_ONLY_WOULD_GROW",
                    "reduce_only",
                    intent.amount,
                    abs(net),
                    f"flatten order rejected: {side.value} {intent.amount} would not shrink "
                    f"the net position {net} on {intent.symbol}",
                ),
            )
        mid = market.mid(intent.symbol, intent.venue)
        if mid is None or mid <= ZERO:
            return self._deny(
                intent,
                now,
                Denial(
                    "NO_REFERENCE_PRICE",
                    "market_slippage_cap_pct",
                    None,
                    None,
                    f"flatten order rejected: no reference price for {intent.symbol}, so no "
                    "slippage cap can be set; close it by hand",
                ),
            )
        mid = self.mark_guard.mark_for(intent.venue, intent.symbol, mid)  # not a book far off
        inst = market.instrument(intent.venue, intent.symbol)
        bound = price_bound(side, mid, inst.price_tick if inst else ZERO, self._slip_frac)
        if intent.type is OrderType.LIMIT and intent.price is not None:
            beyond = intent.price > bound if side is Side.BUY else intent.price < bound
            if beyond:
                return self._deny(
                    intent,
                    now,
                    Denial(
                        "PRICE_BAND",
                        "market_slippage_cap_pct",
                        intent.price,
                        bound,
                        f"flatten order rejected: price {intent.price} is beyond the slippage cap "
                        f"{bound} (risk.market_slippage_cap_pct)",
                    ),
                )
        data = {"code": "KILL_FLATTEN", "price_bound": plain(bound), "amount": plain(intent.amount)}
        self._emit(
            Event(
                EventKind.RISK_APPROVED,
                now,
                data,
                intent.venue,
                intent.symbol,
                intent.strategy_id,
                "warning",
            )
        )
        return RiskDecision(True, "KILL_FLATTEN", "", bound, "kill_flatten")

    def data_fresh(self, intent: OrderIntent, now: int) -> None:
        """Clear the stale-data breaker of a venue's symbol whose data is fresh again."""
        key = (intent.venue, intent.symbol)
        if key in self.stale_data:
            self.stale_data.discard(key)
            self._publish(EventKind.BREAKER_RESET, now, {"breaker": "stale_data"}, intent)

    def data_stale(self, intent: OrderIntent, now: int, age: Decimal | None) -> None:
        """Trip the stale-data breaker of a venue's symbol (once until its data is fresh)."""
        key = (intent.venue, intent.symbol)
        if key not in self.stale_data:
            self.stale_data.add(key)
            data = {"breaker": "stale_data", "age_s": _s(age), "limit_s": self.config.stale_data_s}
            self._publish(EventKind.BREAKER_TRIPPED, now, data, intent, "warning")

    def _mark_notice(
        self,
        venue: str,
        symbol: str,
        price: Decimal,
        accepted: Decimal,
        limit_pct: Decimal,
        what: str,
        ts: int,
    ) -> None:
        """Publish a `risk.warning` when a mark is held as suspect, dropped or confirmed."""
        data = {
            "warning": "mark_" + what,
            "price": plain(price),
            "accepted": plain(accepted),
            "limit_pct": plain(limit_pct),
        }
        self._emit(Event(EventKind.RISK_WARNING, ts, data, venue, symbol, "", "warning"))

    def _deny(self, intent: OrderIntent, now: int, d: Denial) -> RiskDecision:
        data = {
            "code": d.code,
            "rule": d.rule,
            "value": _s(d.value),
            "limit": _s(d.limit),
            "reason": d.reason,
            "side": intent.side.value,
            "amount": plain(intent.amount),
            "price": _s(intent.price),
            "tag": intent.tag,
        }
        self._emit(
            Event(
                EventKind.RISK_DENIED,
                now,
                data,
                intent.venue,
                intent.symbol,
                intent.strategy_id,
                "warning",
            )
        )
        return RiskDecision(False, d.code, d.reason, None, d.rule, d.value, d.limit)

    def invalidate_exposure(self) -> None:
        """Forget the summed exposure (call when positions or orders change outside fills)."""
        self._exposure = None

    # arbitrage ----------------------------------------------------------------------------------
    def check_cycle(
        self,
        legs: Sequence[OrderIntent],
        gross_profit_pct: Decimal,
        fees_pct: Decimal,
        notional_usd: Decimal,
    ) -> RiskDecision:
        """Approve an arbitrage cycle as a whole; each leg still goes through `check`."""
        now = self._clock.now_ms()
        first = legs[0] if legs else OrderIntent("arb", "", "", Side.BUY, ZERO)
        net = gross_profit_pct - fees_pct
        found = cycle_denial(
            self.config,
            self.state,
            self.state_reason,
            self.venue_breakers,
            legs,
            net,
            notional_usd,
            self.cooldowns,
            now,
        )
        if found is not None:
            index, denial = found
            return self._deny(legs[index] if legs else first, now, denial)
        data = {
            "code": "OK",
            "cycle_legs": len(legs),
            "net_profit_pct": plain(net),
            "notional_usd": plain(notional_usd),
        }
        self._emit(
            Event(EventKind.RISK_APPROVED, now, data, first.venue, first.symbol, first.strategy_id)
        )
        limit = self.config.arb_min_profit_after_fees_pct
        return RiskDecision(True, "OK", "", None, "", net, limit)

    # reporting ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Describe the state, every breaker and each limit's use, for the API and dashboard."""
        # the report's module loads when asked for (the API, a state save), not in every run
        from tradeguard.risk.report import snapshot

        stale = sorted({symbol for _, symbol in self.stale_data})
        out = snapshot(self, stale, self._clock.now_ms())
        if self.usd_equity is not None:  # which USD rate valued each holding, at the last check
            out["usd_valuation"] = self.usd_equity.view()
        return out

"""The risk engine: pre-trade checks, circuit breakers and the persisted trading state.

`check` is the only gate between an intent and the order manager. It answers with a reason code,
the value and the limit, never silence, and every answer goes to the audit log.

Which rules apply to which order:
- HALTED denies every order, with one narrow exception: intents issued by the kill switch itself
  to flatten positions (`tag="kill-flatten"`, `reduce_only=True`) pass when they only shrink the
  net position on their symbol, within the market slippage cap.
- REDUCING denies every order that does not shrink the net position on its symbol.
- Venue breaker, stale data, instrument rules, price band / price bound, reduce-only and the
  order rate apply to every order.
- Limits on exposure, losses, counts and cooldowns apply to orders that open or grow exposure
  ("entries"); an exit is never trapped by them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.errors import TradeguardError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, fmt
from tradeguard.model.order import ARB_UNWIND_TAG, OrderIntent
from tradeguard.model.position import ClosedTrade
from tradeguard.risk.breakers import DAY_MS, RateBucket, VenueBreaker, iso_week, utc_day
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.views import MarketView, PortfolioView, StateStore

KILL_FLATTEN_TAG = "kill-flatten"
_LOSS_STREAK_BY = "breaker:consecutive_losses"
CEILING_OVERRIDE = "risk.ceiling_override"
STABLECOINS = frozenset({"USD", "USDT", "USDC", "BUSD", "DAI", "FDUSD", "TUSD", "USDP"})
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_STATE_VERSION = 1
# Summed exposure is re-read after every fill and at least this often (marks, cancels).
_EXPOSURE_MAX_AGE_MS = 1_000
# A rising peak is written at most this often; state changes are written at once.
_PEAK_SAVE_EVERY_MS = 300_000


class ResumeRefused(TradeguardError):
    """`resume` was asked for while a halt must still hold; the message says until when."""


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


class _Exposure:
    """Open positions plus open entry orders, summed once and then kept up to date on approval."""

    __slots__ = ("heat_usd", "keys", "pending_stable_usd", "strategies", "ts")

    def __init__(self, ts: int) -> None:
        self.ts = ts
        self.keys: set[tuple[str, str, str]] = set()
        self.strategies: set[str] = set()
        self.heat_usd = ZERO
        self.pending_stable_usd = ZERO


def _quote_of(symbol: str) -> str:
    rest = symbol.split("/", 1)[1] if "/" in symbol else ""
    return rest.split(":", 1)[0]


def _day_label(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def _discard(event: Event) -> None:
    pass


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class RiskEngine:
    """Check every intent against the limits; trip breakers from fills, equity and venue errors."""

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        store: StateStore,
        emit: Callable[[Event], None],
    ) -> None:
        self.config = config
        self._clock = clock
        self._store = store
        self._emit = emit
        c = config
        # precomputed per-rule figures (fractions and milliseconds)
        self._max_notional_usd = c.max_order_notional_usd
        self._max_notional_frac = c.max_order_notional_pct / _HUNDRED
        self._min_notional_usd = c.min_order_notional_usd
        self._band_frac = c.price_band_pct / _HUNDRED
        self._slip_frac = c.market_slippage_cap_pct / _HUNDRED
        self._heat_frac = c.max_portfolio_heat_pct / _HUNDRED
        self._assumed_stop_frac = c.assumed_stop_distance_pct / _HUNDRED
        self._reserve_frac = c.stable_reserve_pct / _HUNDRED
        self._daily_frac = c.daily_loss_limit_pct / _HUNDRED
        self._weekly_frac = (
            c.weekly_loss_limit_pct / _HUNDRED if c.weekly_loss_limit_pct is not None else None
        )
        self._warn_frac = c.daily_loss_warning_pct / _HUNDRED
        self._stale_ms = c.stale_data_s * 1000
        self._half_open_ms = c.venue_half_open_after_s * 1000
        self._window_ms = c.venue_error_window_s * 1000
        self._rate = float(c.max_orders_per_s)
        # state (persisted)
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self.state_by = ""
        self.state_ts = 0
        self.halt_source = ""
        self.daily_loss_halt_day: int | None = None
        self.day: int | None = None
        self.day_start_equity: Decimal | None = None
        self.week: int | None = None
        self.week_start_equity: Decimal | None = None
        self.peak_equity: Decimal | None = None
        self.last_equity: Decimal | None = None
        self.trades_today = 0
        self.warning_day: int | None = None
        self.consecutive_losses = 0
        self.reducing_until: int | None = None
        self.venue_breakers: dict[str, VenueBreaker] = {}
        self.cooldowns: dict[tuple[str, str], int] = {}
        self.last_resume: dict[str, Any] | None = None
        self.last_kill: dict[str, Any] | None = None
        # not persisted
        self._buckets: dict[str, RateBucket] = {}
        self._stale: set[str] = set()
        self._exposure: _Exposure | None = None
        self._stable_quote: dict[str, bool] = {}
        # (day start equity, daily limit, week start equity, weekly limit), reset at each roll
        self._limits: tuple[Decimal, Decimal, Decimal, Decimal | None] | None = None
        self._max_notional_str = str(c.max_order_notional_usd)
        # inputs of the last equity-limit evaluation that tripped nothing (see observe_equity)
        self._quiet_inputs: tuple[Any, ...] | None = None
        self._dirty = False
        self._counts_dirty = False  # approvals: written at the next observation, not throttled
        self._last_save_ms = 0
        self._restore()
        overrides = config.ceiling_overrides()
        if overrides:
            self._emit(
                Event(
                    CEILING_OVERRIDE,
                    clock.now_ms(),
                    {
                        "overrides": [
                            {"key": k, "value": str(v), "ceiling": str(ceiling)}
                            for k, v, ceiling in overrides
                        ],
                        "acknowledgement": config.ceiling_override_ack,
                    },
                    severity="warning",
                )
            )

    # pre-trade ----------------------------------------------------------------------------------
    def check(
        self,
        intent: OrderIntent,
        portfolio: PortfolioView,
        market: MarketView,
        dry_run: bool = False,
    ) -> RiskDecision:
        """Approve or deny one intent; an approved market order carries its price bound.

        `dry_run` answers the same question without counting an approval toward the rate and
        per-day limits and without publishing anything (for "would this pass?" queries).
        """
        if dry_run:
            emit, stale = self._emit, set(self._stale)
            self._emit = _discard
            try:
                return self._decide(intent, portfolio, market, True)
            finally:
                self._emit, self._stale = emit, stale
        return self._decide(intent, portfolio, market, False)

    def _decide(
        self, intent: OrderIntent, portfolio: PortfolioView, market: MarketView, dry_run: bool
    ) -> RiskDecision:
        now = self._clock.now_ms()
        if self.state is TradingState.HALTED:
            if intent.tag == KILL_FLATTEN_TAG and intent.reduce_only:
                return self._check_flatten(intent, portfolio, market, now)
            return self._deny(
                intent, now, "TRADING_HALTED", "state", None, None,
                f"order rejected: trading is HALTED ({self.state_reason}, by {self.state_by}); "
                "run `tradeguard resume` after checking why",
            )  # fmt: skip
        venue, symbol = intent.venue, intent.symbol
        breaker = self.venue_breakers.get(venue)
        if breaker is not None and not breaker.allows(now, self._half_open_ms):
            return self._deny(
                intent, now, "VENUE_BREAKER_OPEN", "venue_error_threshold", None, None,
                f"order rejected: the error breaker for venue {venue} is {breaker.state} after "
                f"repeated errors ({breaker.last_error}); a probe is allowed "
                f"{self.config.venue_half_open_after_s} s after it opened "
                "(risk.venue_half_open_after_s)",
            )  # fmt: skip
        last = market.last_update_ms(symbol)
        if last is None or now - last > self._stale_ms:
            return self._deny_stale(intent, now, last)
        if symbol in self._stale:
            self._stale.discard(symbol)
            self._publish(EventKind.BREAKER_RESET, now, {"breaker": "stale_data"}, intent)
        inst = market.instrument(venue, symbol)
        if inst is None:
            return self._deny(
                intent, now, "UNKNOWN_INSTRUMENT", "instrument", None, None,
                f"order rejected: no instrument rules for {symbol} on {venue}; load the "
                "venue's markets first",
            )  # fmt: skip
        mid = market.mid(symbol)
        if mid is None or mid <= 0:
            return self._deny(
                intent, now, "NO_REFERENCE_PRICE", "price_band_pct", None, None,
                f"order rejected: no reference price for {symbol}; wait for market data",
            )  # fmt: skip
        amount = intent.amount
        side = intent.side
        bound: Decimal | None = None
        if intent.type is OrderType.LIMIT:
            price = intent.price
            if price is None or price <= 0:
                return self._deny(
                    intent, now, "INVALID_PRICE", "price", price, None,
                    f"order rejected: limit order on {symbol} needs a positive price, got {price}",
                )  # fmt: skip
            band = mid * self._band_frac
            if abs(price - mid) > band:
                dev = abs(price - mid) / mid * _HUNDRED
                return self._deny(
                    intent, now, "PRICE_BAND", "price_band_pct", dev, self.config.price_band_pct,
                    f"order rejected: limit price {price} is {fmt(dev)}% from the mid {mid}, "
                    f"beyond price_band_pct={self.config.price_band_pct} (risk.price_band_pct)",
                )  # fmt: skip
            violation = inst.violation(amount, price)
        else:
            bound = self._bound(side, mid, inst.price_tick)
            price = bound
            violation = inst.violation(amount, None)
            if violation is None and amount * mid < inst.min_notional:
                violation_msg = (
                    f"notional {amount * mid} {inst.quote} is below the minimum "
                    f"{inst.min_notional} for {symbol}"
                )
                return self._deny(
                    intent, now, "MIN_NOTIONAL", "instrument.min_notional", amount * mid,
                    inst.min_notional, f"order rejected: {violation_msg}",
                )  # fmt: skip
        if violation is not None:
            return self._deny(
                intent, now, violation.code, "instrument", None, None,
                f"order rejected: {violation.message} (instrument rules of {venue})",
            )  # fmt: skip
        net = portfolio.net_quantity(venue, symbol)
        reducing = net != 0 and (net < 0) is (side is Side.BUY) and amount <= abs(net)
        if intent.reduce_only and not reducing:
            return self._deny(
                intent, now, "REDUCE_ONLY_WOULD_GROW", "reduce_only", amount, abs(net),
                f"order rejected: reduce-only {side.value} {amount} would not shrink the net "
                f"position {net} on {symbol}",
            )  # fmt: skip
        # An arbitrage unwind trades a stranded asset back to where the cycle started: it
        # shrinks exposure though no position of its own says so.
        if self.state is TradingState.REDUCING and not reducing and intent.tag != ARB_UNWIND_TAG:
            return self._deny(
                intent, now, "TRADING_REDUCING", "state", None, None,
                f"order rejected: trading is REDUCING ({self.state_reason}); only orders that "
                "shrink a position pass until `tradeguard resume`",
            )  # fmt: skip
        bucket = self._buckets.get(venue)
        if bucket is None:
            bucket = self._buckets[venue] = RateBucket(self._rate, now)
        if not bucket.available(now):
            return self._deny(
                intent, now, "ORDER_RATE", "max_orders_per_s", None, self.config.max_orders_per_s,
                f"order rejected: more than max_orders_per_s={self.config.max_orders_per_s} "
                f"orders per second on {venue} (risk.max_orders_per_s)",
            )  # fmt: skip
        quote = inst.quote
        if quote in STABLECOINS:
            usd_rate = _ONE
        else:
            rate = portfolio.price_of(quote)
            if rate is None:
                return self._deny(
                    intent, now, "NO_USD_PRICE", "valuation", None, None,
                    f"order rejected: no price to value {quote} in USD; mark a {quote}/USDT "
                    "market first",
                )  # fmt: skip
            usd_rate = rate
        notional_usd = amount * price * usd_rate
        exposure: _Exposure | None = None
        order_risk = ZERO
        if not reducing:
            exposure = self._exposure
            if exposure is None or now - exposure.ts >= _EXPOSURE_MAX_AGE_MS:
                exposure = self._exposure = self._measure(portfolio, market, now)
            equity = portfolio.equity()
            stop = intent.stop_loss
            if stop is not None:
                order_risk = amount * abs(price - stop) * usd_rate
            else:
                order_risk = notional_usd * self._assumed_stop_frac
            denied = self._entry_rules(intent, now, equity, notional_usd, order_risk, exposure,
                                       portfolio, quote)  # fmt: skip
            if denied is not None:
                return denied
        if dry_run:
            return RiskDecision(True, "OK", "", bound, "", notional_usd, self._max_notional_usd)
        # approved: count it
        bucket.take()
        if breaker is not None:
            breaker.on_sent()
        if exposure is not None:
            exposure.keys.add((venue, symbol, intent.strategy_id))
            exposure.strategies.add(intent.strategy_id)
            exposure.heat_usd += order_risk
            if side is Side.BUY and quote in STABLECOINS:
                exposure.pending_stable_usd += notional_usd
            self.trades_today += 1
            self._dirty = self._counts_dirty = True
        self._emit(
            Event(
                EventKind.RISK_APPROVED,
                now,
                {
                    "code": "OK",
                    "notional_usd": str(notional_usd),
                    "max_order_notional_usd": self._max_notional_str,
                    "entry": not reducing,
                    "price_bound": None if bound is None else str(bound),
                },
                venue,
                symbol,
                intent.strategy_id,
            )
        )
        return RiskDecision(True, "OK", "", bound, "", notional_usd, self._max_notional_usd)

    def _entry_rules(
        self,
        intent: OrderIntent,
        now: int,
        equity: Decimal,
        notional_usd: Decimal,
        order_risk: Decimal,
        exposure: _Exposure,
        portfolio: PortfolioView,
        quote: str,
    ) -> RiskDecision | None:
        c = self.config
        if equity < c.min_account_balance_usd:
            return self._deny(
                intent, now, "MIN_ACCOUNT_BALANCE", "min_account_balance_usd", equity,
                c.min_account_balance_usd,
                f"order rejected: equity {fmt(equity)} USD is below min_account_balance_usd="
                f"{fmt(c.min_account_balance_usd)} (risk.min_account_balance_usd)",
            )  # fmt: skip
        if notional_usd > self._max_notional_usd:
            return self._deny(
                intent, now, "MAX_ORDER_NOTIONAL", "max_order_notional_usd", notional_usd,
                self._max_notional_usd,
                f"order rejected: notional {fmt(notional_usd)} USD exceeds max_order_notional_usd="
                f"{fmt(self._max_notional_usd)} (risk.max_order_notional_usd)",
            )  # fmt: skip
        cap = equity * self._max_notional_frac
        if notional_usd > cap:
            return self._deny(
                intent, now, "MAX_ORDER_NOTIONAL_PCT", "max_order_notional_pct", notional_usd, cap,
                f"order rejected: notional {fmt(notional_usd)} USD exceeds "
                f"max_order_notional_pct={c.max_order_notional_pct}% of equity = {fmt(cap)} USD "
                "(risk.max_order_notional_pct)",
            )  # fmt: skip
        if notional_usd < self._min_notional_usd:
            return self._deny(
                intent, now, "MIN_ORDER_NOTIONAL", "min_order_notional_usd", notional_usd,
                self._min_notional_usd,
                f"order rejected: notional {fmt(notional_usd)} USD is below min_order_notional_usd="
                f"{fmt(self._min_notional_usd)} (risk.min_order_notional_usd)",
            )  # fmt: skip
        if now // DAY_MS != self.day or self._limits is None:
            self._roll(now, equity)
            day_start = self.day_start_equity if self.day_start_equity is not None else equity
            week_start = self.week_start_equity if self.week_start_equity is not None else equity
            self._limits = (
                day_start,
                self._daily_limit(day_start),
                week_start,
                self._weekly_limit(week_start),
            )
        day_start, limit, week_start, wlimit = self._limits
        loss = day_start - equity
        if loss >= limit:
            return self._deny(
                intent, now, "DAILY_LOSS_LIMIT", "daily_loss_limit_pct", loss, limit,
                f"order rejected: today's loss {fmt(loss)} USD has reached the daily loss limit "
                f"{fmt(limit)} USD (risk.daily_loss_limit_usd / risk.daily_loss_limit_pct)",
            )  # fmt: skip
        if wlimit is not None and week_start - equity >= wlimit:
            wloss = week_start - equity
            return self._deny(
                intent, now, "WEEKLY_LOSS_LIMIT", "weekly_loss_limit_pct", wloss, wlimit,
                f"order rejected: this week's loss {fmt(wloss)} USD has reached the weekly loss "
                f"limit {fmt(wlimit)} USD "
                "(risk.weekly_loss_limit_usd / risk.weekly_loss_limit_pct)",
            )  # fmt: skip
        if self.cooldowns:
            until = max(
                self.cooldowns.get((intent.strategy_id, intent.symbol), 0),
                self.cooldowns.get(("*", intent.symbol), 0),
            )
            if now < until:
                left = Decimal(until - now) / 1000
                return self._deny(
                    intent, now, "COOLDOWN", "cooldown_after_trade_s", left, None,
                    f"order rejected: {intent.strategy_id} on {intent.symbol} is cooling down for "
                    f"{left} s more (risk.cooldown_after_trade_s / risk.cooldown_after_loss_s)",
                )  # fmt: skip
        max_trades = c.max_trades_per_day
        if max_trades is not None and self.trades_today >= max_trades:
            return self._deny(
                intent, now, "MAX_TRADES_PER_DAY", "max_trades_per_day",
                Decimal(self.trades_today), Decimal(max_trades),
                f"order rejected: {self.trades_today} trades today reached max_trades_per_day="
                f"{max_trades} (risk.max_trades_per_day); the count restarts at 00:00 UTC",
            )  # fmt: skip
        key = (intent.venue, intent.symbol, intent.strategy_id)
        if key not in exposure.keys:
            n = len(exposure.keys)
            if n >= c.max_open_positions:
                return self._deny(
                    intent, now, "MAX_OPEN_POSITIONS", "max_open_positions", Decimal(n),
                    Decimal(c.max_open_positions),
                    f"order rejected: {n} positions are open, max_open_positions="
                    f"{c.max_open_positions} (risk.max_open_positions)",
                )  # fmt: skip
            if c.one_position_per_strategy and intent.strategy_id in exposure.strategies:
                return self._deny(
                    intent, now, "ONE_POSITION_PER_STRATEGY", "one_position_per_strategy",
                    None, None,
                    f"order rejected: strategy {intent.strategy_id} already holds a position "
                    "(risk.one_position_per_strategy)",
                )  # fmt: skip
        heat = exposure.heat_usd + order_risk
        heat_cap = equity * self._heat_frac
        if heat > heat_cap:
            return self._deny(
                intent, now, "PORTFOLIO_HEAT", "max_portfolio_heat_pct", heat, heat_cap,
                f"order rejected: portfolio heat would be {fmt(heat)} USD, above "
                f"max_portfolio_heat_pct={c.max_portfolio_heat_pct}% of equity = {fmt(heat_cap)} "
                "USD (risk.max_portfolio_heat_pct)",
            )  # fmt: skip
        if intent.side is Side.BUY and quote in STABLECOINS:
            after = portfolio.stable_value() - exposure.pending_stable_usd - notional_usd
            reserve = equity * self._reserve_frac
            if after < reserve:
                return self._deny(
                    intent, now, "STABLE_RESERVE", "stable_reserve_pct", after, reserve,
                    f"order rejected: stablecoins would fall to {fmt(after)} USD, below "
                    f"stable_reserve_pct={c.stable_reserve_pct}% of equity = {fmt(reserve)} USD "
                    "(risk.stable_reserve_pct)",
                )  # fmt: skip
        return None

    def _check_flatten(
        self, intent: OrderIntent, portfolio: PortfolioView, market: MarketView, now: int
    ) -> RiskDecision:
        """Let a kill-switch flatten order through HALTED if it only shrinks the position."""
        net = portfolio.net_quantity(intent.venue, intent.symbol)
        side = intent.side
        if not (net != 0 and (net < 0) is (side is Side.BUY) and intent.amount <= abs(net)):
            return self._deny(
                intent, now, "REDUCE_ONLY_WOULD_GROW", "reduce_only", intent.amount, abs(net),
                f"flatten order rejected: {side.value} {intent.amount} would not shrink the net "
                f"position {net} on {intent.symbol}",
            )  # fmt: skip
        mid = market.mid(intent.symbol)
        if mid is None or mid <= 0:
            return self._deny(
                intent, now, "NO_REFERENCE_PRICE", "market_slippage_cap_pct", None, None,
                f"flatten order rejected: no reference price for {intent.symbol}, so no "
                "slippage cap can be set; close it by hand",
            )  # fmt: skip
        inst = market.instrument(intent.venue, intent.symbol)
        tick = inst.price_tick if inst is not None else ZERO
        bound = self._bound(side, mid, tick)
        if intent.type is OrderType.LIMIT and intent.price is not None:
            beyond = intent.price > bound if side is Side.BUY else intent.price < bound
            if beyond:
                return self._deny(
                    intent, now, "PRICE_BAND", "market_slippage_cap_pct", intent.price, bound,
                    f"flatten order rejected: price {intent.price} is beyond the slippage cap "
                    f"{bound} (risk.market_slippage_cap_pct)",
                )  # fmt: skip
        self._emit(
            Event(
                EventKind.RISK_APPROVED,
                now,
                {"code": "KILL_FLATTEN", "price_bound": str(bound), "amount": str(intent.amount)},
                intent.venue,
                intent.symbol,
                intent.strategy_id,
                "warning",
            )
        )
        return RiskDecision(True, "KILL_FLATTEN", "", bound, "kill_flatten")

    def _bound(self, side: Side, mid: Decimal, tick: Decimal) -> Decimal:
        # Round toward the mid so the bound never exceeds the slippage cap.
        if side is Side.BUY:
            raw = mid * (_ONE + self._slip_frac)
            return (raw / tick).to_integral_value(ROUND_FLOOR) * tick if tick > 0 else raw
        raw = mid * (_ONE - self._slip_frac)
        return (raw / tick).to_integral_value(ROUND_CEILING) * tick if tick > 0 else raw

    def _deny_stale(self, intent: OrderIntent, now: int, last: int | None) -> RiskDecision:
        symbol = intent.symbol
        age = None if last is None else Decimal(now - last) / 1000
        if symbol not in self._stale:
            self._stale.add(symbol)
            self._publish(
                EventKind.BREAKER_TRIPPED, now,
                {"breaker": "stale_data", "age_s": _s(age), "limit_s": self.config.stale_data_s},
                intent, "warning",
            )  # fmt: skip
        seen = "never" if age is None else f"{age} s ago"
        return self._deny(
            intent, now, "STALE_MARKET_DATA", "stale_data_s", age,
            Decimal(self.config.stale_data_s),
            f"order rejected: market data for {symbol} last updated {seen}, older than "
            f"stale_data_s={self.config.stale_data_s} (risk.stale_data_s)",
        )  # fmt: skip

    def _deny(
        self,
        intent: OrderIntent,
        now: int,
        code: str,
        rule: str,
        value: Decimal | None,
        limit: Decimal | None,
        reason: str,
    ) -> RiskDecision:
        self._emit(
            Event(
                EventKind.RISK_DENIED,
                now,
                {
                    "code": code,
                    "rule": rule,
                    "value": _s(value),
                    "limit": _s(limit),
                    "reason": reason,
                    "side": intent.side.value,
                    "amount": str(intent.amount),
                    "price": _s(intent.price),
                    "tag": intent.tag,
                },
                intent.venue,
                intent.symbol,
                intent.strategy_id,
                "warning",
            )
        )
        return RiskDecision(False, code, reason, None, rule, value, limit)

    def _measure(self, portfolio: PortfolioView, market: MarketView, now: int) -> _Exposure:
        """Sum open positions and open entry orders: keys, risk to stop, stablecoins committed."""
        exp = _Exposure(now)
        assumed = self._assumed_stop_frac
        keys_add = exp.keys.add
        strategies_add = exp.strategies.add
        mid = market.mid
        usd_rate = self._usd_rate
        stable_get = self._stable_quote.get
        heat = ZERO
        for pos in portfolio.open_positions():
            qty = pos.quantity
            if not qty:
                continue
            symbol = pos.symbol
            sid = pos.strategy_id
            keys_add((pos.venue, symbol, sid))
            strategies_add(sid)
            mark = mid(symbol) or pos.avg_entry
            stop = pos.stop_loss
            if stop is None:
                risk = abs(qty) * mark * assumed
            else:
                # Distance from the mark to the stop, on the losing side only.
                risk = (mark - stop) * qty
                if risk <= 0:
                    continue
            if stable_get(symbol):
                heat += risk
            else:
                rate = usd_rate(symbol, portfolio)
                heat += risk if rate is None else risk * rate
        for order in portfolio.open_orders():
            if order.reduce_only or not order.is_open:
                continue
            remaining = order.amount - order.filled
            if remaining <= 0:
                continue
            px = order.price or order.price_bound or mid(order.symbol)
            if px is None:
                continue
            keys_add((order.venue, order.symbol, order.strategy_id))
            strategies_add(order.strategy_id)
            if order.stop_loss is not None:
                risk = remaining * abs(px - order.stop_loss)
            else:
                risk = remaining * px * assumed
            rate = usd_rate(order.symbol, portfolio)
            if rate is None:
                heat += risk
                if order.side is Side.BUY:
                    exp.pending_stable_usd += remaining * px
            else:
                heat += risk * rate
        exp.heat_usd = heat
        return exp

    def _usd_rate(self, symbol: str, portfolio: PortfolioView) -> Decimal | None:
        """USD per unit of the symbol's quote; None when the quote is a stablecoin (1:1)."""
        stable = self._stable_quote.get(symbol)
        if stable is None:
            stable = self._stable_quote[symbol] = _quote_of(symbol) in STABLECOINS
        if stable:
            return None
        # Unpriced quote: count risk as if one unit were worth one USD rather than zero.
        return portfolio.price_of(_quote_of(symbol)) or _ONE

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
        c = self.config
        first = legs[0] if legs else OrderIntent("arb", "", "", Side.BUY, ZERO)
        net = gross_profit_pct - fees_pct
        if self.state is not TradingState.ACTIVE:
            return self._deny(
                first, now, "TRADING_HALTED" if self.state is TradingState.HALTED
                else "TRADING_REDUCING", "state", None, None,
                f"cycle rejected: trading is {self.state.value} ({self.state_reason})",
            )  # fmt: skip
        if not 2 <= len(legs) <= c.arb_max_cycle_length:
            return self._deny(
                first, now, "ARB_CYCLE_LENGTH", "arb_max_cycle_length", Decimal(len(legs)),
                Decimal(c.arb_max_cycle_length),
                f"cycle rejected: {len(legs)} legs; a cycle needs 2 to arb_max_cycle_length="
                f"{c.arb_max_cycle_length} legs (risk.arb_max_cycle_length)",
            )  # fmt: skip
        if net < c.arb_min_profit_after_fees_pct:
            return self._deny(
                first, now, "ARB_MIN_PROFIT", "arb_min_profit_after_fees_pct", net,
                c.arb_min_profit_after_fees_pct,
                f"cycle rejected: expected profit after fees {net}% is below "
                f"arb_min_profit_after_fees_pct={c.arb_min_profit_after_fees_pct} "
                "(risk.arb_min_profit_after_fees_pct)",
            )  # fmt: skip
        if notional_usd > c.arb_max_cycle_notional_usd:
            return self._deny(
                first, now, "ARB_CYCLE_NOTIONAL", "arb_max_cycle_notional_usd", notional_usd,
                c.arb_max_cycle_notional_usd,
                f"cycle rejected: size {fmt(notional_usd)} USD exceeds arb_max_cycle_notional_usd="
                f"{fmt(c.arb_max_cycle_notional_usd)} (risk.arb_max_cycle_notional_usd)",
            )  # fmt: skip
        for leg in legs:
            breaker = self.venue_breakers.get(leg.venue)
            if breaker is not None and breaker.state != VenueBreaker.CLOSED:
                return self._deny(
                    leg, now, "VENUE_BREAKER_OPEN", "venue_error_threshold", None, None,
                    f"cycle rejected: the error breaker for venue {leg.venue} is {breaker.state}",
                )  # fmt: skip
        self._emit(
            Event(
                EventKind.RISK_APPROVED,
                now,
                {"code": "OK", "cycle_legs": len(legs), "net_profit_pct": str(net),
                 "notional_usd": str(notional_usd)},
                first.venue,
                first.symbol,
                first.strategy_id,
            )
        )  # fmt: skip
        return RiskDecision(True, "OK", "", None, "", net, c.arb_min_profit_after_fees_pct)

    # observers ------------------------------------------------------------------------------------
    def observe_fill(
        self, fill: Fill, closed: ClosedTrade | None, strategy_id: str | None = None
    ) -> None:
        """Feed one applied fill: cooldowns, the losing streak, and fresh exposure sums.

        Without `strategy_id` (and no closed trade naming it) the after-trade cooldown applies
        to every strategy on the symbol.
        """
        self._exposure = None
        ts = fill.ts
        sid = strategy_id if strategy_id is not None else (closed.strategy_id if closed else "*")
        c = self.config
        if c.cooldown_after_trade_s:
            self._cool(sid, fill.symbol, ts + c.cooldown_after_trade_s * 1000)
        if closed is None:
            if self._dirty:
                self._save()
            return
        self._observe_result(sid, (fill.symbol,), closed.pnl, ts)

    def observe_cycle(
        self, strategy_id: str, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int
    ) -> None:
        """Feed the result of one multi-leg execution (an arbitrage cycle) as one trade.

        Its legs book balances only, so this is what the losing streak and the after-loss
        cooldown (on every market of the cycle) see of it.
        """
        self._exposure = None
        self._observe_result(strategy_id, symbols, pnl_usd, ts)

    def _observe_result(self, sid: str, symbols: tuple[str, ...], pnl: Decimal, ts: int) -> None:
        c = self.config
        if pnl < 0:
            self.consecutive_losses += 1
            if c.cooldown_after_loss_s:
                for symbol in symbols:
                    self._cool(sid, symbol, ts + c.cooldown_after_loss_s * 1000)
            if (
                self.consecutive_losses >= c.max_consecutive_losses
                and self.state is TradingState.ACTIVE
            ):
                self._publish(
                    EventKind.BREAKER_TRIPPED, ts,
                    {"breaker": "consecutive_losses", "value": self.consecutive_losses,
                     "limit": c.max_consecutive_losses}, None, "critical",
                )  # fmt: skip
                pause = c.consecutive_loss_pause_s
                self.reducing_until = ts + pause * 1000 if pause else None
                until = f"; new entries resume after {pause} s" if pause else "; resume manually"
                self.set_reducing(
                    f"{self.consecutive_losses} consecutive losing trades reached "
                    f"max_consecutive_losses={c.max_consecutive_losses}{until}",
                    _LOSS_STREAK_BY,
                )
                return
        else:
            self.consecutive_losses = 0
        self._save()

    def _end_loss_pause(self, ts: int) -> None:
        self.reducing_until = None
        self.consecutive_losses = 0
        self._set_state(TradingState.ACTIVE, "consecutive-loss pause is over", _LOSS_STREAK_BY)
        self._publish(EventKind.BREAKER_RESET, ts, {"breaker": "consecutive_losses"}, None)

    def _cool(self, strategy_id: str, symbol: str, until: int) -> None:
        key = (strategy_id, symbol)
        if until > self.cooldowns.get(key, 0):
            self.cooldowns[key] = until
        self._dirty = True

    def observe_equity(self, ts: int, equity: Decimal) -> None:
        """Feed marked-to-market equity: day/week roll, peak, drawdown, daily loss and warning."""
        rolled = ts // DAY_MS != self.day and self._roll(ts, equity)
        self.last_equity = equity
        if (
            self.reducing_until is not None
            and ts >= self.reducing_until
            and self.state is TradingState.REDUCING
            and self.state_by == _LOSS_STREAK_BY
        ):
            self._end_loss_pause(ts)
        peak = self.peak_equity
        if peak is None or equity > peak:
            self.peak_equity = peak = equity
            self._dirty = True
        c = self.config
        day_start = self.day_start_equity
        q = self._quiet_inputs
        if not (
            q is not None
            and equity >= q[0]
            and q[1] is peak
            and q[2] is self.state
            and q[3] is day_start
            and q[4] == self.day
            and q[5] == self.daily_loss_halt_day
            and q[6] == self.warning_day
            and q[7] is c.max_drawdown_pct
            and q[8] is c.daily_loss_limit_usd
        ):
            # Every check below trips only as equity falls, the other inputs fixed: with those
            # inputs as on the last evaluation that tripped nothing, and equity no lower than
            # there, the checks would find nothing again (most candles, held asset or not).
            self._quiet_inputs = None
            if self._check_equity_limits(ts, equity, peak, day_start):
                self._quiet_inputs = (
                    equity, peak, self.state, day_start, self.day, self.daily_loss_halt_day,
                    self.warning_day, c.max_drawdown_pct, c.daily_loss_limit_usd,
                )  # fmt: skip
        if self._dirty and (
            rolled or self._counts_dirty or ts - self._last_save_ms >= _PEAK_SAVE_EVERY_MS
        ):
            self._save()

    def _check_equity_limits(
        self, ts: int, equity: Decimal, peak: Decimal, day_start: Decimal | None
    ) -> bool:
        """Trip the drawdown and daily-loss breakers and the warning; True if none fired."""
        quiet = True
        c = self.config
        if peak > 0 and self.state is not TradingState.HALTED:
            dd_pct = (peak - equity) / peak * _HUNDRED
            if dd_pct >= c.max_drawdown_pct:
                quiet = False
                self._publish(
                    EventKind.BREAKER_TRIPPED, ts,
                    {"breaker": "drawdown", "value": str(dd_pct), "limit": str(c.max_drawdown_pct),
                     "peak_equity": str(peak), "equity": str(equity)}, None, "critical",
                )  # fmt: skip
                self.halt(
                    f"drawdown {fmt(dd_pct)}% from the equity peak {fmt(peak)} USD reached "
                    f"max_drawdown_pct={c.max_drawdown_pct}",
                    "breaker:drawdown",
                )
        if day_start is not None and self.day is not None:
            loss = day_start - equity
            limit = self._daily_limit(day_start)
            if loss >= limit and self.daily_loss_halt_day != self.day:
                quiet = False
                self.daily_loss_halt_day = self.day
                self._publish(
                    EventKind.BREAKER_TRIPPED, ts,
                    {"breaker": "daily_loss", "value": str(loss), "limit": str(limit)}, None,
                    "critical",
                )  # fmt: skip
                if self.state is not TradingState.HALTED:
                    self.halt(
                        f"daily loss {fmt(loss)} USD reached the limit {fmt(limit)} USD",
                        "breaker:daily_loss",
                    )
                else:
                    self._save()
            elif loss >= limit * self._warn_frac and self.warning_day != self.day:
                quiet = False
                self.warning_day = self.day
                self._dirty = True
                self._publish(
                    EventKind.RISK_WARNING, ts,
                    {"warning": "daily_loss", "value": str(loss), "limit": str(limit),
                     "used_pct": str((loss / limit * _HUNDRED).quantize(Decimal("0.1")))},
                    None, "warning",
                )  # fmt: skip
        return quiet

    def observe_venue_error(self, venue: str, ts: int, error: str) -> None:
        """Count a failed venue call; enough of them in the window open the venue's breaker."""
        breaker = self.venue_breakers.get(venue)
        if breaker is None:
            breaker = self.venue_breakers[venue] = VenueBreaker()
        was = breaker.state
        if breaker.on_error(ts, error, self.config.venue_error_threshold, self._window_ms):
            self._publish(
                EventKind.BREAKER_TRIPPED, ts,
                {"breaker": "venue_errors", "venue": venue, "error": error, "was": was,
                 "half_open_after_s": self.config.venue_half_open_after_s}, None, "critical",
            )  # fmt: skip
            self._save()

    def observe_venue_ok(self, venue: str, ts: int) -> None:
        """Record a successful venue call; it closes a half-open breaker."""
        breaker = self.venue_breakers.get(venue)
        if breaker is not None and breaker.on_ok():
            self._publish(EventKind.BREAKER_RESET, ts, {"breaker": "venue_errors",
                                                        "venue": venue}, None)  # fmt: skip
            self._save()

    # state ----------------------------------------------------------------------------------------
    def halt(self, reason: str, by: str) -> None:
        """Block every new order until `resume`; persisted at once."""
        self._set_state(TradingState.HALTED, reason, by)

    def set_reducing(self, reason: str, by: str) -> None:
        """Let only exposure-reducing orders pass; never softens a HALTED state."""
        if self.state is TradingState.HALTED:
            return
        self._set_state(TradingState.REDUCING, reason, by)

    def record_kill(self, request: dict[str, Any]) -> None:
        """Keep the last kill-switch request with the persisted state."""
        self.last_kill = dict(request)
        self._save()

    def resume(self, by: str, reason: str) -> None:
        """Return to ACTIVE; refused (ResumeRefused) before the daily-loss halt's day is over."""
        if not by.strip() or not reason.strip():
            raise ValueError("resume needs who resumes (by) and why (reason); both were not given")
        now = self._clock.now_ms()
        halt_day = self.daily_loss_halt_day
        if halt_day is not None and utc_day(now) <= halt_day:
            raise ResumeRefused(
                f"resume refused: the daily loss limit halted trading on {_day_label(halt_day)} "
                f"(UTC); resume is possible from {_day_label(halt_day + 1)} 00:00 UTC"
            )
        before = self.state
        self.daily_loss_halt_day = None
        self.consecutive_losses = 0
        # Measure the next drawdown from here, or the old peak would halt again at once.
        if self.last_equity is not None:
            self.peak_equity = self.last_equity
        self.last_resume = {"by": by, "reason": reason, "ts": now, "from": before.value}
        self._set_state(TradingState.ACTIVE, reason, by)
        self._publish(EventKind.RESUME, now, {"by": by, "reason": reason, "from": before.value},
                      None, "warning")  # fmt: skip

    def _set_state(self, state: TradingState, reason: str, by: str) -> None:
        now = self._clock.now_ms()
        before = self.state
        self.state = state
        self.state_reason = reason
        self.state_by = by
        self.state_ts = now
        self._save()
        self._publish(
            EventKind.STATE_CHANGED, now,
            {"from": before.value, "to": state.value, "reason": reason, "by": by}, None,
            "critical" if state is TradingState.HALTED else "warning",
        )  # fmt: skip

    def emit(self, event: Event) -> None:
        """Send an event to the bus and the audit log."""
        self._emit(event)

    def flush(self) -> None:
        """Persist counters changed since the last save (approvals, cooldowns, peak)."""
        if self._dirty:
            self._save()

    # calendars and limits ---------------------------------------------------------------------
    def _roll(self, ts: int, equity: Decimal) -> bool:
        day = ts // DAY_MS
        if day == self.day:
            return False
        # Start the new day from the last equity seen, i.e. as marked at the boundary.
        start = self.last_equity if self.last_equity is not None else equity
        self.day = day
        self.day_start_equity = start
        self._limits = None
        self.trades_today = 0
        week = iso_week(ts)
        if week != self.week:
            self.week = week
            self.week_start_equity = start
        self._dirty = True
        return True

    def _daily_limit(self, day_start: Decimal) -> Decimal:
        limit = day_start * self._daily_frac
        usd = self.config.daily_loss_limit_usd
        if usd is not None and usd < limit:
            return usd
        return limit

    def _weekly_limit(self, week_start: Decimal) -> Decimal | None:
        c = self.config
        limits = []
        if self._weekly_frac is not None:
            limits.append(week_start * self._weekly_frac)
        if c.weekly_loss_limit_usd is not None:
            limits.append(c.weekly_loss_limit_usd)
        return min(limits) if limits else None

    # persistence --------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Return the persisted state as a JSON-safe dict."""
        return {
            "version": _STATE_VERSION,
            "state": self.state.value,
            "state_reason": self.state_reason,
            "reason": self.state_reason,  # alias read by status commands
            "state_by": self.state_by,
            "state_ts": self.state_ts,
            "daily_loss_halt_day": self.daily_loss_halt_day,
            "day": self.day,
            "day_start_equity": _s(self.day_start_equity),
            "week": self.week,
            "week_start_equity": _s(self.week_start_equity),
            "peak_equity": _s(self.peak_equity),
            "last_equity": _s(self.last_equity),
            "trades_today": self.trades_today,
            "warning_day": self.warning_day,
            "consecutive_losses": self.consecutive_losses,
            "reducing_until": self.reducing_until,
            "venue_breakers": {v: b.to_json() for v, b in self.venue_breakers.items()},
            "cooldowns": [[s, sym, until] for (s, sym), until in self.cooldowns.items()],
            "last_resume": self.last_resume,
            "last_kill": self.last_kill,
        }

    def _save(self) -> None:
        now = self._clock.now_ms()
        # Expired cooldowns are dropped so the state stays small.
        self.cooldowns = {k: u for k, u in self.cooldowns.items() if u > now}
        self._store.save(self.to_state())
        self._dirty = self._counts_dirty = False
        self._last_save_ms = now

    def _restore(self) -> None:
        data = self._store.load()
        if not data:
            return

        def d(key: str) -> Decimal | None:
            v = data.get(key)
            return None if v is None else Decimal(str(v))

        self.state = TradingState(data.get("state", TradingState.ACTIVE.value))
        self.state_reason = str(data.get("state_reason", ""))
        self.state_by = str(data.get("state_by", ""))
        self.state_ts = int(data.get("state_ts", 0))
        self.daily_loss_halt_day = data.get("daily_loss_halt_day")
        self.day = data.get("day")
        self.day_start_equity = d("day_start_equity")
        self.week = data.get("week")
        self.week_start_equity = d("week_start_equity")
        self.peak_equity = d("peak_equity")
        self.last_equity = d("last_equity")
        self.trades_today = int(data.get("trades_today", 0))
        self.warning_day = data.get("warning_day")
        self.consecutive_losses = int(data.get("consecutive_losses", 0))
        until = data.get("reducing_until")
        self.reducing_until = int(until) if until is not None else None
        self.venue_breakers = {
            v: VenueBreaker.from_json(b) for v, b in (data.get("venue_breakers") or {}).items()
        }
        self.cooldowns = {(s, sym): int(u) for s, sym, u in data.get("cooldowns") or []}
        self.last_resume = data.get("last_resume")
        self.last_kill = data.get("last_kill")

    # reporting ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Describe the state, every breaker and each limit's use, for the API and dashboard."""
        c = self.config
        now = self._clock.now_ms()
        equity = self.last_equity

        def used(value: Decimal | None, limit: Decimal | None, unit: str) -> dict[str, Any]:
            pct = None
            if value is not None and limit:
                pct = str((value / limit * _HUNDRED).quantize(Decimal("0.1")))
            return {
                "used": None if value is None else fmt(value),
                "limit": None if limit is None else fmt(limit),
                "unit": unit,
                "used_pct": pct,
            }

        daily: dict[str, Any] = {"used": None, "limit": None, "unit": "USD", "used_pct": None}
        weekly = dict(daily)
        drawdown: dict[str, Any] = {"used": None, "limit": str(c.max_drawdown_pct), "unit": "%"}
        if equity is not None and self.day_start_equity is not None:
            daily = used(
                max(ZERO, self.day_start_equity - equity),
                self._daily_limit(self.day_start_equity),
                "USD",
            )
        if equity is not None and self.week_start_equity is not None:
            weekly = used(
                max(ZERO, self.week_start_equity - equity),
                self._weekly_limit(self.week_start_equity),
                "USD",
            )
        if equity is not None and self.peak_equity:
            dd = (self.peak_equity - equity) / self.peak_equity * _HUNDRED
            drawdown = used(dd, c.max_drawdown_pct, "%")
            drawdown["peak_equity"] = fmt(self.peak_equity)
        trades_limit = c.max_trades_per_day
        return {
            "state": self.state.value,
            "reason": self.state_reason,
            "by": self.state_by,
            "since_ts": self.state_ts,
            "equity": None if equity is None else fmt(equity),
            "breakers": {
                "consecutive_losses": {
                    "value": self.consecutive_losses,
                    "limit": c.max_consecutive_losses,
                    "tripped": self.consecutive_losses >= c.max_consecutive_losses,
                },
                "drawdown": drawdown,
                "daily_loss": {
                    **daily,
                    "halted_day": None
                    if self.daily_loss_halt_day is None
                    else _day_label(self.daily_loss_halt_day),
                    "warning_sent": self.warning_day is not None and self.warning_day == self.day,
                },
                "venues": {
                    v: {
                        "state": b.state,
                        "errors_in_window": len(b.failures),
                        "threshold": c.venue_error_threshold,
                        "opened_ts": b.opened_ts or None,
                        "last_error": b.last_error,
                    }
                    for v, b in self.venue_breakers.items()
                },
                "stale_symbols": sorted(self._stale),
            },
            "limits": {
                "daily_loss": daily,
                "weekly_loss": weekly,
                "trades_today": used(
                    Decimal(self.trades_today),
                    None if trades_limit is None else Decimal(trades_limit),
                    "trades",
                ),
                "max_order_notional_usd": str(c.max_order_notional_usd),
                "max_order_notional_pct": str(c.max_order_notional_pct),
                "max_open_positions": c.max_open_positions,
                "max_portfolio_heat_pct": str(c.max_portfolio_heat_pct),
            },
            "cooldowns": [
                {"strategy_id": s, "symbol": sym, "until_ts": u}
                for (s, sym), u in sorted(self.cooldowns.items())
                if u > now
            ],
            "last_resume": self.last_resume,
            "last_kill": self.last_kill,
            "unset_limits": c.unset_limits(),
        }

    def _publish(
        self,
        kind: str,
        ts: int,
        data: dict[str, Any],
        intent: OrderIntent | None,
        severity: str = "info",
    ) -> None:
        self._emit(
            Event(
                kind,
                ts,
                data,
                intent.venue if intent else "",
                intent.symbol if intent else "",
                intent.strategy_id if intent else "",
                severity,
            )
        )

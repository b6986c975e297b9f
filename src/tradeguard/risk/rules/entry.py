"""Limits on orders that open or grow exposure ("entries"); an exit is never trapped by them.

Equity-relative limits compare USD figures (`equity_usd`); loss limits compare equity in the
valuation asset with the day's and week's start.
"""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO, fmt
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.rules.base import Check, Denial, Rule, frac


class ValuationRule(Rule):
    """USD limits need a USD price of the valuation asset."""

    key, code = "valuation_asset_usd", "NO_USD_PRICE"

    def applies(self, valuation_is_usd: bool) -> bool:
        return not valuation_is_usd

    def check(self, c: Check) -> Denial | None:
        valuation = c.engine.valuation
        if valuation.usd_per_unit is not None:
            return None
        return self.deny(None, None, valuation.missing("min_account_balance_usd"))


class MinAccountBalance(Rule):
    key, code = "min_account_balance_usd", "MIN_ACCOUNT_BALANCE"
    __slots__ = ("limit",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit = config.min_account_balance_usd

    def check(self, c: Check) -> Denial | None:
        limit = self.limit
        if c.equity_usd >= limit:
            return None
        return self.deny(
            c.equity_usd,
            limit,
            f"order rejected: equity {fmt(c.equity_usd)} USD is below min_account_balance_usd="
            f"{fmt(limit)} (risk.min_account_balance_usd)",
        )


class NoEquity(Rule):
    """Zero or negative equity leaves nothing to size an order against."""

    key, code = "equity", "NO_EQUITY"

    @classmethod
    def default(cls) -> None:
        return None

    def applies(self, valuation_is_usd: bool) -> bool:
        # A positive minimum balance, checked first, already refuses zero or negative equity.
        return self.config.min_account_balance_usd <= 0

    def check(self, c: Check) -> Denial | None:
        if c.equity > ZERO:
            return None
        return self.deny(
            c.equity,
            None,
            f"order rejected: equity is {fmt(c.equity)} {c.engine.valuation.unit} (balances "
            "read as zero or could not be read); check the venue's balances and credentials",
        )


class MaxOrderNotional(Rule):
    key, code = "max_order_notional_usd", "MAX_ORDER_NOTIONAL"
    __slots__ = ("limit",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit = config.max_order_notional_usd

    def check(self, c: Check) -> Denial | None:
        limit = self.limit
        if c.notional_usd <= limit:
            return None
        return self.deny(
            c.notional_usd,
            limit,
            f"order rejected: notional {fmt(c.notional_usd)} USD exceeds max_order_notional_usd="
            f"{fmt(limit)} (risk.max_order_notional_usd)",
        )


class MaxOrderNotionalPct(Rule):
    __slots__ = ("fraction",)
    key, code = "max_order_notional_pct", "MAX_ORDER_NOTIONAL_PCT"

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.fraction = frac(config.max_order_notional_pct)

    def check(self, c: Check) -> Denial | None:
        cap = c.equity_usd * self.fraction
        if c.notional_usd <= cap:
            return None
        pct = self.config.max_order_notional_pct
        return self.deny(
            c.notional_usd,
            cap,
            f"order rejected: notional {fmt(c.notional_usd)} USD exceeds "
            f"max_order_notional_pct={pct}% of equity = {fmt(cap)} USD "
            "(risk.max_order_notional_pct)",
        )


class MaxPositionNotional(Rule):
    """The position an entry would leave on its venue and symbol (every strategy's net
    quantity, plus working entry orders on that side, plus this order) at the order's price,
    in USD, within `max_position_notional_usd`."""

    key, code = "max_position_notional_usd", "MAX_POSITION_NOTIONAL"
    __slots__ = ("limit",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit = config.max_position_notional_usd

    def applies(self, valuation_is_usd: bool) -> bool:
        return self.limit is not None

    def check(self, c: Check) -> Denial | None:
        limit = self.limit
        assert limit is not None
        i = c.intent
        signed = i.amount if i.side is Side.BUY else -i.amount
        working = ZERO
        for o in c.portfolio.open_orders():
            same = o.venue == i.venue and o.symbol == i.symbol and o.side is i.side
            if same and not o.reduce_only:
                working += o.amount - o.filled
        after = abs(c.net + signed) + working
        value = after * c.price * c.usd_rate
        if value <= limit:
            return None
        return self.deny(
            value,
            limit,
            f"order rejected: the {i.symbol} position on {i.venue} would be {after} "
            f"({fmt(value)} USD with working orders), above max_position_notional_usd="
            f"{fmt(limit)} (risk.max_position_notional_usd)",
        )


class MinOrderNotional(Rule):
    key, code = "min_order_notional_usd", "MIN_ORDER_NOTIONAL"
    __slots__ = ("limit",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit = config.min_order_notional_usd

    def check(self, c: Check) -> Denial | None:
        limit = self.limit
        if c.notional_usd >= limit:
            return None
        return self.deny(
            c.notional_usd,
            limit,
            f"order rejected: notional {fmt(c.notional_usd)} USD is below min_order_notional_usd="
            f"{fmt(limit)} (risk.min_order_notional_usd)",
        )


class DailyLossLimit(Rule):
    key, code = "daily_loss_limit_pct", "DAILY_LOSS_LIMIT"

    def check(self, c: Check) -> Denial | None:
        c.limits = limits = c.engine.loss_limits(c.now, c.equity)
        day_start, limit, _, _ = limits
        loss = day_start - c.equity
        # an arbitrage unwind sells a stranded leg within its own loss cap: it sheds the risk
        # this limit protects against, and refusing it would leave the leg to lose more
        if loss <= ZERO or loss < limit or c.unwind:
            return None
        unit = c.engine.valuation.unit
        return self.deny(
            loss,
            limit,
            f"order rejected: today's loss {fmt(loss)} {unit} has reached the daily loss limit "
            f"{fmt(limit)} {unit} (risk.daily_loss_limit_usd / risk.daily_loss_limit_pct)",
        )


class WeeklyLossLimit(Rule):
    key, code = "weekly_loss_limit_pct", "WEEKLY_LOSS_LIMIT"

    def applies(self, valuation_is_usd: bool) -> bool:
        c = self.config
        return c.weekly_loss_limit_pct is not None or c.weekly_loss_limit_usd is not None

    def check(self, c: Check) -> Denial | None:
        _, _, week_start, limit = c.limits  # set by DailyLossLimit, which always applies
        loss = week_start - c.equity
        if limit is None or loss <= ZERO or loss < limit or c.unwind:
            return None
        unit = c.engine.valuation.unit
        return self.deny(
            loss,
            limit,
            f"order rejected: this week's loss {fmt(loss)} {unit} has reached the weekly loss "
            f"limit {fmt(limit)} {unit} (risk.weekly_loss_limit_usd / risk.weekly_loss_limit_pct)",
        )


class Cooldown(Rule):
    key, code = "cooldown_after_trade_s", "COOLDOWN"

    def check(self, c: Check) -> Denial | None:
        cooldowns = c.engine.cooldowns
        # an arbitrage unwind takes a stranded asset home; refusing it would leave it held
        if not cooldowns or c.unwind:
            return None
        i = c.intent
        mine, every = cooldowns.get((i.strategy_id, i.symbol), 0), cooldowns.get(("*", i.symbol), 0)
        until = mine if mine > every else every
        if c.now >= until:
            return None
        left = Decimal(until - c.now) / 1000
        return self.deny(
            left,
            None,
            f"order rejected: {i.strategy_id} on {i.symbol} is cooling down for {left} s more "
            "(risk.cooldown_after_trade_s / risk.cooldown_after_loss_s)",
        )


class MaxTradesPerDay(Rule):
    key, code = "max_trades_per_day", "MAX_TRADES_PER_DAY"
    __slots__ = ("limit",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit = config.max_trades_per_day

    def applies(self, valuation_is_usd: bool) -> bool:
        return self.limit is not None

    def check(self, c: Check) -> Denial | None:
        limit = self.limit
        n = c.engine.trades_today + c.ahead
        # an arbitrage unwind closes a lone leg: refusing it for the count would leave it held
        if limit is None or n < limit or c.unwind:
            return None
        counted = f"{c.engine.trades_today} trades today"
        if c.ahead:
            counted += f" and {c.ahead} leg{'s' if c.ahead > 1 else ''} ahead reach"
        else:
            counted += " reached"
        return self.deny(
            Decimal(n),
            Decimal(limit),
            f"order rejected: {counted} max_trades_per_day={limit} "
            "(risk.max_trades_per_day); the count restarts at 00:00 UTC",
        )


class MaxOpenPositions(Rule):
    key, code = "max_open_positions", "MAX_OPEN_POSITIONS"
    __slots__ = ("limit",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit = config.max_open_positions

    def check(self, c: Check) -> Denial | None:
        exposure = c.exposure
        n, limit = len(exposure.keys), self.limit
        if n < limit or c.held:
            return None
        return self.deny(
            Decimal(n),
            Decimal(limit),
            f"order rejected: {n} positions are open, max_open_positions={limit} "
            "(risk.max_open_positions)",
        )


class OnePositionPerStrategy(Rule):
    key, code = "one_position_per_strategy", "ONE_POSITION_PER_STRATEGY"

    def applies(self, valuation_is_usd: bool) -> bool:
        return self.config.one_position_per_strategy

    def check(self, c: Check) -> Denial | None:
        exposure, i = c.exposure, c.intent
        if c.held or i.strategy_id not in exposure.strategies:  # (built only when the key is on)
            return None
        return self.deny(
            None,
            None,
            f"order rejected: strategy {i.strategy_id} already holds a position "
            "(risk.one_position_per_strategy)",
        )


class PortfolioHeat(Rule):
    __slots__ = ("fraction",)
    key, code = "max_portfolio_heat_pct", "PORTFOLIO_HEAT"

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.fraction = frac(config.max_portfolio_heat_pct)

    def check(self, c: Check) -> Denial | None:
        heat = c.exposure.heat_usd + c.order_risk
        cap = c.equity_usd * self.fraction
        if heat <= cap:
            return None
        pct = self.config.max_portfolio_heat_pct
        return self.deny(
            heat,
            cap,
            f"order rejected: portfolio heat would be {fmt(heat)} USD, above "
            f"max_portfolio_heat_pct={pct}% of equity = {fmt(cap)} USD "
            "(risk.max_portfolio_heat_pct)",
        )


class StableReserve(Rule):
    __slots__ = ("fraction",)
    key, code = "stable_reserve_pct", "STABLE_RESERVE"

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.fraction = frac(config.stable_reserve_pct)

    def check(self, c: Check) -> Denial | None:
        if not c.stable_buy:
            return None
        spent = c.exposure.pending_stable_usd + c.ahead_stable_usd  # earlier legs of a plan too
        after = c.portfolio.stable_value() - spent - c.notional_usd
        reserve = c.equity_usd * self.fraction
        if after >= reserve:
            return None
        pct = self.config.stable_reserve_pct
        return self.deny(
            after,
            reserve,
            f"order rejected: stablecoins would fall to {fmt(after)} USD, below "
            f"stable_reserve_pct={pct}% of equity = {fmt(reserve)} USD (risk.stable_reserve_pct)",
        )

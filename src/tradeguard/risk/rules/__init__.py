"""The pre-trade rules in the order the engine evaluates them; the first denial decides."""

from __future__ import annotations

from collections.abc import Callable

from tradeguard.model.order import ARB_UNWIND_TAG
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.rules.base import Check, Denial, Rule
from tradeguard.risk.rules.entry import (
    Cooldown,
    DailyLossLimit,
    MaxOpenPositions,
    MaxOrderNotional,
    MaxOrderNotionalPct,
    MaxPositionNotional,
    MaxTradesPerDay,
    MinAccountBalance,
    MinOrderNotional,
    NoEquity,
    OnePositionPerStrategy,
    PortfolioHeat,
    StableReserve,
    ValuationRule,
    WeeklyLossLimit,
)
from tradeguard.risk.rules.order import (
    InstrumentRule,
    MarkSuspectRule,
    MaxTxValueRule,
    OrderRateRule,
    PriceRule,
    ReduceOnlyRule,
    ReducingStateRule,
    StaleDataRule,
    UsdPriceRule,
    ValuationPriceRule,
    VenueBreakerRule,
)

# Every order, entry or exit (the order-rate rule is built by the engine, which counts into it).
ORDER_RULES: tuple[type[Rule], ...] = (
    VenueBreakerRule,
    InstrumentRule,  # first: a symbol no venue lists must not trip a stale-data breaker
    StaleDataRule,
    MarkSuspectRule,
    PriceRule,
    MaxTxValueRule,
    ReduceOnlyRule,
    ReducingStateRule,
)
# After the order rate: what values the order in USD.
PRICING_RULES: tuple[type[Rule], ...] = (ValuationPriceRule, UsdPriceRule)
# Orders that open or grow exposure.
ENTRY_RULES: tuple[type[Rule], ...] = (
    ValuationRule,
    MinAccountBalance,
    NoEquity,
    MaxOrderNotional,
    MaxOrderNotionalPct,
    MaxPositionNotional,
    MinOrderNotional,
    DailyLossLimit,
    WeeklyLossLimit,
    Cooldown,
    MaxTradesPerDay,
    MaxOpenPositions,
    OnePositionPerStrategy,
    PortfolioHeat,
    StableReserve,
)


def build(
    rules: tuple[type[Rule], ...], config: RiskConfig, valuation_is_usd: bool, active: bool = False
) -> tuple[Callable[[Check], Denial | None], ...]:
    """The `check` of each rule that applies under this config, in order.

    `active` builds the tuple used while trading is ACTIVE, without the rules that only deny
    in another state.
    """
    built = (cls(config) for cls in rules if not (active and cls.inactive_only))
    return tuple(rule.check for rule in built if rule.applies(valuation_is_usd))


__all__ = [
    "ARB_UNWIND_TAG",
    "ENTRY_RULES",
    "ORDER_RULES",
    "PRICING_RULES",
    "Check",
    "Denial",
    "OrderRateRule",
    "Rule",
    "build",
]

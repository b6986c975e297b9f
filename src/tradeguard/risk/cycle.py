"""The arbitrage cycle check: a whole cycle is approved before its first leg is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from tradeguard.model.enums import TradingState
from tradeguard.model.money import fmt
from tradeguard.model.order import OrderIntent
from tradeguard.risk.breakers import VenueBreaker
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.rules.base import Denial


def cycle_denial(
    config: RiskConfig,
    state: TradingState,
    state_reason: str,
    breakers: Mapping[str, VenueBreaker],
    legs: Sequence[OrderIntent],
    net_pct: Decimal,
    notional_usd: Decimal,
    cooldowns: Mapping[tuple[str, str], int] | None = None,
    now_ms: int = 0,
) -> tuple[int, Denial] | None:
    """Return (index of the leg it concerns, denial) when the cycle may not start, else None."""
    c = config
    if state is not TradingState.ACTIVE:
        code = "TRADING_HALTED" if state is TradingState.HALTED else "TRADING_REDUCING"
        reason = f"cycle rejected: trading is {state.value} ({state_reason})"
        return 0, Denial(code, "state", None, None, reason)
    n, most = len(legs), c.arb_max_cycle_length
    if not 2 <= n <= most:
        return 0, Denial(
            "ARB_CYCLE_LENGTH",
            "arb_max_cycle_length",
            Decimal(n),
            Decimal(most),
            f"cycle rejected: {n} legs; a cycle needs 2 to arb_max_cycle_length={most} legs "
            "(risk.arb_max_cycle_length)",
        )
    least = c.arb_min_profit_after_fees_pct
    if net_pct < least:
        return 0, Denial(
            "ARB_MIN_PROFIT",
            "arb_min_profit_after_fees_pct",
            net_pct,
            least,
            f"cycle rejected: expected profit after fees {net_pct}% is below "
            f"arb_min_profit_after_fees_pct={least} (risk.arb_min_profit_after_fees_pct)",
        )
    cap = c.arb_max_cycle_notional_usd
    if notional_usd > cap:
        return 0, Denial(
            "ARB_CYCLE_NOTIONAL",
            "arb_max_cycle_notional_usd",
            notional_usd,
            cap,
            f"cycle rejected: size {fmt(notional_usd)} USD exceeds arb_max_cycle_notional_usd="
            f"{fmt(cap)} (risk.arb_max_cycle_notional_usd)",
        )
    for i, leg in enumerate(legs):
        breaker = breakers.get(leg.venue)
        if breaker is not None and breaker.state != VenueBreaker.CLOSED:
            return i, Denial(
                "VENUE_BREAKER_OPEN",
                "venue_error_threshold",
                None,
                None,
                f"cycle rejected: the error breaker for venue {leg.venue} is {breaker.state}",
            )
    return _cooling_leg(legs, cooldowns or {}, now_ms)


def _cooling_leg(
    legs: Sequence[OrderIntent], cooldowns: Mapping[tuple[str, str], int], now_ms: int
) -> tuple[int, Denial] | None:
    # a later leg the Cooldown rule would refuse strands what the earlier legs bought
    for i, leg in enumerate(legs):
        mine = cooldowns.get((leg.strategy_id, leg.symbol), 0)
        until = max(mine, cooldowns.get(("*", leg.symbol), 0))
        if now_ms < until:
            left = Decimal(until - now_ms) / 1000
            return i, Denial(
                "COOLDOWN",
                "cooldown_after_trade_s",
                left,
                None,
                f"cycle rejected: leg {i + 1} ({leg.symbol}) is cooling down for {left} s more "
                "(risk.cooldown_after_trade_s / risk.cooldown_after_loss_s)",
            )
    return None

"""Loss limits set against the account they guard.

The day's loss is measured from the day's opening equity, so a price move of what the account
holds counts as much as a losing trade. A loss limit below an ordinary day's move of those
holdings halts (daily) or stops entries (weekly) on price moves alone, often within minutes of
the start: the node says so at start, naming the key, the figures and what to change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tradeguard.model.money import STABLECOINS, fmt
from tradeguard.risk.config import RiskConfig

# An ordinary day's move of a major coin (BTC, ETH move more than this on most days).
ORDINARY_DAILY_MOVE_PCT = Decimal(3)
_HUNDRED = Decimal(100)


def _binding_key(config: RiskConfig, period: str, limit: Decimal, usd_limit: Decimal | None) -> str:
    """Name the key (and its value) that sets the limit: the USD one when it is the lower."""
    if usd_limit is not None and usd_limit <= limit:
        return f"risk.{period}_loss_limit_usd = {getattr(config, f'{period}_loss_limit_usd')}"
    return f"risk.{period}_loss_limit_pct = {getattr(config, f'{period}_loss_limit_pct')}"


def loss_limit_warnings(
    config: RiskConfig,
    equity: Decimal,
    held: Decimal,
    unit: str,
    daily_limit: Callable[[Decimal], Decimal],
    weekly_limit: Callable[[Decimal], Decimal | None],
    usd_limit: Callable[[Decimal | None], Decimal | None],
) -> list[str]:
    """Warn for each loss limit below an ordinary day's move of `held`.

    `equity` is the account's value and `held` the part of it outside the valuation asset (and
    outside stablecoins when it is one), both in `unit`; the callables give the engine's limits
    in `unit` for an opening equity, and a USD figure in `unit`.
    """
    if equity <= 0 or held <= 0:
        return []
    move = held * ORDINARY_DAILY_MOVE_PCT / _HUNDRED
    # Valued in a coin, stablecoins count as held: their value in it moves with its USD price.
    what = (
        f"held in other assets than {unit} and stablecoins"
        if unit in STABLECOINS
        else f"held in other assets than {unit} (stablecoins included: their value in {unit} "
        f"moves with its price)"
    )
    out = []
    checks = (
        ("daily", daily_limit(equity), "halts until the next UTC day"),
        ("weekly", weekly_limit(equity), "denies new entries until the week is over"),
    )
    for period, limit, effect in checks:
        if limit is None or limit >= move:
            continue
        key = _binding_key(
            config, period, limit, usd_limit(getattr(config, f"{period}_loss_limit_usd"))
        )
        out.append(
            f"{key} allows a {period} loss of {fmt(limit)} {unit}, less than a "
            f"{ORDINARY_DAILY_MOVE_PCT}% move ({fmt(move)} {unit}) of the {fmt(held)} {unit} "
            f"{what}: losses count from the opening equity, price moves "
            f"included, so an ordinary day's move alone may reach it and the node {effect}; "
            f"set {key.split(' = ')[0]} to what you accept to lose (at least {fmt(move)} {unit})"
        )
    return out

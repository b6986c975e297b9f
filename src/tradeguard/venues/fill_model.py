"""Pure fill arithmetic for the paper venue: book walks and the candle slippage model.

Everything here is a plain function over `Decimal`; the paper venue decides when to call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle
from tradeguard.model.money import ONE, ZERO, quantize_down

BPS = Decimal(10_000)
HUNDRED = Decimal(100)
FILL_AT = ("next_open", "in_candle")


@dataclass(frozen=True, slots=True)
class FillConfig:
    """How the paper venue fills when it must model the market (candles) and when data is fresh.

    slippage_bps: fixed adverse move applied to a candle's open for taker fills (basis points).
    impact_bps_per_pct: extra adverse move per percent of the candle's volume the order takes.
    max_participation: the largest fraction of one candle's (or tick's) volume this venue may
        take, 0 < x <= 1 (0.1 = 10%).
    stale_after_ms: a book or quote older than this (against the clock) is not used for fills.
    fill_at: with candles only, "next_open" fills a taker at the open of the first candle after
        the order; "in_candle" fills it at once at the close of the candle it was placed on.
    instrument_slippage_bps: per-symbol `slippage_bps`, overriding the venue's value.
    """

    slippage_bps: Decimal = Decimal(5)
    impact_bps_per_pct: Decimal = Decimal(2)
    max_participation: Decimal = Decimal("0.1")
    stale_after_ms: int = 5_000
    fill_at: str = "next_open"
    instrument_slippage_bps: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not ZERO <= self.slippage_bps <= 1000:
            raise ConfigError(
                f"fill_model.slippage_bps={self.slippage_bps} is outside [0, 1000] bps; "
                "set a value in that range"
            )
        for symbol, bps in self.instrument_slippage_bps.items():
            if not ZERO <= bps <= 1000:
                raise ConfigError(
                    f"instruments[{symbol}].slippage_bps={bps} is outside [0, 1000] bps; "
                    "set a value in that range"
                )
        if self.fill_at not in FILL_AT:
            raise ConfigError(
                f"fill_model.fill_at={self.fill_at!r} is not one of {', '.join(FILL_AT)}"
            )
        if not ZERO <= self.impact_bps_per_pct <= 1000:
            raise ConfigError(
                f"fill_model.impact_bps_per_pct={self.impact_bps_per_pct} is outside [0, 1000] "
                "bps per percent; set a value in that range"
            )
        if not ZERO < self.max_participation <= ONE:
            raise ConfigError(
                f"fill_model.max_participation={self.max_participation} is outside (0, 1] "
                "(a fraction: 0.1 = 10% of a candle's volume)"
            )
        if self.stale_after_ms <= 0:
            raise ConfigError(
                f"fill_model.stale_after_ms={self.stale_after_ms} must be positive (milliseconds)"
            )

    def slippage_for(self, symbol: str) -> Decimal:
        """The fixed slippage of `symbol`: its own value if configured, else the venue's."""
        return self.instrument_slippage_bps.get(symbol, self.slippage_bps)


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` up to a multiple of `step` (a step of 0 leaves it)."""
    if step <= ZERO:
        return value
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` down to a multiple of `step` (a step of 0 leaves it)."""
    if step <= ZERO:
        return value
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def walk_levels(
    levels: Iterable[tuple[Decimal, Decimal]],
    taken: dict[Decimal, Decimal],
    amount: Decimal,
    step: Decimal,
    *,
    buy: bool,
    limit: Decimal | None = None,
    inclusive: bool = True,
    quote_budget: Decimal | None = None,
    fee_rate: Decimal = ZERO,
) -> list[tuple[Decimal, Decimal]]:
    """Plan a walk of opposite-side levels (best first); return (level price, amount) pieces.

    Liquidity already in `taken` (price -> amount) is skipped; `taken` itself is not changed
    (commit with `take`). `limit` stops the walk at prices worse than it (`inclusive=False`
    also stops at the limit itself: for resting orders the market must trade through).
    `quote_budget` caps what a buy may spend, fees at `fee_rate` included.
    """
    pieces: list[tuple[Decimal, Decimal]] = []
    left = amount
    budget = quote_budget
    for price, size in levels:
        if left <= ZERO:
            break
        if limit is not None:
            if buy and (price > limit or (not inclusive and price == limit)):
                break
            if not buy and (price < limit or (not inclusive and price == limit)):
                break
        qty = quantize_down(min(size - taken.get(price, ZERO), left), step)
        if qty <= ZERO:
            continue
        if budget is not None:
            qty = min(qty, quantize_down(budget / (price * (ONE + fee_rate)), step))
            if qty <= ZERO:
                break  # out of money: deeper levels only cost more
        pieces.append((price, qty))
        left -= qty
        if budget is not None:
            budget -= price * qty * (ONE + fee_rate)
    return pieces


def take(taken: dict[Decimal, Decimal], pieces: Iterable[tuple[Decimal, Decimal]]) -> None:
    """Record that the venue consumed `pieces` of displayed liquidity."""
    for price, qty in pieces:
        taken[price] = taken.get(price, ZERO) + qty


def participation_cap(volume: Decimal, max_participation: Decimal, used: Decimal) -> Decimal:
    """Amount still available from one bar's or tick's volume after `used` was taken."""
    cap = volume * max_participation - used
    return cap if cap > ZERO else ZERO


def candle_taker_price(
    candle: Candle,
    buy: bool,
    amount: Decimal,
    config: FillConfig,
    tick: Decimal,
    *,
    at: Decimal | None = None,
) -> Decimal:
    """Price of a taker fill on `candle`: `at` (its open by default) moved against us, clamped.

    The move is `slippage_bps + impact_bps_per_pct * participation_pct`, where slippage_bps is
    the symbol's own value when configured and participation is `amount / candle.volume` in
    percent. Rounded to the tick against us, then clamped to the candle's [low, high].
    """
    base = candle.open if at is None else at
    pct = amount / candle.volume * HUNDRED if candle.volume > ZERO else ZERO
    bps = config.slippage_for(candle.symbol) + config.impact_bps_per_pct * pct
    if buy:
        price = ceil_to_step(base * (ONE + bps / BPS), tick)
        return min(max(price, candle.low), candle.high)
    price = floor_to_step(base * (ONE - bps / BPS), tick)
    return max(min(price, candle.high), candle.low)

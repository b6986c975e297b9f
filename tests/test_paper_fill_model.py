"""Pure fill arithmetic: book walks, participation caps and the candle slippage model."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle
from tradeguard.venues.fill_model import (
    FillConfig,
    candle_taker_price,
    participation_cap,
    take,
    walk_levels,
)

D = Decimal
ASKS = [(D("100.0"), D("1.0")), (D("100.5"), D("2.0")), (D("101.0"), D("3.0"))]
STEP = D("0.001")


def test_walk_takes_levels_best_first_at_their_own_prices() -> None:
    pieces = walk_levels(ASKS, {}, D("2.5"), STEP, buy=True)
    assert pieces == [(D("100.0"), D("1.0")), (D("100.5"), D("1.5"))]


def test_walk_skips_liquidity_already_taken() -> None:
    taken: dict[Decimal, Decimal] = {}
    take(taken, walk_levels(ASKS, taken, D("1.5"), STEP, buy=True))
    second = walk_levels(ASKS, taken, D("1.0"), STEP, buy=True)
    assert second == [(D("100.5"), D("1.0"))]
    assert taken == {D("100.0"): D("1.0"), D("100.5"): D("0.5")}


def test_walk_stops_at_the_limit_inclusive_for_takers_exclusive_for_resting() -> None:
    assert walk_levels(ASKS, {}, D("10"), STEP, buy=True, limit=D("100.5")) == [
        (D("100.0"), D("1.0")),
        (D("100.5"), D("2.0")),
    ]
    assert walk_levels(ASKS, {}, D("10"), STEP, buy=True, limit=D("100.5"), inclusive=False) == [
        (D("100.0"), D("1.0"))
    ]


def test_walk_sell_side_stops_below_the_limit() -> None:
    bids = [(D("99"), D("1")), (D("98"), D("1")), (D("97"), D("1"))]
    assert walk_levels(bids, {}, D("5"), STEP, buy=False, limit=D("98")) == [
        (D("99"), D("1")),
        (D("98"), D("1")),
    ]


def test_walk_caps_a_buy_by_its_quote_budget_fees_included() -> None:
    pieces = walk_levels(
        ASKS, {}, D("5"), STEP, buy=True, quote_budget=D("151"), fee_rate=D("0.01")
    )
    # 1.0 at 100.0 costs 101.0 with fee; 50 left buys floor(50 / (100.5 * 1.01)) = 0.492
    assert pieces == [(D("100.0"), D("1.0")), (D("100.5"), D("0.492"))]


def test_participation_cap_subtracts_what_was_used() -> None:
    assert participation_cap(D("50"), D("0.1"), D("2")) == D("3.0")
    assert participation_cap(D("50"), D("0.1"), D("9")) == 0


def _bar(o: str, h: str, lo: str, c: str, v: str) -> Candle:
    return Candle("X/Y", 0, D(o), D(h), D(lo), D(c), D(v))


def test_candle_taker_price_moves_open_against_us_by_slippage_plus_impact() -> None:
    cfg = FillConfig(slippage_bps=D(10), impact_bps_per_pct=D(2), max_participation=D("0.1"))
    bar = _bar("1000", "1100", "900", "1000", "100")
    # 5% participation: 10 + 2 * 5 = 20 bps
    assert candle_taker_price(bar, True, D("5"), cfg, D("0.01")) == D("1002.00")
    assert candle_taker_price(bar, False, D("5"), cfg, D("0.01")) == D("998.00")


def test_candle_taker_price_is_clamped_inside_the_bar() -> None:
    cfg = FillConfig(slippage_bps=D(100))
    bar = _bar("1000", "1003", "999", "1001", "100")
    assert candle_taker_price(bar, True, D("1"), cfg, D("1")) == D("1003")
    assert candle_taker_price(bar, False, D("1"), cfg, D("1")) == D("999")


def test_candle_taker_price_rounds_to_the_tick_against_us() -> None:
    cfg = FillConfig(slippage_bps=D(1), impact_bps_per_pct=D(0))
    bar = _bar("1000", "2000", "500", "1000", "100")
    assert candle_taker_price(bar, True, D("1"), cfg, D("1")) == D("1001")  # 1000.1 up
    assert candle_taker_price(bar, False, D("1"), cfg, D("1")) == D("999")  # 999.9 down


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slippage_bps": D(-1)},
        {"impact_bps_per_pct": D(5000)},
        {"max_participation": D(0)},
        {"max_participation": D("1.5")},
        {"stale_after_ms": 0},
    ],
)
def test_fill_config_refuses_values_out_of_range(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="fill_model"):
        FillConfig(**kwargs)  # type: ignore[arg-type]

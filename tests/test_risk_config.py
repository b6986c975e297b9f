"""Risk config: defaults, ranges, hard ceilings and the explicit override."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from test_risk_support import T0, Rig, buy
from tradeguard.clock import SimulatedClock
from tradeguard.model import ConfigError
from tradeguard.model.events import Event
from tradeguard.risk import (
    CEILING_OVERRIDE_PHRASE,
    HARD_CEILINGS,
    MemoryStateStore,
    RiskConfig,
    RiskEngine,
)


def test_defaults_match_the_documented_limits() -> None:
    c = RiskConfig()
    assert c.max_order_notional_usd == Decimal(100)
    assert c.max_order_notional_pct == Decimal(20)
    assert c.min_order_notional_usd == Decimal(10)
    assert c.max_portfolio_heat_pct == Decimal(30)
    assert c.max_open_positions == 5
    assert c.daily_loss_limit_pct == Decimal(5)
    assert c.min_account_balance_usd == Decimal(100)
    assert c.stable_reserve_pct == Decimal(20)
    assert c.price_band_pct == Decimal(2)
    assert c.arb_min_profit_after_fees_pct == Decimal("0.5")
    assert c.arb_max_cycle_length == 5
    assert c.max_consecutive_losses == 3
    assert c.max_drawdown_pct == Decimal(10)
    assert c.venue_error_threshold == 5 and c.venue_half_open_after_s == 300
    assert c.unset_limits() == [] and not c.is_unlimited()


def test_out_of_range_value_names_key_value_and_range() -> None:
    with pytest.raises(ValidationError) as err:
        RiskConfig(max_drawdown_pct=Decimal(0))
    text = str(err.value)
    assert "max_drawdown_pct" in text and "greater than 0" in text


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_notional"):
        RiskConfig.model_validate({"max_notional": 5})


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [
        ("max_order_notional_usd", "9999.99", False),
        ("max_order_notional_usd", "10000", False),
        ("max_order_notional_usd", "10000.01", True),
        ("daily_loss_limit_pct", "25", False),
        ("daily_loss_limit_pct", "25.01", True),
        ("max_drawdown_pct", "50", False),
        ("max_drawdown_pct", "50.01", True),
    ],
)
def test_hard_ceilings_refuse_higher_values(key: str, value: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ConfigError) as err:
            RiskConfig.model_validate({key: value})
        msg = str(err.value)
        assert f"risk.{key}={value}" in msg and str(HARD_CEILINGS[key]) in msg
        assert CEILING_OVERRIDE_PHRASE in msg
    else:
        assert RiskConfig.model_validate({key: value})


def test_override_needs_the_exact_phrase_and_is_audited() -> None:
    with pytest.raises(ConfigError):
        RiskConfig(max_order_notional_usd=Decimal(20_000), ceiling_override_ack="yes")
    c = RiskConfig(
        max_order_notional_usd=Decimal(20_000), ceiling_override_ack=CEILING_OVERRIDE_PHRASE
    )
    assert c.ceiling_overrides() == [("max_order_notional_usd", Decimal(20_000), Decimal(10_000))]
    events: list[Event] = []
    RiskEngine(c, SimulatedClock(T0), MemoryStateStore(), events.append)
    assert events[0].kind == "risk.ceiling_override"
    assert events[0].data["overrides"][0]["key"] == "max_order_notional_usd"


def test_raising_a_ceiling_by_assignment_is_refused_too() -> None:
    c = RiskConfig()
    with pytest.raises(ConfigError):
        c.max_drawdown_pct = Decimal(60)


def test_unset_limits_are_listed_for_live_mode() -> None:
    c = RiskConfig(max_trades_per_day=None, weekly_loss_limit_usd=None)
    assert c.unset_limits() == ["max_trades_per_day", "weekly_loss_limit_usd"]
    assert c.is_unlimited()


def test_engine_without_trade_limit_never_denies_on_count() -> None:
    rig = Rig(max_trades_per_day=None, max_orders_per_s=Decimal(50))
    assert all(rig.check(buy("0.5")).approved for _ in range(50))

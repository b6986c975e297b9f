"""A venue's per-transaction value cap (a DEX wallet's max_tx_value) is a risk rule."""

from __future__ import annotations

from dataclasses import replace

from test_risk_support import T0, D, Rig, buy, sell


def _capped(cap: str) -> Rig:
    rig = Rig(max_order_notional_usd=D(10_000))
    key = ("paper", "BTC/USDT")
    rig.market.instruments[key] = replace(rig.market.instruments[key], max_notional=D(cap))
    return rig


def test_an_order_worth_more_than_the_venues_tx_cap_is_denied_with_the_cap() -> None:
    rig = _capped("50")
    assert rig.check(buy("0.5")).approved  # 50.00 = the cap
    rig.at(T0 + 1000)
    d = rig.check(buy("0.5001"))
    assert (d.approved, d.code, d.rule) == (False, "TX_VALUE_CAP", "instrument.max_notional")
    assert d.value == D("50.0100") and d.limit == D(50)
    assert "max_tx_value=50.00 USDT" in d.reason and "multi-sig" in d.reason


def test_a_market_order_is_valued_at_its_bound_and_a_sell_at_least_at_the_mid() -> None:
    rig = _capped("50")
    d = rig.check(buy("0.5", price=None))  # bound = 100 plus the slippage cap > 50
    assert d.code == "TX_VALUE_CAP" and d.value is not None and d.value > D(50)
    rig.at(T0 + 1000)
    assert rig.check(sell("0.5", price=None)).approved  # valued at the mid, 50.00
    rig.at(T0 + 2000)
    assert rig.check(sell("0.5001", price=None)).code == "TX_VALUE_CAP"


def test_no_cap_means_no_denial() -> None:
    rig = _capped("0")
    assert rig.check(buy("15")).approved  # 1,500 with the cap off

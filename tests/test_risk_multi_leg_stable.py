"""A later leg's dry run counts the stablecoins the plan's earlier legs spend: a second leg
that the stable reserve would refuse once the first has filled is refused before the first
is sent (else the first leg is left held or unwound at a loss)."""

from __future__ import annotations

from decimal import Decimal as D

from test_risk_support import T0, Rig, buy


def test_a_dry_run_counts_the_stablecoins_the_legs_ahead_spend() -> None:
    rig = Rig(cash=D(1000), max_order_notional_usd=D(1000))
    rig.market.set("ETH/USDT", D(100), T0)
    rig.market.set("SOL/USDT", D(100), T0)
    rig.book.hold("ETH/USDT", D(5), D(100))  # capital held: 500 USDT left, equity 1000
    eng = rig.engine
    first, second = buy("1.8", symbol="BTC/USDT"), buy("1.8", symbol="SOL/USDT")
    assert eng.check(first, rig.book, rig.market, dry_run=True).approved
    spent = D(180)  # the first leg's cash
    ahead = eng.check(second, rig.book, rig.market, dry_run=True, ahead=1, ahead_stable_usd=spent)
    # what the second leg meets once the first has filled: 320 - 180 USDT is below the
    # 20 % reserve (200 USDT)
    rig.book.fill(first, D(100), T0)
    sent = eng.check(second, rig.book, rig.market)
    assert sent.code == "STABLE_RESERVE"
    assert ahead.code == "STABLE_RESERVE", "the dry run passed a leg the send then refuses"
    assert "stablecoins would fall to 140.00 USD" in ahead.reason
    assert eng.trades_today == 0  # dry runs count nothing

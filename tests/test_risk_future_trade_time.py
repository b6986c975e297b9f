"""A trade dated far past now (a venue's clock error, or hostile data) must not move the
take-back window's clock: every loss kept for taking back stays kept, and the trade is counted
at now plus a small tolerance, with one warning naming it and the time it claimed."""

from __future__ import annotations

import logging

from test_risk_support import T0, D, Rig
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.model.position import ClosedTrade
from tradeguard.risk.loss_history import TAKE_BACK_MS
from tradeguard.risk.observers import FUTURE_TRADE_MS

FAR = T0 + 30 * TAKE_BACK_MS  # months ahead of the node's clock


def test_a_far_future_cycle_lets_go_of_no_kept_loss(caplog) -> None:
    rig = Rig(max_consecutive_losses=1000, cooldown_after_loss_s=60)
    for n in (1, 2):
        rig.at(T0 + n * 1000)
        rig.engine.observe_cycle("arb", ("M1",), D("-1"), T0 + n * 1000, n)
    rig.at(T0 + 3000)
    with caplog.at_level(logging.WARNING, logger="tradeguard.risk.observers"):
        rig.engine.observe_cycle("arb", ("M2",), D("-1"), FAR, 3)
    kept = [x.key for x in rig.engine.losses.losses]
    assert kept == ["cycle:1", "cycle:2", "cycle:3"]
    # counted at now plus the tolerance, not months ahead: its cooldown runs out as any does
    assert rig.engine.losses.find("arb", "cycle:3").ts == T0 + 3000 + FUTURE_TRADE_MS
    assert rig.engine.cooldowns[("arb", "M2")] == T0 + 3000 + FUTURE_TRADE_MS + 60_000
    (told,) = [r.getMessage() for r in caplog.records if "cycle:3" in r.getMessage()]
    assert str(FAR) in told and "ahead" in told
    assert rig.engine.take_back_cycle("arb", 1, T0 + 4000)
    assert rig.engine.consecutive_losses == 2
    # and across a restart
    assert rig.restart().take_back_cycle("arb", 2, T0 + 5000)


def test_a_far_future_winning_fill_keeps_the_losses_before_it(caplog) -> None:
    rig = Rig(max_consecutive_losses=1000, cooldown_after_loss_s=600, cooldown_after_trade_s=10)
    rig.engine.observe_cycle("arb", ("M1",), D("-1"), T0, 1)
    fill = Fill("pm", "M2", "c1", "v1", "t-far", Side.SELL, D("0.6"), D(1), D(0), "USD",
                LiquiditySide.TAKER, FAR)  # fmt: skip
    closed = ClosedTrade("pm", "M2", "arb", Side.BUY, D("0.5"), D("0.6"), D(1), D("0.1"),
                         D(20), T0, FAR, "t-far")  # fmt: skip
    rig.at(T0 + 1000)
    with caplog.at_level(logging.WARNING, logger="tradeguard.risk.observers"):
        rig.engine.observe_fill(fill, closed, "arb")
    # out of the streak, still cooling M1: kept (a clock months ahead would have cooled it)
    assert [x.key for x in rig.engine.losses.losses] == ["cycle:1"]
    assert rig.engine.cooldowns[("arb", "M2")] == T0 + 1000 + FUTURE_TRADE_MS + 10_000
    assert any("t-far" in r.getMessage() for r in caplog.records)

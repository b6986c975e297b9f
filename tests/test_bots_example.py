"""examples/bots_sandbox.toml against the demo account it trades (`tradeguard sandbox`).

The demo account holds 2 BTC and 50 ETH besides USDT, and the demo markets move by a random walk
every second; the example's account-wide loss limits must leave room for an hour of that walk,
or the node halts on the account's own holdings before a bot has traded.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

from tradeguard.cli.sandbox import _DEMO_MARKETS, DEMO_BALANCES
from tradeguard.config import load_config
from tradeguard.sandbox.config import DEMO_WALK_MS, SandboxConfig

ROOT = Path(__file__).resolve().parent.parent


def _hour_move_usd() -> Decimal:
    """Three standard deviations of the demo account's value over an hour of the walk."""
    mids = {}
    for m in _DEMO_MARKETS:
        if m["quote"] == "USDT":
            mids[m["base"]] = (Decimal(m["bids"][0][0]) + Decimal(m["asks"][0][0])) / 2
    held = sum(DEMO_BALANCES[a] * mids[a] for a in DEMO_BALANCES if a != "USDT")
    step = SandboxConfig().walk_step_pct / 100
    steps = Decimal(3_600_000 // DEMO_WALK_MS)
    return 3 * held * step * Decimal(math.sqrt(steps))


def test_the_bots_example_limits_survive_an_hour_of_the_demo_market():
    risk = load_config(ROOT / "examples" / "bots_sandbox.toml", environ={}).risk
    equity = sum(
        n * next((Decimal(m["bids"][0][0]) for m in _DEMO_MARKETS if m["base"] == a), Decimal(1))
        for a, n in DEMO_BALANCES.items()
    )
    move = _hour_move_usd()
    assert move > 1000  # the walk does move the demo account's value by thousands an hour
    assert risk.daily_loss_limit_usd is not None and risk.daily_loss_limit_usd > move
    assert equity * risk.daily_loss_limit_pct / 100 > move
    assert risk.weekly_loss_limit_usd is not None and risk.weekly_loss_limit_usd > move
    assert risk.weekly_loss_limit_pct is None or equity * risk.weekly_loss_limit_pct / 100 > move
    assert equity * risk.max_drawdown_pct / 100 > move

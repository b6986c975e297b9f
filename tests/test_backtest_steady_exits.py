"""The steady loop (backtest/steady.py) leaves its fast path where the general loop has work a
steady candle would skip: a bot's exit rule on the candle's symbol. A backtest with `[[bots]]`
whose exit plans must fire on candles of a held position comes out as the general loop's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from test_backtest_steady import _both, _figures
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow
from tradeguard.config import load_config

# Buys now and then and never sells: only its exit plan (a bot's server-side exit rules, added
# once the position is seen) closes the position, on the candle whose close crosses the rule.
HOLDER = """
from decimal import Decimal
from tradeguard.bots.exits import ExitPlan
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy

RULES = {}


class Holder(Strategy):
    def on_candle(self, candle):
        ctx = self.ctx
        exits = ctx._node.bot_exits
        pos = ctx.position(self.id, self.venue, self.symbol)
        key = f"{self.venue}|{self.symbol}|{self.id}"
        if pos.quantity > 0 and key not in exits.plans:
            exits.add(ExitPlan.parse(self.id, self.venue, self.symbol, RULES, None))
        elif pos.quantity == 0 and candle.ts // 300_000 % 23 == 0:
            amount = (Decimal("0.01") / candle.close).quantize(Decimal("0.001"))
            self.emit(OrderIntent(strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                                  side=Side.BUY, amount=amount, type=OrderType.MARKET,
                                  signal={"reason": "enter"}))
"""

BOT = """
[[bots]]
name = "alpha"
max_order_usd = "50"
max_position_usd = "100"
daily_loss_usd = "20"
symbols = ["ETH/BTC"]
"""


def _bots_config(tmp_path: Path, kind: str) -> Any:
    """The ETH and ADA backtest, every strategy of `kind`, with a bot: its exits run."""
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    path.write_text(path.read_text(encoding="utf-8") + BOT, encoding="utf-8")
    cfg = load_config(path)
    for sc in cfg.strategies:
        sc.kind, sc.params = kind, {}
    return cfg


@pytest.mark.parametrize(
    ("rules", "reasons"),
    [
        ({"stop_loss_pct": "0.6", "take_profit_pct": "0.6"}, {"stop_loss", "take_profit"}),
        ({"trailing_activation_pct": "0.3", "trailing_distance_pct": "0.4"}, {"trailing_stop"}),
    ],
)
def test_bots_exit_rules_fire_on_the_same_candles_in_steady_stretches(
    tmp_path, data_dir, monkeypatch, rules, reasons
):
    """A held position's exit rule fires on a candle the steady loop would otherwise run
    through (no order open, none queued): it hands that candle's close to the exit rules as
    the general loop does, so the exits, trades, curve and metrics are the same."""
    import sys

    from tradeguard.bots import exits as exits_module
    from tradeguard.strategies.loader import load_strategy_class

    fired: list[str] = []
    real_evaluate = exits_module.evaluate

    def noting(*args: Any) -> str | None:
        reason = real_evaluate(*args)
        if reason is not None:
            fired.append(reason)
        return reason

    monkeypatch.setattr(exits_module, "evaluate", noting)

    path = tmp_path / "holder.py"
    path.write_text(HOLDER, encoding="utf-8")
    kind = f"{path}:Holder"
    mod = sys.modules[load_strategy_class(kind).__module__]  # the nodes load this one
    monkeypatch.setattr(mod, "RULES", rules)
    cfg = _bots_config(tmp_path, kind)
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-16"), commit_every=997, skip_flat=False
    )
    one, steady, _, ran = _both(cfg, tmp_path, window, monkeypatch)
    assert set(fired) == reasons and len(one.trades) > 5
    assert {t.exit_reason for t in one.trades} == {"signal"}  # the exits' orders closed them
    assert ran > one.summary.events // 3  # the steady loop really ran them
    assert _figures(steady) == _figures(one)

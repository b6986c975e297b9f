"""Equity halts in the replay's steady stretches (backtest/steady.py): a drawdown or daily-loss
halt that trips on a candle of a steady stretch ends the stretch there, as trading is no longer
ACTIVE; the halt, its figures, the trades and the curve are the general loop's."""

from __future__ import annotations

import pytest

from backtest_support import write_config
from test_backtest_steady import RECORDER, _both, _figures
from test_replay_equity_halts import _breakers
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow
from tradeguard.config import load_config


@pytest.mark.parametrize(
    ("key", "limit", "breaker"),
    [("max_drawdown_pct", "0.02", "drawdown"), ("daily_loss_limit_pct", "0.02", "daily_loss")],
)
def test_a_halt_in_a_steady_stretch_trips_and_holds_as_in_the_general_loop(
    tmp_path, data_dir, monkeypatch, key, limit, breaker
):
    strategy = tmp_path / "recorder.py"
    strategy.write_text(RECORDER, encoding="utf-8")
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    text = path.read_text(encoding="utf-8")
    line = f'{key} = "100"'
    assert line in text
    path.write_text(text.replace(line, f'{key} = "{limit}"'), encoding="utf-8")
    cfg = load_config(path)
    for sc in cfg.strategies:
        sc.kind, sc.params = f"{strategy}:Recorder", {}
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-18"), commit_every=997, skip_flat=False
    )
    one, steady, progress, ran = _both(cfg, tmp_path, window, monkeypatch)
    breakers = _breakers(tmp_path / "one")
    tripped = [b[2]["breaker"] for b in breakers if b[1] == "risk.breaker_tripped"]
    assert tripped[:1] == [breaker], breakers
    assert one.summary.trading_state != "active"
    assert ran > 100  # the steady loop ran the candles before the halt
    assert _breakers(tmp_path / "steady") == breakers
    assert steady.summary.trading_state == one.summary.trading_state
    assert _figures(steady) == _figures(one)
    assert progress[1] == progress[0]


# Buys ETH once and holds it: no intent after its entry, so only the halt can end a steady
# stretch; the ADA candles are of a symbol not held.
HOLD_ONCE = """
from decimal import Decimal
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class HoldOnce(Strategy):
    bought = False

    def on_candle(self, candle):
        if self.symbol == "ETH/BTC" and not self.bought and candle.ts // 300_000 % 23 == 0:
            self.bought = True
            amount = (Decimal("0.03") / candle.close).quantize(Decimal("0.001"))
            self.emit(OrderIntent(strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                                  side=Side.BUY, amount=amount, type=OrderType.MARKET,
                                  signal={"reason": "enter"}))
"""


@pytest.mark.parametrize("on_loss_halt", ["halt", "reduce", "flatten"])
def test_a_loss_halt_of_a_held_position_ends_the_steady_stretch_on_its_candle(
    tmp_path, data_dir, monkeypatch, on_loss_halt
):
    """The positions held, nothing queued: the drawdown halt (and the flatten it may ask for)
    trips on a candle in a steady stretch; from there the general loop runs the candles as it
    does while trading is not ACTIVE, and the figures are its own."""
    strategy = tmp_path / "hold_once.py"
    strategy.write_text(HOLD_ONCE, encoding="utf-8")
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    text = path.read_text(encoding="utf-8")
    line = 'max_drawdown_pct = "100"'
    assert line in text
    limit = f'max_drawdown_pct = "0.3"\non_loss_halt = "{on_loss_halt}"'
    path.write_text(text.replace(line, limit), encoding="utf-8")
    cfg = load_config(path)
    for sc in cfg.strategies:
        sc.kind, sc.params = f"{strategy}:HoldOnce", {}
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-18"), commit_every=997, skip_flat=False
    )
    one, steady, progress, ran = _both(cfg, tmp_path, window, monkeypatch)
    breakers = _breakers(tmp_path / "one")
    tripped = [b[2]["breaker"] for b in breakers if b[1] == "risk.breaker_tripped"]
    assert tripped[:1] == ["drawdown"], breakers
    assert ran > 100
    assert _breakers(tmp_path / "steady") == breakers
    assert steady.summary.trading_state == one.summary.trading_state != "active"
    assert _figures(steady) == _figures(one)
    assert progress[1] == progress[0]

"""A strategy whose `on_row` acts where its declared exits say it cannot (a time stop kept by a
counter, a stop on the candle's low) changes the backtest's trades once its held candles are
skipped, silently. `BacktestWindow(check_exits=True)` delivers those candles and refuses such a
strategy, naming it, the candle and its declaration; a strategy that keeps its promise passes."""

from __future__ import annotations

import dataclasses

import pytest

from backtest_support import STRATEGY_FILE, write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError
from tradeguard.strategies.exits import ExitRules

VARIANTS = f'''
from decimal import Decimal
import importlib.util

from tradeguard.model.enums import Side
from tradeguard.strategies.exits import ExitRules

_spec = importlib.util.spec_from_file_location("ema_cross_base", r"{STRATEGY_FILE}")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)


class TimeStop(_mod.EmaCross):
    """Also sells after six candles held: a counter the exit declaration does not cover."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.held = 0

    def on_row(self, candle, row):
        ctx = self.ctx
        if ctx is None or self.muted or ctx.open_order_count(self.id, self.symbol):
            return
        pos = ctx.position(self.id, self.venue, self.symbol)
        self.held = self.held + 1 if pos.quantity > 0 else 0
        if self.held >= 6:
            self._order(Side.SELL, pos.quantity, "time_stop", candle)
            return
        super().on_row(candle, row)


class LowStop(_mod.EmaCross):
    """Stops out on the candle's low, where the declaration speaks of the close."""

    def on_row(self, candle, row):
        ctx = self.ctx
        if ctx is None or self.muted or ctx.open_order_count(self.id, self.symbol):
            return
        pos = ctx.position(self.id, self.venue, self.symbol)
        stop = pos.avg_entry * (1 - self.exit_rules.stop_loss_pct / Decimal(100))
        if pos.quantity > 0 and candle.low <= stop:
            self._order(Side.SELL, pos.quantity, "stop_on_low", candle)
            return
        super().on_row(candle, row)


class FloatRules(_mod.EmaCross):
    """Its stop and take-profit as floats: ExitTracker takes them as they are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.exit_rules = ExitRules(stop_loss_pct=2.0, take_profit_pct=5.0)
'''

WINDOW = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-16"))


def _config_path(tmp_path, kind: str | None):
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    if kind is not None:
        variants = tmp_path / "variants.py"
        variants.write_text(VARIANTS, encoding="utf-8")
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(f"{STRATEGY_FILE}:EmaCross", f"{variants}:{kind}"))
    return path


def _config(tmp_path, kind: str | None):
    return load_config(_config_path(tmp_path, kind))


def _trades(result):
    return [dataclasses.astuple(t) for t in result.trades]


@pytest.mark.parametrize(
    ("kind", "reason"), [("TimeStop", "time_stop"), ("LowStop", "stop_on_low")]
)
def test_an_exit_outside_the_declaration_is_refused_with_the_candle(
    tmp_path, data_dir, kind, reason
):
    cfg = _config(tmp_path, kind)
    every = run_backtest(cfg, tmp_path / "every", dataclasses.replace(WINDOW, skip_flat=False))
    skipped = run_backtest(cfg, tmp_path / "skipped", WINDOW)
    # what the check is for: skipping the held candles silently changed the trades
    assert any(t.exit_reason == reason for t in every.trades)
    assert _trades(skipped) != _trades(every)
    with pytest.raises(ConfigError) as err:
        run_backtest(cfg, tmp_path / "checked", dataclasses.replace(WINDOW, check_exits=True))
    text = str(err.value)
    assert "strategy ema_eth" in text or "strategy ema_ada" in text
    assert "exit_columns ('cross_down',)" in text and "2018-01-1" in text
    assert "stop_loss_pct=2" in text and "exit_columns = None" in text


def test_the_cli_check_names_the_candle_in_one_line_with_exit_code_2(tmp_path, capsys, data_dir):
    from tradeguard.cli.main import main

    cfg = _config_path(tmp_path, "TimeStop")
    window = ["--from", "2018-01-12", "--to", "2018-01-16", "--config", str(cfg)]
    assert main(["backtest", *window, "--out", str(tmp_path / "a"), "--json"]) == 0
    capsys.readouterr()
    code = main(["backtest", *window, "--out", str(tmp_path / "b"), "--check-exits"])
    err = capsys.readouterr().err
    assert code == 2
    assert "on_row sent a sell" in err and "(time_stop)" in err and "Traceback" not in err


def test_a_strategy_keeping_its_promise_passes_the_check_unchanged(tmp_path, data_dir):
    cfg = _config(tmp_path, None)
    every = run_backtest(cfg, tmp_path / "every", dataclasses.replace(WINDOW, skip_flat=False))
    checked = run_backtest(cfg, tmp_path / "checked", dataclasses.replace(WINDOW, check_exits=True))
    skipped = run_backtest(cfg, tmp_path / "skipped", WINDOW)
    assert len(every.trades) > 20
    assert _trades(checked) == _trades(every) == _trades(skipped)
    assert checked.curve == every.curve


WORDS = f'''
import importlib.util

import numpy as np

_spec = importlib.util.spec_from_file_location("ema_cross_base", r"{STRATEGY_FILE}")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)


class Words(_mod.EmaCross):
    """Declares an exit column of words ("exit" or "")."""

    exit_columns = ("action",)

    def prepare(self, frame):
        frame = super().prepare(frame)
        frame["action"] = np.where(frame["cross_down"] > 0, "exit", "")
        return frame
'''


def test_a_declared_exit_column_of_words_is_refused_by_name_not_with_a_traceback(
    tmp_path, data_dir
):
    path = write_config(tmp_path, pairs=("ETH",))
    (tmp_path / "words.py").write_text(WORDS, encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"{STRATEGY_FILE}:EmaCross", f"{tmp_path / 'words.py'}:Words"))
    with pytest.raises(ConfigError) as err:
        run_backtest(load_config(path), tmp_path / "run", WINDOW)
    assert str(err.value) == (
        "strategy ema_eth: exit_columns names column 'action', whose row 0 holds '': a signal "
        "column must hold numbers or booleans (0 or False: no signal)"
    )


def test_exit_rules_given_as_floats_skip_held_candles_as_decimals_do(tmp_path, data_dir):
    floats = _config(tmp_path, "FloatRules")
    every = run_backtest(floats, tmp_path / "every", dataclasses.replace(WINDOW, skip_flat=False))
    skipped = run_backtest(floats, tmp_path / "skipped", WINDOW)
    (tmp_path / "d").mkdir()
    decimals = run_backtest(_config(tmp_path / "d", None), tmp_path / "decimals", WINDOW)
    assert len(every.trades) > 20
    assert _trades(skipped) == _trades(every) == _trades(decimals)
    assert skipped.curve == every.curve


def test_a_stop_of_nan_is_refused_by_name(data_dir):
    from decimal import Decimal

    from tradeguard.marketdata.loaders import load_candles
    from tradeguard.strategies.loader import load_strategy_class

    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")[:2000]
    strat = load_strategy_class(f"{STRATEGY_FILE}:EmaCross")("s", "paper", "ETH/BTC", {})
    strat.exit_rules = ExitRules(stop_loss_pct=Decimal("NaN"), take_profit_pct=Decimal(5))
    strat.precompute(candles)
    with pytest.raises(ConfigError, match=r"strategy s: exit_rules.stop_loss_pct='NaN' is not a"):
        strat.holds_quietly(candles[1000], candles[1000].close, True)

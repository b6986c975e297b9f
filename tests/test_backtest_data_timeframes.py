"""`[[data]] timeframes`: longer bars of a data file handed to its strategies, in a backtest and
in a paper replay, and a bad entry refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest_support import write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.marketdata.candles import aggregate
from tradeguard.model.errors import ConfigError

RECORDER = """
from tradeguard.strategies.base import Strategy

BARS = []


class Recorder(Strategy):
    def on_bar(self, interval_s, bar):
        BARS.append((self.symbol, interval_s, bar))
"""


def _config(tmp_path: Path, timeframes: str, mode: str = "backtest") -> Path:
    (tmp_path / "recorder.py").write_text(RECORDER, encoding="utf-8")
    path = write_config(tmp_path, pairs=("ETH",), mode=mode)
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        'symbol = "ETH/BTC"\nvenue = "paper"\n',
        f'symbol = "ETH/BTC"\nvenue = "paper"\ntimeframes = {timeframes}\n',
        1,
    )
    import re

    text = re.sub(
        r'kind = "[^"]*ema_cross.py:EmaCross"',
        f'kind = "{tmp_path / "recorder.py"}:Recorder"',
        text,
    )
    path.write_text(text, encoding="utf-8")
    return path  # fmt: skip


def _recorded(tmp_path: Path, name: str = "recorder.py", attr: str = "BARS") -> list:
    """The bars the strategy file written under this test's own `tmp_path` recorded: earlier tests
    leave their own recorder modules loaded, each with its own list."""
    import sys

    path = str((tmp_path / name).resolve())
    return next(
        getattr(m, attr)
        for n, m in sys.modules.items()
        if n.startswith("tradeguard_user_") and getattr(m, "__file__", None) == path
    )


def test_a_backtest_hands_each_data_timeframe_to_the_symbols_strategies(tmp_path, data_dir):
    cfg = load_config(_config(tmp_path, '["15m", "1h"]'))
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-14"))
    result = run_backtest(cfg, tmp_path / "run", window)
    candles = result.candles["ETH/BTC"]
    bars = _recorded(tmp_path)
    for interval in (900, 3600):
        got = [b for s, i, b in bars if i == interval and s == "ETH/BTC"]
        # every completed bar of the window, the same as aggregating the whole series at once
        assert got == aggregate(candles, interval)[: len(got)]
        assert len(got) == 2 * 86_400 // interval
    bars.clear()


def test_a_timeframe_shorter_than_the_data_is_refused(tmp_path, data_dir):
    cfg = load_config(_config(tmp_path, '["1m"]'))
    with pytest.raises(ConfigError, match=r"timeframes '1m' \(60s\) is not a multiple of the 300s"):
        run_backtest(cfg, tmp_path / "run", BacktestWindow(parse_date("2018-01-12"),
                                                           parse_date("2018-01-13")))  # fmt: skip


def test_an_unknown_timeframe_is_named_in_the_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, '["7m"]'))
    assert "timeframes" in str(err.value) and "'7m'" in str(err.value) and "1h" in str(err.value)

"""A vectorised strategy may ask for pandas frames: same signals whole-series and rolling."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from tradeguard.backtest.vector import FrameStrategy, Row
from tradeguard.marketdata.loaders import load_candles
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle

pd = pytest.importorskip("pandas")


class _PandasEma(FrameStrategy):
    window = 400
    frame_type = "pandas"

    def __init__(self) -> None:
        super().__init__("p", "paper", "ETH/BTC", {})
        self.rows: list[dict[str, Any]] = []
        self.frames: list[Any] = []

    def prepare(self, frame: Any) -> Any:
        self.frames.append(frame)
        close = frame["close"]
        fast = close.ewm(span=12, adjust=False).mean()
        slow = close.ewm(span=26, adjust=False).mean()
        diff = fast - slow
        prev = diff.shift(1).fillna(0.0)
        frame["diff"] = diff
        frame["cross_up"] = ((prev <= 0) & (diff > 0)).astype(float)
        frame["cross_down"] = ((prev >= 0) & (diff < 0)).astype(float)
        return frame

    def on_row(self, candle: Candle, row: Row) -> None:
        self.rows.append(row.to_dict())


def test_a_pandas_strategy_gets_a_dataframe_with_a_time_index(data_dir):
    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")[:50]
    strat = _PandasEma()
    strat.precompute(candles)
    frame = strat.frames[0]
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:5]) == ["open", "high", "low", "close", "volume"]
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp(candles[0].ts, unit="ms", tz="UTC")
    assert frame["close"].iloc[-1] == float(candles[-1].close)


def test_pandas_signals_match_between_whole_series_and_rolling_window(data_dir):
    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")[:1500]
    whole, rolling = _PandasEma(), _PandasEma()
    whole.precompute(candles)
    for c in candles:
        whole.on_candle(c)
        rolling.on_candle(c)
    assert len(whole.rows) == len(rolling.rows) == len(candles)
    assert sum(r["cross_up"] for r in whole.rows) > 10
    for a, b in zip(whole.rows, rolling.rows, strict=True):
        assert (a["cross_up"], a["cross_down"]) == (b["cross_up"], b["cross_down"])
        assert a["diff"] == pytest.approx(b["diff"], rel=1e-9, abs=1e-15)
        assert a["ts"] == b["ts"]


def test_pandas_and_numpy_versions_of_one_strategy_agree(data_dir):
    from tradeguard.backtest.vector import ema

    class _NumpyEma(FrameStrategy):
        def prepare(self, frame: Any) -> Any:
            frame["diff"] = ema(frame["close"], 12) - ema(frame["close"], 26)
            return frame

    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")[:800]
    a, b = _PandasEma(), _NumpyEma("n", "paper", "ETH/BTC", {})
    a.precompute(candles)
    b.precompute(candles)
    np.testing.assert_allclose(a._pre["diff"], b._pre["diff"], rtol=1e-9, atol=1e-15)


def test_a_pandas_strategy_without_pandas_is_refused_with_advice(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ConfigError, match=r"needs pandas.*tradeguard\[frames\]"):
        _PandasEma()


def test_an_unknown_frame_type_is_refused():
    class _Polars(FrameStrategy):
        frame_type = "polars"

    with pytest.raises(ConfigError, match="frame_type 'polars' is not one of numpy, pandas"):
        _Polars("x", "paper", "ETH/BTC", {})


def test_prepare_must_return_a_frame_with_the_time_index(data_dir):
    class _Bad(_PandasEma):
        def prepare(self, frame: Any) -> Any:
            return frame.reset_index()

    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")[:5]
    with pytest.raises(ConfigError, match="must return the DataFrame"):
        _Bad().precompute(candles)

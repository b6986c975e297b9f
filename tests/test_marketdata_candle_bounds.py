"""A candle file's figure beyond 1e18 (a high of `1e400`, finite to Decimal, infinite as a
float) is refused naming the row, column, value and limit: the loader took it, and every later
limit sell "filled" on that bar while charts and float figures read infinity."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import load_candles

HEADER = "timestamp,open,high,low,close,volume\n"
ROWS = [
    "2022-01-01 00:00:00,100,101,99,100,5",
    "2022-01-01 00:01:00,100,{high},99,100,{volume}",
]


def _csv(tmp_path: Path, high: str = "101", volume: str = "5") -> Path:
    path = tmp_path / "BTC-USDT_1m.csv"
    path.write_text(HEADER + "\n".join(ROWS).format(high=high, volume=volume) + "\n")
    return path


def _kline(tmp_path: Path, high: str) -> Path:
    path = tmp_path / "BTCUSDT-1m.csv"
    rows = [f"{t},100,{h},99,100,5,{t + 59_999},500,10,2,200,0"
            for t, h in ((1_640_995_200_000, "101"), (1_640_995_260_000, high))]  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(("high", "volume", "column", "value"), [
    ("1e400", "5", "high", "1e400"),
    ("1000000000000000001", "5", "high", "1000000000000000001"),
    ("101", "1e400", "volume", "1e400"),
])  # fmt: skip
def test_a_figure_beyond_the_limit_is_refused_naming_it(tmp_path, high, volume, column, value):
    with pytest.raises(DataFileError) as caught:
        load_candles(_csv(tmp_path, high, volume))
    err = caught.value
    assert (err.row, err.column, err.value) == (3, column, value)
    assert "1e18" in str(err) or "1000000000000000000" in str(err), str(err)


def test_a_kline_high_beyond_the_limit_is_refused_naming_it(tmp_path):
    with pytest.raises(DataFileError) as caught:
        load_candles(_kline(tmp_path, "1e400"))
    assert (caught.value.row, caught.value.column, caught.value.value) == (2, "high", "1e400")


def test_figures_up_to_the_limit_load(tmp_path):
    bars = load_candles(_csv(tmp_path, "1e18", "1e18"))
    assert bars[1].high == 10**18 and bars[1].volume == 10**16  # quote volume / close


def test_a_quote_volume_many_times_the_close_loads_without_a_traceback(tmp_path):
    # 1e12 of quote at a close of 1e-10 is 1e22 of base: to 8 places that is 31 digits, more
    # than Decimal's 28, and the loader ended in decimal.InvalidOperation
    path = tmp_path / "PEPE-BTC_1m.csv"
    path.write_text(HEADER + "2022-01-01 00:00:00,1e-10,1e-10,1e-10,1e-10,1e12\n")
    [bar] = load_candles(path)
    assert bar.volume == Decimal("1e22")

"""A Binance kline row whose close time is not after its open time is refused naming its row,
column, value and limit. Taken, it made a bar of a negative (or no) span: it closed before it
opened, so the paper replay (merging its files lazily) and a backtest (sorting them) replayed
the file in two different orders, and the replay clock went back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.marketdata.candle_files import MAX_KLINE_SPAN_S
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import load_candles

T = 1_640_995_200_000


def _kline(tmp_path: Path, close_time: int) -> Path:
    path = tmp_path / "BTCUSDT-1m.csv"
    times = ((T, T + 59_999), (T + 60_000, close_time), (T + 120_000, T + 179_999))
    rows = [f"{t},100,101,99,100,5,{c},500,10,2,200,0" for t, c in times]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "close_time",
    [T + 60_000 - 600_001, T + 60_000 - 1, T + 60_000 + 400],
    ids=["ten minutes before the open", "just before the open", "under a second after"],
)
def test_a_kline_closing_before_it_opens_is_refused_naming_it(tmp_path, close_time) -> None:
    with pytest.raises(DataFileError) as caught:
        load_candles(_kline(tmp_path, close_time))
    err = caught.value
    assert (err.row, err.column, err.value) == (2, "close_time", str(close_time))
    assert "1 s after the open time" in str(err), str(err)


def test_a_kline_closing_a_second_after_it_opens_loads(tmp_path) -> None:
    bars = load_candles(_kline(tmp_path, T + 60_000 + 999))
    assert [b.interval_s for b in bars] == [60, 1, 60]


@pytest.mark.parametrize(
    "close_time", [T + 60_000 + 10 * 365 * 86_400_000, T + 60_000 + MAX_KLINE_SPAN_S * 1000 + 999]
)
def test_a_kline_spanning_more_than_a_month_is_refused_naming_it(tmp_path, close_time) -> None:
    # a close ten years after the open made a bar of that span: the replay clock jumped ten
    # years ahead at its close (every record after it stamped then)
    with pytest.raises(DataFileError) as caught:
        load_candles(_kline(tmp_path, close_time))
    err = caught.value
    assert (err.row, err.column, err.value) == (2, "close_time", str(close_time))
    assert f"at most {MAX_KLINE_SPAN_S} s after the open time" in str(err), str(err)


def test_a_monthly_kline_loads(tmp_path) -> None:
    # Binance's longest interval, 1M: 31 days in the longest months
    bars = load_candles(_kline(tmp_path, T + 60_000 + MAX_KLINE_SPAN_S * 1000 - 1))
    assert [b.interval_s for b in bars] == [60, MAX_KLINE_SPAN_S, 60]


@pytest.mark.parametrize(
    ("close_time", "limit"),
    [(10**400, "at most 2678400 s after"), (-(10**400), "at least 1 s after")],
    ids=["a 401-digit close", "a 401-digit negative close"],
)
def test_a_kline_close_time_beyond_any_float_is_refused_naming_it(
    tmp_path, close_time, limit
) -> None:
    # its span in seconds overflowed the float division: an OverflowError traceback
    with pytest.raises(DataFileError) as caught:
        load_candles(_kline(tmp_path, close_time))
    err = caught.value
    assert (err.row, err.column, err.value) == (2, "close_time", str(close_time))
    assert limit in str(err), str(err)

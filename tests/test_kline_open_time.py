"""A candle's open time out of range is refused naming the file, row, column, value and limit,
whatever the format: a Binance kline CSV, a header OHLCV CSV, a freqtrade feather file (its
fast column path and its row-by-row path). Before 2009 or from 2100 on there is no exchange
data: such a time is a unit mistake (seconds, microseconds or nanoseconds taken as ms), a
negative number or a damaged row, and it made the replay clock jump decades. Hostile files
(wrong types, NaN, unsorted or duplicate rows, empty) are one clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from tradeguard.marketdata.checks import EARLIEST_OPEN_MS, LATEST_OPEN_MS
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import load_candles

T = 1_640_995_200_000  # 2022-01-01 UTC


def _kline(tmp_path: Path, open_time: int) -> Path:
    path = tmp_path / "BTCUSDT-1m.csv"
    rows = [f"{T},100,101,99,100,5,{T + 59_999},500,10,2,200,0"]
    rows.append(f"{open_time},100,101,99,100,5,{open_time + 59_999},500,10,2,200,0")
    path.write_text("\n".join(rows) + "\n")
    return path


BAD_TIMES = {
    "seconds": (T // 1000, "seconds"),
    "microseconds": (T * 1000, "microseconds"),
    "nanoseconds": (T * 1_000_000, "nanoseconds"),
    "negative": (-T, "2009-01-01"),
    "zero": (0, "2009-01-01"),
    "2008": (EARLIEST_OPEN_MS - 60_000, "2009-01-01"),
    "2100": (LATEST_OPEN_MS, "2100-01-01"),
}


@pytest.mark.parametrize("case", BAD_TIMES)
def test_a_kline_open_time_out_of_range_is_refused_naming_it(tmp_path, case) -> None:
    open_time, needle = BAD_TIMES[case]
    with pytest.raises(DataFileError) as caught:
        load_candles(_kline(tmp_path, open_time))
    err = caught.value
    assert (err.row, err.column, err.value) == (2, "open_time", str(open_time)), str(err)
    assert needle in str(err) and "BTCUSDT-1m.csv" in str(err), str(err)


def test_kline_open_times_at_the_limits_load(tmp_path) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    a, b = EARLIEST_OPEN_MS, LATEST_OPEN_MS - 60_000
    rows = [f"{t},100,101,99,100,5,{t + 59_999},500,10,2,200,0" for t in (a, b)]
    path.write_text("\n".join(rows) + "\n")
    assert [c.ts for c in load_candles(path)] == [a, b]


@pytest.mark.parametrize(
    ("text", "needle"),
    [("1.6e12", "integer"), ("nan", "integer"), ("", "integer"), ("abc", "integer")],
)
def test_a_kline_open_time_not_an_integer_is_refused_naming_it(tmp_path, text, needle) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_text(
        f"{T},100,101,99,100,5,{T + 59_999},500,10,2,200,0\n"
        f"{text},100,101,99,100,5,{T + 119_999},500,10,2,200,0\n"
    )
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    err = caught.value
    assert (err.row, err.value) == (2, text) and needle in str(err), str(err)


@pytest.mark.parametrize("date", ["1970-01-01 00:00:00", "2008-12-31 23:59:00", "2100-01-01"])
def test_an_ohlcv_csv_date_out_of_range_is_refused_naming_it(tmp_path, date) -> None:
    path = tmp_path / "BTC_USDT-1m.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2022-01-01 00:00:00,100,101,99,100,5\n"
        f"{date},100,101,99,100,5\n"
    )
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    err = caught.value
    assert (err.row, err.column, err.value) == (3, "timestamp", date), str(err)
    assert "2009-01-01" in str(err) and "2100-01-01" in str(err), str(err)


def _feather(tmp_path: Path, stamps: list, kind: str = "int") -> Path:
    path = tmp_path / "ETH_BTC-5m.feather"
    n = len(stamps)
    if kind == "int":
        col = pa.array(stamps, pa.int64())
    elif kind == "ms":
        col = pa.array(stamps, pa.timestamp("ms", tz="UTC"))
    else:
        col = pa.array(stamps, pa.float64())
    table = pa.table({
        "date": col, "open": [1.0] * n, "high": [1.0] * n, "low": [1.0] * n,
        "close": [1.0] * n, "volume": [1.0] * n,
    })  # fmt: skip
    feather.write_feather(table, path)
    return path


@pytest.mark.parametrize("case", ["seconds", "microseconds", "negative", "2100"])
@pytest.mark.parametrize("kind", ["int", "ms"])
def test_a_feather_open_time_out_of_range_is_refused_naming_it(tmp_path, case, kind) -> None:
    open_time, needle = BAD_TIMES[case]
    # a time before the others comes first, so the order check does not take it
    stamps = [T, T + 300_000, open_time] if open_time > T else [open_time, T, T + 300_000]
    path = _feather(tmp_path, stamps, kind)
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    err = caught.value
    assert err.column == "date" and needle in str(err), str(err)
    assert "ETH_BTC-5m.feather" in str(err) and err.row is not None, str(err)


def test_a_feather_time_of_floats_is_refused_naming_it(tmp_path) -> None:
    path = _feather(tmp_path, [float(T), float("nan")], "float")
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    assert caught.value.column == "date", str(caught.value)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("", "empty"),
        ("timestamp,open,high,low,close,volume\n", "no rows"),
        (
            "timestamp,open,high,low,close,volume\n2022-01-01 00:01:00,1,1,1,1,1\n"
            "2022-01-01 00:00:00,1,1,1,1,1\n",
            "backwards",
        ),
        (
            "timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,1,1,1,1,1\n"
            "2022-01-01 00:00:00,2,2,2,2,2\n",
            "duplicate",
        ),
        ("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,x,1,1,1,1\n", "open"),
        ("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,nan,1,1,1,1\n", "open"),
    ],
    ids=["empty", "header only", "unsorted", "duplicate", "text price", "NaN price"],
)
def test_hostile_ohlcv_csv_is_one_clear_error(tmp_path, body, needle) -> None:
    path = tmp_path / "BTC_USDT-1m.csv"
    path.write_text(body)
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    assert needle in str(caught.value), str(caught.value)


def test_an_empty_feather_file_is_one_clear_error(tmp_path) -> None:
    path = _feather(tmp_path, [])
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    assert "no rows" in str(caught.value), str(caught.value)

"""Binance Vision spot kline files from 2025-01-01 on give their open and close times in
microseconds. Such a file loads: when its first row's times read as microseconds within the
open-time range (2009..2100), every row of the file is read in microseconds and converted to
ms. A file mixing units is refused naming the row, column and value, never read row by row in
whichever unit fits; values bad in either unit stay refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from tradeguard.marketdata.checks import EARLIEST_OPEN_MS, LATEST_OPEN_MS
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import iter_candles, load_candles

T = 1_735_689_600_000  # 2025-01-01 00:00 UTC, ms
MIN = 60_000


def _row(open_us: int, close_us: int, price: str = "93576.00") -> str:
    # as in BTCUSDT-1m-2025-01-01.csv of data.binance.vision: times in microseconds
    high, low, rest = "93610.93", "93537.50", "769013.09,1737,4.87,455.7,0"
    return f"{open_us},{price},{high},{low},{price},8.21827000,{close_us},{rest}"


def _write(tmp_path: Path, rows: list[str], name: str = "BTCUSDT-1m-2025-01-01.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def _us_rows(n: int, span_ms: int = MIN) -> list[str]:
    return [_row((T + k * span_ms) * 1000, (T + (k + 1) * span_ms) * 1000 - 1) for k in range(n)]


def test_a_kline_file_in_microseconds_loads_as_ms(tmp_path) -> None:
    path = _write(tmp_path, _us_rows(3))
    candles = load_candles(path)
    assert [c.ts for c in candles] == [T, T + MIN, T + 2 * MIN]
    assert {c.interval_s for c in candles} == {60}
    assert candles[0].symbol == "BTC/USDT" and candles[0].close == Decimal("93576.00")
    assert candles[0].volume == Decimal("8.21827000")
    # the same bars written in ms load alike
    ms = _write(tmp_path, [_row(T + k * MIN, T + (k + 1) * MIN - 1) for k in range(3)], "B-1m.csv")
    assert [(c.ts, c.interval_s, c.close) for c in load_candles(ms, "BTC/USDT")] == [
        (c.ts, c.interval_s, c.close) for c in candles
    ]


def test_an_hourly_microsecond_file_keeps_its_span(tmp_path) -> None:
    hour = 60 * MIN
    candles = load_candles(_write(tmp_path, _us_rows(2, hour), "BTCUSDT-1h-2025-01.csv"))
    assert [(c.ts, c.interval_s) for c in candles] == [(T, 3600), (T + hour, 3600)]


def test_microsecond_files_at_the_limits_of_the_range_load(tmp_path) -> None:
    a, b = EARLIEST_OPEN_MS, LATEST_OPEN_MS - MIN
    rows = [_row(t * 1000, (t + MIN) * 1000 - 1) for t in (a, b)]
    assert [c.ts for c in load_candles(_write(tmp_path, rows))] == [a, b]


@pytest.mark.parametrize(
    ("rows", "line", "column", "value", "needle"),
    [
        # a ms file, then a row in microseconds
        (
            [_row(T, T + MIN - 1), _row((T + MIN) * 1000, (T + 2 * MIN) * 1000 - 1)],
            2,
            "open_time",
            str((T + MIN) * 1000),
            "microseconds",
        ),
        # a microsecond file, then a row in ms
        (
            [*_us_rows(2), _row(T + 2 * MIN, T + 3 * MIN - 1)],
            3,
            "open_time",
            str(T + 2 * MIN),
            "milliseconds",
        ),
        # a microsecond row whose close time is in ms
        (
            [*_us_rows(1), _row((T + MIN) * 1000, T + 2 * MIN - 1)],
            2,
            "close_time",
            str(T + 2 * MIN - 1),
            "microseconds",
        ),
    ],
    ids=["ms then us", "us then ms", "close time in ms"],
)
def test_a_kline_file_mixing_units_is_refused_naming_the_row(
    tmp_path, rows, line, column, value, needle
) -> None:
    path = _write(tmp_path, rows)
    with pytest.raises(DataFileError) as caught:
        list(iter_candles(path))
    err = caught.value
    assert (err.row, err.column, err.value) == (line, column, value), str(err)
    assert needle in str(err) and "row 1" in str(err) and path.name in str(err), str(err)


@pytest.mark.parametrize(
    "open_us",
    [(EARLIEST_OPEN_MS - MIN) * 1000, LATEST_OPEN_MS * 1000, T * 1_000_000, -T * 1000],
    ids=["2008 in us", "2100 in us", "nanoseconds", "negative"],
)
def test_a_time_bad_in_either_unit_is_refused(tmp_path, open_us) -> None:
    path = _write(tmp_path, [*_us_rows(1), _row(open_us, open_us + MIN * 1000 - 1)])
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    err = caught.value
    assert (err.row, err.column, err.value) == (2, "open_time", str(open_us)), str(err)
    assert "2009-01-01" in str(err) and "2100-01-01" in str(err), str(err)


def _feather(tmp_path: Path, col: pa.Array) -> Path:
    path = tmp_path / "BTC_USDT-1m.feather"
    n = len(col)
    one = [93576.0] * n
    table = pa.table({"date": col, "open": one, "high": one, "low": one, "close": one,
                      "volume": [1.5] * n})  # fmt: skip
    feather.write_feather(table, path)
    return path


@pytest.mark.parametrize("unit", ["us", "ns"])
@pytest.mark.parametrize("quote", [False, True], ids=["fast path", "row path"])
def test_a_feather_time_column_of_microseconds_loads(tmp_path, unit, quote) -> None:
    per_ms = {"us": 1000, "ns": 1_000_000}[unit]
    stamps = [(T + k * MIN) * per_ms for k in range(3)]
    path = _feather(tmp_path, pa.array(stamps, pa.timestamp(unit, tz="UTC")))
    candles = load_candles(path, volume_unit="quote" if quote else None)
    assert [c.ts for c in candles] == [T, T + MIN, T + 2 * MIN]


@pytest.mark.parametrize("quote", [False, True], ids=["fast path", "row path"])
def test_a_feather_of_integer_microseconds_loads(tmp_path, quote) -> None:
    path = _feather(tmp_path, pa.array([(T + k * MIN) * 1000 for k in range(3)], pa.int64()))
    candles = load_candles(path, volume_unit="quote" if quote else None)
    assert [c.ts for c in candles] == [T, T + MIN, T + 2 * MIN]


def test_a_feather_of_integers_mixing_units_is_refused_naming_the_row(tmp_path) -> None:
    path = _feather(tmp_path, pa.array([T * 1000, (T + MIN) * 1000, T + 2 * MIN], pa.int64()))
    with pytest.raises(DataFileError) as caught:
        load_candles(path)
    err = caught.value
    assert (err.row, err.column, err.value) == (3, "date", T + 2 * MIN), str(err)
    assert "milliseconds" in str(err) and "row 1" in str(err), str(err)

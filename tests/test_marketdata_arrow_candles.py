"""The column-wise feather loader gives exactly the row-by-row loader's candles, and leaves
every bad file to the row-by-row loader's clear errors."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from tradeguard.marketdata import candle_files
from tradeguard.marketdata.arrow_candles import ColumnCandles, fast_feather_candles
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import load_candles
from tradeguard.model.market import Candle

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CANDLES = DATA / "candles"


def _row_by_row(path: Path, symbol: str, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    with monkeypatch.context() as m:
        m.setattr(candle_files, "fast_feather_candles", lambda *a: None)
        return load_candles(path, symbol=symbol)


@pytest.mark.skipif(not CANDLES.is_dir(), reason=f"market data not found at {CANDLES}")
@pytest.mark.parametrize("name", ["ETH_BTC-5m.feather", "TRX_BTC-5m.feather", "XRP_ETH-1m.feather"])
def test_fast_feather_equals_the_row_by_row_loader(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = CANDLES / name
    table = feather.read_table(path)
    symbol = name.split("-")[0].replace("_", "/")
    fast = fast_feather_candles(path, table, "date", symbol)
    assert fast is not None  # a clean file takes the fast path
    slow = _row_by_row(path, symbol, monkeypatch)
    assert fast == slow
    for a, b in zip(fast, slow, strict=True):  # the same Decimal text, not only equal values
        assert (str(a.open), str(a.close), str(a.volume)) == (
            str(b.open),
            str(b.close),
            str(b.volume),
        )
        assert type(a.close) is Decimal and a.interval_s == b.interval_s
        assert a.close.as_tuple() == b.close.as_tuple() and a.low.as_tuple() == b.low.as_tuple()
    first = fast[0]  # a Candle like any other: its class, frozen, hashed as the slow one
    assert type(first) is Candle and hash(first) == hash(slow[0])
    with pytest.raises(FrozenInstanceError):
        first.close = Decimal(1)  # type: ignore[misc]


@pytest.mark.skipif(not CANDLES.is_dir(), reason=f"market data not found at {CANDLES}")
def test_loaded_columns_are_the_frames_of_the_candles_whole_and_cut() -> None:
    import numpy as np

    from tradeguard.backtest.frames import cut, to_frame

    loaded = load_candles(CANDLES / "TRX_BTC-5m.feather", symbol="TRX/BTC")
    assert isinstance(loaded, ColumnCandles)
    for candles in (loaded, cut(loaded, loaded[100].ts, loaded[250].ts)):
        assert isinstance(candles, ColumnCandles)
        given, converted = to_frame(candles), to_frame(list(candles))
        assert list(given) == list(converted)
        for name, column in converted.items():
            assert given[name].dtype == column.dtype
            assert np.array_equal(given[name], column), name
    frame = to_frame(loaded)
    frame["close"][0] = -1.0  # a strategy's prepare may write into its frame
    assert to_frame(loaded)["close"][0] == float(loaded[0].close)


T0 = 1_640_995_200_000  # 2022-01-01 UTC: an open time in range


def _write(tmp_path: Path, **columns: list[object]) -> Path:
    base: dict[str, list[object]] = {
        "date": [T0, T0 + 60_000, T0 + 120_000],
        "open": [1.0, 1.1, 1.2],
        "high": [1.5, 1.5, 1.5],
        "low": [0.9, 0.9, 0.9],
        "close": [1.1, 1.2, 1.3],
        "volume": [10.0, 11.0, 12.0],
    }
    base.update(columns)
    path = tmp_path / "X_Y-1m.feather"
    feather.write_feather(pa.table(base), path)
    return path


def test_fast_feather_hands_a_nan_to_the_checked_path(tmp_path: Path) -> None:
    path = _write(tmp_path, close=[1.1, float("nan"), 1.3])
    assert fast_feather_candles(path, feather.read_table(path), "date", "X/Y") is None
    with pytest.raises(DataFileError) as err:
        load_candles(path, symbol="X/Y")
    assert "row 2" in str(err.value)


def test_fast_feather_hands_a_close_above_high_to_the_checked_path(tmp_path: Path) -> None:
    path = _write(tmp_path, close=[1.1, 1.6, 1.3])
    assert fast_feather_candles(path, feather.read_table(path), "date", "X/Y") is None
    with pytest.raises(DataFileError, match="row 2: inconsistent bar"):
        load_candles(path, symbol="X/Y")


def test_fast_feather_hands_duplicate_rows_to_the_checked_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        date=[T0, T0 + 60_000, T0 + 60_000],
        open=[1.0, 1.1, 1.1],
        close=[1.1, 1.2, 1.2],
        volume=[10.0, 11.0, 11.0],
    )
    assert fast_feather_candles(path, feather.read_table(path), "date", "X/Y") is None
    candles = load_candles(path, symbol="X/Y")  # the identical duplicate is dropped, as before
    assert [c.ts for c in candles] == [T0, T0 + 60_000]
    assert candles[1].close == Decimal("1.2")


def test_fast_feather_reads_integer_ms_times_and_float_noise_as_prices(tmp_path: Path) -> None:
    path = _write(tmp_path, close=[0.052900000000000005, 1.2, 1.3], low=[0.05, 0.9, 0.9])
    candles = load_candles(path, symbol="X/Y")
    assert [c.ts for c in candles] == [T0, T0 + 60_000, T0 + 120_000]
    assert candles[0].close == Decimal("0.0529") and str(candles[0].close) == "0.0529"
    assert candles[0].interval_s == 60


def test_a_feather_v1_file_loads_the_same_candles_as_a_v2_file(tmp_path: Path) -> None:
    # V2 is read as Arrow IPC, V1 (not IPC) through pyarrow.feather: both give the same candles
    v2 = _write(tmp_path, close=[1.1, 1.2, 1.3])
    v1 = tmp_path / "v1.feather"
    with pytest.warns(DeprecationWarning):  # pyarrow's own word on V1 files
        feather.write_feather(feather.read_table(v2), v1, version=1)
        from_v1 = load_candles(v1, symbol="X/Y")
    from_v2 = load_candles(v2, symbol="X/Y")
    assert from_v1 == from_v2
    assert [str(c.close) for c in from_v1] == ["1.1", "1.2", "1.3"]


def test_a_file_that_is_not_feather_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "prices.feather"
    path.write_text("date,open,high,low,close,volume\n0,1,1,1,1,1\n")
    with pytest.raises(DataFileError, match=r"prices\.feather: cannot read as feather"):
        load_candles(path, symbol="X/Y")


def test_fast_feather_hands_a_high_beyond_the_limit_to_the_checked_path(tmp_path: Path) -> None:
    # 1e300 is a finite float: the fast path kept it as a high of 1e300
    path = _write(tmp_path, high=[1.5, 1e300, 1.5])
    assert fast_feather_candles(path, feather.read_table(path), "date", "X/Y") is None
    with pytest.raises(DataFileError, match=r"row 2.*beyond the limit"):
        load_candles(path, symbol="X/Y")


def test_the_layout_check_refuses_a_candle_whose_fields_the_loader_does_not_set(monkeypatch):
    """The feather loader stores nine fields by name and then gives the record Candle's class:
    a field added to Candle (with a default) kept the layouts alike, so the class assignment
    passed and the new slot stayed unset (an AttributeError at its first read, in a strategy);
    a `__new__` of its own would be skipped alike. The import-time check must refuse both."""
    from dataclasses import dataclass

    from tradeguard.marketdata import arrow_candles

    @dataclass(frozen=True, slots=True)
    class Wider:
        symbol: str
        ts: int
        open: Decimal
        high: Decimal
        low: Decimal
        close: Decimal
        volume: Decimal
        interval_s: int = 60
        venue: str = ""
        trades: int = 0

    @dataclass(frozen=True, slots=True)
    class Checked:
        symbol: str
        ts: int
        open: Decimal
        high: Decimal
        low: Decimal
        close: Decimal
        volume: Decimal
        interval_s: int = 60
        venue: str = ""

        def __new__(cls, *args: object, **kwargs: object) -> Checked:
            return super().__new__(cls)

    arrow_candles._check_layout()  # today's Candle passes
    for other in (Wider, Checked):
        monkeypatch.setattr(arrow_candles, "Candle", other)
        with pytest.raises(TypeError, match="no longer a plain slotted record"):
            arrow_candles._check_layout()

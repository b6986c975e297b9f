"""Candle files are checked before replay: each fault is an error naming file, row and value."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from node_support import write_slice
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import load_candles

SYMBOL = "BTC/USD"


def _slice(data_dir: Path, tmp_path: Path, rows: int = 6) -> tuple[Path, list[str]]:
    path = write_slice(data_dir, tmp_path / "BTC-PERP_1m.csv", rows)
    return path, path.read_text().splitlines()


def _write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


def _error(path: Path) -> DataFileError:
    with pytest.raises(DataFileError) as info:
        load_candles(path, symbol=SYMBOL)
    return info.value


def test_swapped_rows_are_refused_naming_the_row_and_timestamp(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    lines[3], lines[4] = lines[4], lines[3]
    err = _error(_write(path, lines))
    assert err.row == 5 and err.value == lines[4].split(",")[0]
    assert str(path) in str(err) and "goes backwards" in str(err)


def test_identical_duplicate_row_is_dropped_and_counted(data_dir, tmp_path, caplog):
    path, lines = _slice(data_dir, tmp_path)
    lines.insert(3, lines[2])
    with caplog.at_level(logging.WARNING):
        bars = load_candles(_write(path, lines), symbol=SYMBOL)
    assert len(bars) == 6
    assert len({b.ts for b in bars}) == 6
    assert "dropped 1 row(s)" in caplog.text and str(path) in caplog.text


def test_duplicate_timestamp_with_other_values_is_refused(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    fields = lines[2].split(",")
    fields[5] = "1.5"
    lines.insert(3, ",".join(fields))
    err = _error(_write(path, lines))
    assert err.row == 4 and err.value == fields[0]
    assert "duplicate timestamp" in str(err) and "row 3" in str(err)


def test_truncated_last_line_is_refused_not_replayed_with_a_cut_volume(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    full_volume = lines[-1].rsplit(",", 1)[1]
    lines[-1] = lines[-1][: -len(full_volume) + 4]  # the volume cut to its first 4 characters
    err = _error(_write(path, lines, end=""))
    assert err.row == len(lines) and err.value == lines[-1]
    assert "no line end" in str(err)


def test_row_missing_fields_is_refused(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    lines[3] = ",".join(lines[3].split(",")[:4])
    err = _error(_write(path, lines))
    assert err.row == 4 and "got 4" in str(err)


def test_row_with_an_extra_field_is_refused(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    lines[3] = lines[3] + ",7"
    err = _error(_write(path, lines))
    assert err.row == 4 and err.value == lines[3] and "expected 6 fields, got 7" in str(err)


def test_header_only_file_is_refused(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    err = _error(_write(path, lines[:1]))
    assert err.row == 1 and "no rows after the header" in str(err)


def test_non_utf8_file_is_refused_naming_the_row(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    raw = ("\n".join(lines) + "\n").encode()
    at = raw.index(lines[3].encode())
    path.write_bytes(raw[:at] + b"\xff" + raw[at + 1 :])
    err = _error(path)
    assert err.row == 4 and err.value == b"\xff" + lines[3][1:4].encode()
    assert "not UTF-8" in str(err)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "BTC-PERP_1m.csv"
    path.write_bytes(bytes(range(256)) * 4)
    err = _error(path)
    assert err.row == 1 and "binary data (NUL byte at byte offset 0)" in str(err)


def test_missing_file_is_refused(tmp_path):
    err = _error(tmp_path / "nope.csv")
    assert "file not found" in str(err) and "nope.csv" in str(err)


def test_kline_file_out_of_order_is_refused(data_dir, tmp_path):
    lines = (data_dir / "candles/binance_ADABTC_1m_2021-11-27.csv").read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    err = _error(_write(tmp_path / "ADABTC-1m.csv", lines))
    assert err.row == 3 and err.value == lines[2].split(",")[0]


def test_a_clean_file_loads_every_row_with_its_full_values(data_dir, tmp_path):
    path, lines = _slice(data_dir, tmp_path)
    bars = load_candles(path, symbol=SYMBOL, volume_unit="base")
    assert [b.volume for b in bars] == [Decimal(line.split(",")[5]) for line in lines[1:]]

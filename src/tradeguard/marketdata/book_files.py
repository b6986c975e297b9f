"""Order book event files: Binance depth CSV, tardis snapshots, Bybit ob500 zip."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tradeguard.marketdata.checks import read_csv_text
from tradeguard.marketdata.data_files import (
    Parser,
    PathLike,
    any_value,
    arrow_rows,
    diagnose,
    existing,
    int_value,
    non_negative,
    positive,
    read_arrow,
    require,
    symbol_from_path,
)
from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.events import BookDelta, BookEvent, BookSnapshot, Level


def load_book_events(
    path: PathLike | Sequence[PathLike], symbol: str | None = None
) -> list[BookEvent]:
    """Load book snapshots and deltas from one file or several in order (e.g. snapshot, updates).

    Accepts Binance depth CSVs, tardis `book_snapshot_*` CSVs, the recorder's snapshot parquet
    files (tardis column names, `timestamp` in ms) and Bybit `ob500` zips.
    """
    if not isinstance(path, (str, os.PathLike)):
        events: list[BookEvent] = []
        for one in path:
            events.extend(load_book_events(one, symbol))
        return events
    p = existing(path)
    sym = symbol or symbol_from_path(p)
    if p.suffix.lower() == ".zip":
        return _load_bybit_zip(p, sym)
    if p.suffix.lower() == ".parquet":
        return _load_snapshot_parquet(p, sym)
    # Binary, non-UTF-8 and cut-short files are refused here, one line naming the byte.
    text = read_csv_text(p)
    header = text.split("\n", 1)[0].strip().split(",")
    if header[:3] == ["symbol", "timestamp", "first_update_id"]:
        return _load_binance_depth(p, sym, text)
    if header[:4] == ["exchange", "symbol", "timestamp", "local_timestamp"]:
        return _load_tardis_snapshots(p, sym, header, text)
    raise DataFileError(
        p,
        "unknown book format; expected a Binance depth CSV, a tardis snapshot CSV or a "
        "Bybit ob500 .zip",
        row=1,
    )


_DEPTH_COLUMNS: list[tuple[str, Parser]] = [
    ("symbol", any_value),
    ("timestamp", int_value),
    ("first_update_id", int_value),
    ("last_update_id", int_value),
    ("side", any_value),
    ("update_type", any_value),
    ("price", positive),
    ("qty", non_negative),
    ("pu", int_value),
]


def _load_binance_depth(path: Path, symbol: str, text: str) -> list[BookEvent]:
    events: list[BookEvent] = []
    batch_key: tuple[str, int, int, int, int] | None = None
    bids: list[Level] = []
    asks: list[Level] = []

    def flush() -> None:
        if batch_key is None:
            return
        kind, ts, first, last, pu = batch_key
        if kind == "snap":
            events.append(BookSnapshot(symbol, ts, last, tuple(bids), tuple(asks)))
        else:
            prev = pu if pu >= 0 else None
            events.append(BookDelta(symbol, ts, last, tuple(bids), tuple(asks), first, prev))

    with io.StringIO(text, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for line, rec in enumerate(reader, start=2):
            try:
                key = (rec[5], int(rec[1]), int(rec[2]), int(rec[3]), int(rec[8]))
                level = (positive(rec[6], "price"), non_negative(rec[7], "qty"))
                side = rec[4]
                if side not in ("b", "a") or key[0] not in ("snap", "set"):
                    raise ValueError("side/update_type")
            except (ValueError, ArithmeticError, IndexError):
                err = diagnose(path, line, rec, _DEPTH_COLUMNS)
                if err.column is None:
                    col = "side" if rec[4] not in ("b", "a") else "update_type"
                    err = DataFileError(
                        path,
                        "expected side b|a and update_type snap|set",
                        line,
                        col,
                        rec[4] if col == "side" else rec[5],
                    )
                raise err from None
            if key != batch_key:
                flush()
                batch_key, bids, asks = key, [], []
            (bids if side == "b" else asks).append(level)
    flush()
    return events


def _load_tardis_snapshots(
    path: Path, symbol: str, header: list[str], text: str
) -> list[BookEvent]:
    ask_cols = [(i, header.index(f"asks[{n}].price")) for n, i in _level_indexes(header, "asks")]
    bid_cols = [(i, header.index(f"bids[{n}].price")) for n, i in _level_indexes(header, "bids")]
    events: list[BookEvent] = []
    with io.StringIO(text, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for line, rec in enumerate(reader, start=2):
            try:
                # tardis timestamps are microseconds.
                ts = int(rec[2]) // 1000
                asks = _tardis_levels(rec, ask_cols)
                bids = _tardis_levels(rec, bid_cols)
            except (ValueError, ArithmeticError, IndexError):
                cols: list[tuple[str, Parser]] = [(h, _tardis_field) for h in header]
                cols[2] = ("timestamp", int_value)
                cols[0] = cols[1] = cols[3] = ("-", any_value)
                err = diagnose(path, line, rec, cols)
                raise err from None
            events.append(BookSnapshot(symbol, ts, 0, bids, asks))
    return events


def _load_snapshot_parquet(path: Path, symbol: str) -> list[BookEvent]:
    """Book snapshots as `tradeguard record` writes them: one row per snapshot."""
    table = read_arrow(path, "parquet")
    header = table.column_names
    require(path, table, ["timestamp"])
    sides = {
        side: [
            (f"{side}[{n}].price", f"{side}[{n}].amount") for n, _ in _level_indexes(header, side)
        ]
        for side in ("asks", "bids")
    }
    if not sides["asks"] and not sides["bids"]:
        raise DataFileError(path, f"no `asks[i].price`/`bids[i].price` columns in {header}")
    names = ["timestamp", *(c for pairs in sides.values() for pair in pairs for c in pair)]
    require(path, table, names)
    events: list[BookEvent] = []
    for row, values in arrow_rows(path, table, names, "timestamp"):
        rec = dict(zip(names, values, strict=True))
        try:
            levels = {
                side: tuple(
                    (positive(rec[pc], pc), non_negative(rec[ac], ac))
                    for pc, ac in pairs
                    if rec[pc] is not None and rec[ac]
                )
                for side, pairs in sides.items()
            }
            ts = int_value(rec["timestamp"], "timestamp")
        except (ValueError, ArithmeticError):
            checks: list[tuple[str, Parser]] = [("timestamp", int_value)]
            checks += [(c, _tardis_field) for c in names[1:]]
            raise diagnose(path, row, ["" if v is None else v for v in values], checks) from None
        events.append(BookSnapshot(symbol, ts, 0, levels["bids"], levels["asks"]))
    return events


def _tardis_field(value: object, column: str) -> object:
    return value if value == "" else non_negative(value, column)


def _level_indexes(header: list[str], side: str) -> list[tuple[int, int]]:
    out = []
    for i, name in enumerate(header):
        m = re.fullmatch(rf"{side}\[(\d+)\]\.amount", name)
        if m:
            out.append((int(m.group(1)), i))
    return sorted(out)


def _tardis_levels(rec: list[str], cols: list[tuple[int, int]]) -> tuple[Level, ...]:
    levels = []
    for amount_i, price_i in cols:
        if rec[price_i] == "":
            continue
        amount = non_negative(rec[amount_i], "amount")
        if amount:
            levels.append((positive(rec[price_i], "price"), amount))
    return tuple(levels)


def _load_bybit_zip(path: Path, symbol: str) -> list[BookEvent]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if not names:
                raise DataFileError(path, "zip holds no file; expected one JSON-lines file")
            text = zf.read(names[0]).decode("utf-8")
    except zipfile.BadZipFile as exc:
        raise DataFileError(path, f"not a readable zip: {exc}") from None
    events: list[BookEvent] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            msg = json.loads(raw)
            data = msg["data"]
            kind = msg["type"]
            ts = int_value(msg["ts"], "ts")
            seq = int_value(data["u"], "u")
            bids = tuple(_bybit_level(x) for x in data.get("b", ()))
            asks = tuple(_bybit_level(x) for x in data.get("a", ()))
        except json.JSONDecodeError as exc:
            raise DataFileError(path, f"not JSON: {exc.msg}", row=line) from None
        except KeyError as exc:
            raise DataFileError(path, "message lacks a field", line, str(exc.args[0])) from None
        except (ValueError, ArithmeticError, TypeError) as exc:
            raise DataFileError(path, str(exc), row=line) from None
        if kind == "snapshot":
            events.append(BookSnapshot(symbol, ts, seq, bids, asks))
        elif kind == "delta":
            events.append(BookDelta(symbol, ts, seq, bids, asks))
        else:
            raise DataFileError(path, "type must be snapshot or delta", line, "type", kind)
    return events


def _bybit_level(pair: Any) -> Level:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ValueError(f"level {pair!r} is not [price, size]")
    return positive(pair[0], "price"), non_negative(pair[1], "size")

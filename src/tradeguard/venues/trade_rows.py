"""Rows of an exchange's trade history as ccxt parses them, shared by the venues that page it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any


def trade_row_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """One row of a trade history: the trade's id, and the order and side of the account's part
    in it (a trade between two of the account's orders is two rows of one id)."""
    return str(row.get("id") or ""), str(row.get("order") or ""), str(row.get("side") or "")


def _ts(row: Mapping[str, Any]) -> int:
    return int(row.get("timestamp") or 0)


def _id(row: Mapping[str, Any]) -> int:
    text = str(row.get("id") or "")
    return int(text) if text.isascii() and text.isdigit() else -1


async def rows_left_before(
    read_up_to: Callable[[int], Awaitable[list[Any]]],
    read_from_id: Callable[[int], Awaitable[list[Any]]],
    since_ts: int,
    rows: list[Any],
    page: int,
) -> list[Any]:
    """The rows at or after `since_ts` older than the oldest of `rows`, a full first page read
    from `since_ts` (Binance's `startTime` alone), that a venue answering the most recent page
    from it (as Binance's documentation reads: without `fromId` "most recent trades are
    returned") left out; [] when it answered the oldest. `read_up_to(ts)` reads the most
    recent `page` rows up to `ts` (an `endTime` alone), walked back while a page holds rows
    not read yet. A full page all of its bound's millisecond (one order filled against more
    than a page of others) cannot be walked back by time: the rows before it are read by id
    (`read_from_id(id)`: the oldest `page` rows from that id on), `_before_id`."""
    seen = {trade_row_key(r) for r in rows}
    out: list[Any] = []
    end = min(map(_ts, rows))
    while True:
        older = list(await read_up_to(end))
        new = [r for r in older if _ts(r) >= since_ts and trade_row_key(r) not in seen]
        out += new
        seen.update(trade_row_key(r) for r in new)
        if len(older) >= page and all(_ts(r) == end for r in older):  # no time before
            first = min(_id(r) for r in [*rows, *out] if _ts(r) == end)
            new = await _before_id(read_from_id, first, end, since_ts, seen, page)
            out += new
            if not new:
                return out
            end = min(map(_ts, new))
            continue
        if not new or len(older) < page:
            return out
        end = min(map(_ts, older))


async def _before_id(
    read_from_id: Callable[[int], Awaitable[list[Any]]],
    first: int,
    end: int,
    since_ts: int,
    seen: set[tuple[str, str, str]],
    page: int,
) -> list[Any]:
    """The rows not `seen` of ids below `first` from `since_ts` on: a read from an id ever
    further back (a page, two, four, ...) until its oldest row is older than `end` (or from id
    0), then forward by id up to `first`."""
    if first <= 0:
        return []
    gap = page
    while True:
        start = max(first - gap, 0)
        got = list(await read_from_id(start))
        if start == 0 or not got or min(map(_ts, got)) < end:
            break
        gap *= 2
    out: list[Any] = []
    while True:
        new = [r for r in got if _id(r) < first and _ts(r) >= since_ts]
        new = [r for r in new if trade_row_key(r) not in seen]
        out += new
        seen.update(trade_row_key(r) for r in new)
        last = max(map(_id, got), default=-1)
        if len(got) < page or last >= first or last <= start:
            return out
        start = last  # from the last id read: two rows of one id may straddle the page's end
        got = list(await read_from_id(start))

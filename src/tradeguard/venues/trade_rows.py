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


async def rows_left_before(
    read_up_to: Callable[[int], Awaitable[list[Any]]], since_ts: int, rows: list[Any], page: int
) -> list[Any]:
    """The rows at or after `since_ts` older than the oldest of `rows`, a full first page read
    from `since_ts` (Binance's `startTime` alone), that a venue answering the most recent page
    from it (as Binance's documentation reads: without `fromId` "most recent trades are
    returned") left out; [] when it answered the oldest. `read_up_to(ts)` reads the most
    recent `page` rows up to `ts` (an `endTime` alone), walked back while a page holds rows
    not read yet. More than `page` rows of one millisecond at the bound cannot be told apart
    by time: those past a page are not read (no id can bound a read back in time)."""
    seen = {trade_row_key(r) for r in rows}
    out: list[Any] = []
    end = min(map(_ts, rows))
    while True:
        older = list(await read_up_to(end))
        new = [r for r in older if _ts(r) >= since_ts and trade_row_key(r) not in seen]
        out += new
        seen.update(trade_row_key(r) for r in new)
        if not new or len(older) < page:
            return out
        end = min(map(_ts, older))

"""One `/data/trades` listing of a market per pass of reads.

Trades are listed by market (`PolymarketVenue._listed_by`): YES and NO read the same listing,
and a catch-up asks again from the newest trade it read. Within a pass (`listing_pass`, which
reconciliation opens around its catch-up and around its read after the balances) the first
listing of a market, from a second on, serves every later read of that market from that second
or after; the account's listing (`traded_symbols`) serves each market it covers. Outside a pass,
and in a task the pass did not start, every read lists anew: the pass is the reading task's
(a context variable naming the task that opened it: a task started within the pass inherits the
variable, and its reads, during the pass or after it, list anew), so a submit's own read
(`outside_pass`) never gets a listing older than its order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

# market -> (the first second its listing covers, its rows) read within the current pass
_Listings = dict[str, tuple[int, list[Any]]]
# the task that opened the pass and the pass's listings
_PASS: ContextVar[tuple[object, _Listings] | None] = ContextVar(
    "polymarket_listing_pass", default=None
)


def _task() -> object:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop running
        return None


def _listings() -> _Listings | None:
    """The current pass's listings, when the task reading opened it."""
    opened = _PASS.get()
    return opened[1] if opened is not None and opened[0] is _task() else None


@contextlib.contextmanager
def listing_pass() -> Iterator[None]:
    """Reads within the block list each market once (a pass within a pass is the outer one)."""
    token = _PASS.set((_task(), {})) if _listings() is None else None
    try:
        yield
    finally:
        if token is not None:
            _PASS.reset(token)


@contextlib.contextmanager
def outside_pass() -> Iterator[None]:
    """Reads within the block list anew, even within a pass."""
    token = _PASS.set(None)
    try:
        yield
    finally:
        _PASS.reset(token)


async def market_rows(
    market: str, since_ts: int, listing: Callable[[], Awaitable[list[Any]]]
) -> list[Any]:
    """`market`'s rows from `since_ts`'s second on: the pass's listing when it covers that
    second, else `listing()` (kept for the pass's later reads)."""
    listings = _listings()
    second = max(since_ts // 1000, 0)
    if listings is not None and market in listings and listings[market][0] <= second:
        return listings[market][1]
    rows = await listing()
    if listings is not None:
        listings[market] = (second, rows)
    return rows


def account_rows(markets: Iterable[str], since_ts: int, rows: list[Any]) -> None:
    """Keep the account's listing from `since_ts`'s second on for the pass: each of `markets`
    is listed by its rows (none: no trade of it since then). Rows naming no market (no CLOB's)
    keep nothing."""
    listings = _listings()
    if listings is None or not all(isinstance(r, dict) and "market" in r for r in rows):
        return
    second = max(since_ts // 1000, 0)
    for market in markets:
        if market and (market not in listings or listings[market][0] > second):
            listings[market] = (second, [r for r in rows if r["market"] == market])

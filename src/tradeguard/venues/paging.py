"""Cursor pagination of the prediction-market listings, as each venue documents it.

Kalshi: `limit` (at most 1000) and `cursor`; an answer's `cursor` is the next page, empty or
null at the end. Polymarket's CLOB: `next_cursor`, "MA==" for the first page, an answer's
`next_cursor` is the next one and "LTE=" ends the listing. A listing longer than `max_pages`
pages is refused with TOO_MANY_PAGES rather than read in part (a market or a result left
unread would look like one that does not exist).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tradeguard.model.errors import DefinitiveVenueError

MAX_PAGES = 500  # the default of a venue's `max_pages` setting
PAGES_LIMIT = 100_000  # the most `max_pages` may be set to
KALSHI_LIMIT = 1000
CLOB_START = "MA=="
CLOB_END = "LTE="

Fetch = Callable[[dict[str, str]], Awaitable[Any]]


def _too_many(venue: str, op: str, pages: int, rows: int) -> DefinitiveVenueError:
    return DefinitiveVenueError(
        venue,
        f"{op}: the listing goes on past {pages} pages ({rows} rows read, page cap "
        f"max_pages={pages}); nothing of it was used: narrow the listing or raise the venue's "
        f"max_pages setting (at most {PAGES_LIMIT:,})",
        "TOO_MANY_PAGES",
    )


async def kalshi_pages(
    fetch: Fetch,
    key: str,
    params: dict[str, str],
    *,
    venue: str,
    op: str,
    limit: int = KALSHI_LIMIT,
    max_pages: int = MAX_PAGES,
) -> list[Any]:
    """Every row under `key` of a Kalshi listing, following `cursor` to its end."""
    rows: list[Any] = []
    cursor = ""
    for _ in range(max_pages):
        query = {**params, "limit": str(limit)}
        if cursor:
            query["cursor"] = cursor
        data = await fetch(query)
        rows.extend(data.get(key) or ())
        cursor = data.get("cursor") or ""
        if not cursor:
            return rows
    raise _too_many(venue, op, max_pages, len(rows))


async def clob_pages(fetch: Fetch, *, venue: str, op: str, max_pages: int = MAX_PAGES) -> list[Any]:
    """Every row of a Polymarket CLOB listing (`data`), following `next_cursor` to "LTE="."""
    rows: list[Any] = []
    cursor = CLOB_START
    for _ in range(max_pages):
        data = await fetch({"next_cursor": cursor})
        rows.extend(data.get("data") or ())
        cursor = data.get("next_cursor") or CLOB_END
        if cursor == CLOB_END:
            return rows
    raise _too_many(venue, op, max_pages, len(rows))


async def clob_pages_from(fetch: Fetch, cursor: str, *, max_pages: int) -> tuple[list[Any], str]:
    """The rows of a Polymarket CLOB listing from `cursor` on, at most `max_pages` pages, and
    where the next read goes on (`CLOB_END` once the listing is read to its end): a caller that
    books what it read and reads on later, never a listing refused for its length."""
    rows: list[Any] = []
    for _ in range(max_pages):
        data = await fetch({"next_cursor": cursor})
        rows.extend(data.get("data") or ())
        cursor = data.get("next_cursor") or CLOB_END
        if cursor == CLOB_END:
            break
    return rows, cursor

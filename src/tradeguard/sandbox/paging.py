"""Cursor pages of the local prediction-market listings, as the real venues hand them out.

Both cursors are the base64 of the next row's offset (the CLOB's own are: "MA==" is offset 0,
"LTE=" is -1, the end). Kalshi ends a listing with an empty `cursor`. A cursor this server did
not hand out is refused with ValueError (the servers answer 400).
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")

CLOB_END = "LTE="
KALSHI_DEFAULT_LIMIT = 100  # Kalshi's default page; `limit` may ask for up to 1000
KALSHI_MAX_LIMIT = 1000


def encode(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode(cursor: str, total: int) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"invalid cursor {cursor!r}") from None
    # ASCII digits only, as handed out: int() also reads "1_0", " 2" and non-ASCII digits
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"invalid cursor {cursor!r}")
    offset = int(text)
    if not 0 <= offset <= total:
        raise ValueError(f"invalid cursor {cursor!r}: offset {offset} outside 0..{total}")
    return offset


def kalshi_page(
    rows: Sequence[T],
    query: Any,
    page_size: int,
    seqs: Sequence[int] | None = None,
    total: int | None = None,
) -> tuple[list[T], str]:
    """One page of `rows` for a Kalshi query (`limit`, `cursor`) and the next cursor ("" ends).

    `seqs` are the rows' places in the whole, unfiltered listing of `total` rows (ascending; by
    default their index): the cursor names the place after the page's last row, so a row that
    leaves a filtered listing (an order no longer resting) between two reads hides no other."""
    raw = query.get("limit") or str(KALSHI_DEFAULT_LIMIT)
    # 0-9 only: isdigit takes "²" (which int refuses) and int reads "٣" as 3
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= KALSHI_MAX_LIMIT:
        raise ValueError(f"limit {raw!r} must be 1..{KALSHI_MAX_LIMIT}")
    size = min(int(raw), page_size)
    places = range(len(rows)) if seqs is None else seqs
    bound = len(rows) if total is None else total
    after = decode(query["cursor"], bound) if query.get("cursor") else 0
    start = bisect.bisect_left(places, after)
    end = start + size
    return list(rows[start:end]), encode(places[end - 1] + 1) if end < len(rows) else ""


def clob_page(rows: Sequence[T], cursor: str, page_size: int) -> tuple[list[T], str]:
    """One page of `rows` from a CLOB `next_cursor` ("" or "MA==" first) and the next one."""
    if cursor == CLOB_END:
        return [], CLOB_END
    start = decode(cursor, len(rows)) if cursor else 0
    end = start + page_size
    return list(rows[start:end]), encode(end) if end < len(rows) else CLOB_END

"""A Polymarket trade row's time: `match_time`/`matchtime` in seconds or RFC 3339, and the
`user` channel's `timestamp` for the milliseconds whole seconds drop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.venues.user_stream import iso_ms


def trade_ts_ms(row: dict[str, Any]) -> int:
    """A trade's time in ms, to the precision the row gives: `match_time` (REST) or
    `matchtime` (the `user` channel) in seconds, a fraction kept, or RFC 3339; the channel's
    `timestamp` in ms when it falls within that second (it carries the milliseconds whole
    seconds drop). ValueError naming the field for a row with no readable time, or one outside
    1970 to 9999 (no trade is, and no store keeps it)."""
    raw = row.get("match_time", row.get("matchtime"))
    ms = _iso_ms(raw)
    if ms is None:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
            raise ValueError(f"match_time: {raw!r} is not a time")
        try:
            seconds = Decimal(str(raw))
        except ArithmeticError:
            raise ValueError(f"match_time: {raw!r} is not a time") from None
        if not seconds.is_finite() or not 0 <= seconds < _LAST_S:
            raise ValueError(f"match_time: {raw!r} is not a time from 1970 to 9999 (seconds)")
        ms = int(seconds * 1000)
    elif not 0 <= ms < _LAST_S * 1000:
        raise ValueError(f"match_time: {raw!r} is not a time from 1970 to 9999")
    stamp = row.get("timestamp")
    if isinstance(stamp, (str, int)) and not isinstance(stamp, bool):
        text = str(stamp)
        if text.isascii() and text.isdigit() and len(text) <= 16:
            precise = int(text)
            if ms % 1000 == 0 and ms <= precise < ms + 1000:
                return precise
    return ms


_LAST_S = 253402300800  # 10000-01-01T00:00:00Z in epoch seconds: no trade time reaches it


def _iso_ms(value: object) -> int | None:
    """An RFC 3339 time (one with a `T`) in epoch ms; None for a number or a date alone."""
    return iso_ms(value) if isinstance(value, str) and "T" in value else None


def row_second(row: Any) -> int:
    """A trade row's second (the CLOB's clock), -1 for a row with no readable time."""
    try:
        return trade_ts_ms(row) // 1000 if isinstance(row, dict) else -1
    except ValueError:
        return -1


def since_filter(since_ts: int) -> dict[str, str]:
    """The `/data/trades` filter of the trades from `since_ts`'s second on (`after` is the
    second before it: the CLOB lists those after it), none from the epoch."""
    second = since_ts // 1000
    return {"after": str(second - 1)} if second > 0 else {}

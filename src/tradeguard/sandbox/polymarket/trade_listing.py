"""The local CLOB's `/data/trades` listing: an account's trades newest first, narrowed as the
CLOB's query narrows them (py-clob-client's `TradeParams`: `id`, `market`, `asset_id`,
`before`, `after`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any


def _seconds(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{key} {raw!r} must be a Unix time in whole seconds")
    return int(raw)


def trade_listing(rows: Sequence[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
    """`rows` (kept in the order they were matched) as the listing answers them: newest first,
    only those the query's filters keep. ValueError naming a malformed `after` or `before`."""
    after, before = _seconds(query, "after"), _seconds(query, "before")
    want = {k: query[k] for k in ("id", "market", "asset_id") if query.get(k)}
    out = []
    for row in reversed(rows):  # newest first; of one second, the later match first
        if any(row.get(k) != v for k, v in want.items()):
            continue
        ts = int(str(row["match_time"]))
        if (after is not None and ts <= after) or (before is not None and ts >= before):
            continue
        out.append(row)
    return out


def tx_hash(trade_id: str) -> str:
    """The transaction hash a trade row names (made up from its id: no chain here)."""
    return "0x" + hashlib.sha256(trade_id.encode()).hexdigest()

"""Settlements as recorded: the `settlement` events of the audit log, one per position closed;
nettings (`kind=EventKind.NETTING`: YES + NO paid out by the venue) read the same way.

```python
rows = load_settlements(storage, venue="kalshi", limit=50)
total = count_settlements(storage, venue="kalshi")
```

Every surface (API, CLI, dashboard) reads settlements here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from tradeguard.model.events import EventKind
from tradeguard.storage.repository import Storage
from tradeguard.storage.tables import events


def _where(
    venue: str | None, since_ts: int | None, kind: str = EventKind.SETTLEMENT
) -> list[ColumnElement[bool]]:
    where = [events.c.kind == kind]
    if venue:
        where.append(events.c.venue == venue)
    if since_ts is not None:
        where.append(events.c.ts >= since_ts)
    return where


def load_settlements(
    storage: Storage,
    *,
    venue: str | None = None,
    since_ts: int | None = None,
    limit: int = 100,
    offset: int = 0,
    kind: str = EventKind.SETTLEMENT,
) -> list[dict[str, Any]]:
    """Return recorded settlements (or events of `kind`: `netting`), newest first (amounts as
    decimal strings)."""
    stmt = (
        select(events)
        .where(*_where(venue, since_ts, kind))
        .order_by(events.c.ts.desc(), events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        {
            "ts": r.ts,
            "venue": r.venue,
            "symbol": r.symbol,
            "strategy_id": r.strategy_id,
            **(r.data or {}),
        }
        for r in storage._read(stmt)
    ]


def count_settlements(
    storage: Storage,
    *,
    venue: str | None = None,
    since_ts: int | None = None,
    kind: str = EventKind.SETTLEMENT,
) -> int:
    """Return how many recorded settlements (or events of `kind`) match the filters."""
    stmt = select(func.count()).select_from(events).where(*_where(venue, since_ts, kind))
    return int(storage._read(stmt)[0][0])

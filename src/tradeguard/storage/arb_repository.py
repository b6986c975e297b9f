"""Arbitrage-execution records: one row per cycle attempt in `arb_executions`.

```python
row_id = insert_arb_execution(storage, {"strategy_id": "tri", "start_asset": "USDT", ...})
rows = load_arb_executions(storage, strategy_id="tri")
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from tradeguard.storage.repository import Storage
from tradeguard.storage.tables import arb_executions

_COLUMNS = tuple(c.name for c in arb_executions.c if c.name != "id")
_REQUIRED = ("strategy_id", "start_asset", "outcome", "ts")


def insert_arb_execution(storage: Storage, row: Mapping[str, Any]) -> int:
    """Write one cycle's record and return its id; unknown keys are refused by name."""
    unknown = sorted(set(row) - set(_COLUMNS))
    if unknown:
        raise ValueError(
            f"arb_executions: unknown column(s) {unknown}; known columns are {list(_COLUMNS)}"
        )
    missing = [k for k in _REQUIRED if row.get(k) in (None, "")]
    if missing:
        raise ValueError(f"arb_executions: required column(s) {missing} missing or empty")
    values = {name: row.get(name) for name in _COLUMNS}
    result = storage._write(arb_executions.insert().values(**values))
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("arb_executions insert returned no primary key")
    return int(key[0])


def load_arb_executions(
    storage: Storage,
    *,
    strategy_id: str | None = None,
    outcome: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Return recorded cycles, oldest first, optionally for one strategy or one outcome."""
    stmt = select(arb_executions).order_by(arb_executions.c.ts, arb_executions.c.id)
    if strategy_id is not None:
        stmt = stmt.where(arb_executions.c.strategy_id == strategy_id)
    if outcome is not None:
        stmt = stmt.where(arb_executions.c.outcome == outcome)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(r._mapping) for r in storage._read(stmt)]

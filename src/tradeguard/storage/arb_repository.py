"""Arbitrage-execution records: one row per cycle attempt in `arb_executions`.

```python
row_id = insert_arb_execution(storage, {"strategy_id": "tri", "start_asset": "USDT", ...})
rows = load_arb_executions(storage, strategy_id="tri")
page = load_arb_executions(storage, outcome="held", limit=50, offset=0, newest_first=True)
total = count_arb_executions(storage, outcome="held")
figures = load_arb_figures(storage, strategy_id="tri", after_id=last_seen)   # for summaries
row = find_arb_execution(storage, "tri", client_order_id)   # the record naming that order
```

Rows are inserted, so a reader may fold in what is new since the last id it saw (`after_id`,
`upto_id`) instead of reading everything again; the one change after the fact is a `held`
cycle whose unresolved order ended later (`amend_arb_execution`): its outcome and figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select

from tradeguard.storage.repository import Storage
from tradeguard.storage.tables import arb_execution_orders, arb_executions, fills

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
    _name_orders(storage, int(key[0]), str(row["strategy_id"]), row.get("legs"))
    return int(key[0])


def _order_ids(legs: Any) -> list[str]:
    """The client ids of the orders a record's `legs` body names (forward legs, unwinds) but
    those it counts filled: only an order the cycle gave up on can fill after its record, and
    a start reads a record for each order named with a fill since it last looked."""
    if not isinstance(legs, Mapping):
        return []
    parts = [legs.get(p) or () for p in ("legs", "unwinds")]
    return [str(x["client_order_id"]) for part in parts for x in part
            if isinstance(x, Mapping) and x.get("client_order_id")
            and x.get("status") != "filled"]  # fmt: skip


def _name_orders(storage: Storage, record_id: int, strategy_id: str, legs: Any) -> None:
    """Note `record_id` as the record of each order its legs name, but those it counts filled
    (one not noted yet)."""
    cids = _order_ids(legs)
    if not cids:
        return
    t = arb_execution_orders
    known = {r[0] for r in storage._read(select(t.c.client_order_id).where(
        t.c.client_order_id.in_(cids)))}  # fmt: skip
    fresh = [{"client_order_id": c, "strategy_id": strategy_id, "record_id": record_id}
             for c in dict.fromkeys(cids) if c not in known]  # fmt: skip
    if fresh:
        storage._write(t.insert(), fresh)


def fills_after(storage: Storage, strategy_id: str, after_id: int) -> tuple[int, list[str]]:
    """Return the newest fill id of the strategy's fills journaled after fill `after_id` (or
    `after_id`) and the ids of their orders that a record names."""
    f, t = fills, arb_execution_orders
    newest = storage._read(select(func.max(f.c.id)).where(f.c.id > after_id))[0][0]
    if newest is None:
        return after_id, []
    stmt = (
        select(f.c.client_order_id)
        .distinct()
        .join(t, t.c.client_order_id == f.c.client_order_id)
        .where(f.c.id > after_id, f.c.id <= newest, f.c.strategy_id == strategy_id)
    )
    return int(newest), sorted(r[0] for r in storage._read(stmt))


def find_arb_execution(
    storage: Storage, strategy_id: str, client_order_id: str
) -> dict[str, Any] | None:
    """Return the strategy's record that names the order `client_order_id` and did not count
    it filled when written (by its index, however old the record), or None."""
    t = arb_execution_orders
    stmt = (
        select(arb_executions)
        .join(t, t.c.record_id == arb_executions.c.id)
        .where(t.c.client_order_id == client_order_id, t.c.strategy_id == strategy_id)
    )
    found = storage._read(stmt)
    return dict(found[0]._mapping) if found else None


# kv_state key: the id of the record rewritten last, so that a reader folding in only new rows
# knows to read again what it folded
ARB_AMENDED_KEY = "arb.amended"


def amend_arb_execution(storage: Storage, record_id: int, row: Mapping[str, Any]) -> None:
    """Rewrite the figures of the record `record_id` (a held cycle whose unresolved order ended
    later): its outcome, profit, fees and legs; its id, strategy and time stay. Its id is kept
    under `ARB_AMENDED_KEY` (commit both together)."""
    changes = {k: row[k] for k in ("outcome", "actual_profit", "fees", "legs") if k in row}
    if not changes:
        raise ValueError(
            "arb_executions: an amendment changes outcome, actual_profit, fees or legs"
        )
    storage._write(
        arb_executions.update().where(arb_executions.c.id == record_id).values(**changes)
    )
    if "legs" in changes:  # an unwind the rewrite added names its record too
        [(sid,)] = storage._read(
            select(arb_executions.c.strategy_id).where(arb_executions.c.id == record_id)
        )
        _name_orders(storage, record_id, str(sid), changes["legs"])
    storage.kv_set(ARB_AMENDED_KEY, record_id)


def _filters(
    strategy_id: str | None = None,
    outcome: str | None = None,
    since_ts: int | None = None,
    until_ts: int | None = None,
    after_id: int | None = None,
    upto_id: int | None = None,
) -> list[ColumnElement[bool]]:
    c = arb_executions.c
    where: list[ColumnElement[bool]] = []
    if strategy_id is not None:
        where.append(c.strategy_id == strategy_id)
    if outcome is not None:
        where.append(c.outcome == outcome)
    if since_ts is not None:
        where.append(c.ts >= since_ts)
    if until_ts is not None:
        where.append(c.ts < until_ts)
    if after_id is not None:
        where.append(c.id > after_id)
    if upto_id is not None:
        where.append(c.id <= upto_id)
    return where


def load_arb_executions(
    storage: Storage,
    *,
    strategy_id: str | None = None,
    outcome: str | None = None,
    since_ts: int | None = None,
    until_ts: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
    after_id: int | None = None,
) -> list[dict[str, Any]]:
    """Return recorded cycles, oldest first unless `newest_first`.

    Filters: one strategy, one outcome, cycles started at or after `since_ts` and before
    `until_ts` (epoch ms), records after the id `after_id`.
    """
    c = arb_executions.c
    stmt: Select[Any] = select(arb_executions).where(
        *_filters(strategy_id, outcome, since_ts, until_ts, after_id)
    )
    if newest_first:
        stmt = stmt.order_by(c.ts.desc(), c.id.desc())
    else:
        stmt = stmt.order_by(c.ts, c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [dict(r._mapping) for r in storage._read(stmt)]


def count_arb_executions(
    storage: Storage,
    *,
    strategy_id: str | None = None,
    outcome: str | None = None,
    since_ts: int | None = None,
    until_ts: int | None = None,
) -> int:
    """Return how many recorded cycles match the filters of `load_arb_executions`."""
    where = _filters(strategy_id, outcome, since_ts, until_ts)
    stmt = select(func.count()).select_from(arb_executions).where(*where)
    return int(storage._read(stmt)[0][0])


def load_arb_figures(
    storage: Storage,
    *,
    strategy_id: str | None = None,
    since_ts: int | None = None,
    until_ts: int | None = None,
    after_id: int | None = None,
    upto_id: int | None = None,
) -> list[dict[str, Any]]:
    """Return what a summary needs of each matching cycle, in id order, without the records.

    Each row: id, strategy_id, outcome, start_asset, expected_profit_pct, actual_profit (Decimals),
    latency_ms, ts, and from the `legs` JSON, read by the database: actual_profit_pct (its string)
    and held (asset -> amount string; None unless the outcome is `held`).
    """
    c = arb_executions.c
    stmt = (
        select(
            c.id,
            c.strategy_id,
            c.outcome,
            c.start_asset,
            c.expected_profit_pct,
            c.actual_profit,
            c.latency_ms,
            c.ts,
            c.legs["actual_profit_pct"].as_string().label("actual_profit_pct"),
            case((c.outcome == "held", c.legs["held"])).label("held"),
        )
        .where(*_filters(strategy_id, None, since_ts, until_ts, after_id, upto_id))
        .order_by(c.id)
    )
    return [dict(r._mapping) for r in storage._read(stmt)]


def last_arb_execution_id(storage: Storage) -> int:
    """Return the highest record id, 0 when nothing is recorded."""
    value = storage._read(select(func.max(arb_executions.c.id)))[0][0]
    return int(value) if value is not None else 0


def arb_strategy_ids(
    storage: Storage, *, after_id: int | None = None, upto_id: int | None = None
) -> list[str]:
    """Return the ids of the strategies that recorded cycles (with ids in the range), sorted."""
    c = arb_executions.c
    stmt = select(c.strategy_id).where(*_filters(after_id=after_id, upto_id=upto_id))
    return sorted({str(r[0]) for r in storage._read(stmt.distinct())})

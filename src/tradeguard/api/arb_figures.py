"""Recorded arbitrage cycles for the API, the dashboard and the metrics.

```python
item = execution_json(row)                # one row: Decimals as strings, legs as stored
figures = ArbFigures(node.storage)
(await figures.summary("tri")).to_json()  # reads only the rows recorded since the last call
```

The routes run on the trading node's event loop, so a summary must not read every recorded
cycle on each dashboard refresh: each filter keeps its running `ArbSummary` and the id of the
last row folded in, and only newer rows are read (records are never deleted; the one rewritten
last is named in `ARB_AMENDED_KEY`, and a new name there has every summary read again).
A held position's settlement changes its cycle's trade (`ArbSummary.settle`): the node keeps
each strategy's settlements in order under `SETTLED_KEY`, and each filter folds in the ones
it has not seen whose record it counts, as the node's own figures (`status`) do.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.pool import StaticPool

from tradeguard.model.balance import Balance
from tradeguard.model.money import plain
from tradeguard.portfolio.arb_summary import (
    SETTLED_KEY,
    WITH_FILL,
    ArbSummary,
    decimal_or_none,
    settlement_entries,
)
from tradeguard.storage.arb_repository import (
    ARB_AMENDED_KEY,
    arb_strategy_ids,
    last_arb_execution_id,
    load_arb_figures,
)
from tradeguard.storage.repository import Storage

_Key = tuple[str | None, int | None, int | None]
_BUILD_SLICE = 1000  # record ids read at once when a summary is built from scratch


def _text(value: Any) -> str | None:
    d = decimal_or_none(value)
    return None if d is None else plain(d)


# The amounts in a recorded leg: stored as text (records made before amounts were written plain
# hold 2.5E-7), shown as plain digits.
_LEG_FIGURES = frozenset(
    {"scanned_price", "limit_price", "order_amount", "filled", "avg_price", "spent", "received",
     "fee", "price", "contracts"}
)  # fmt: skip


def _leg_json(leg: Any) -> Any:
    if not isinstance(leg, Mapping):
        return leg
    return {k: _kept(v) if k in _LEG_FIGURES else v for k, v in leg.items()}


def _amounts(by_asset: Any) -> dict[str, Any]:
    return {a: _kept(q) for a, q in dict(by_asset or {}).items()}


def _kept(value: Any) -> Any:
    """A stored figure as plain digits; what does not read as a number is shown as stored."""
    text = _text(value)
    return value if text is None else text


def execution_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """Describe one recorded cycle for the API (Decimals as strings)."""
    legs = row.get("legs") or {}
    cycle = row.get("cycle") or {}
    expected_pct = decimal_or_none(row.get("expected_profit_pct"))
    actual_pct = decimal_or_none(legs.get("actual_profit_pct"))
    slippage = (
        actual_pct - expected_pct
        if expected_pct is not None and actual_pct is not None and row["outcome"] in WITH_FILL
        else None
    )
    return {
        "id": row["id"],
        "strategy_id": row["strategy_id"],
        "ts": row["ts"],
        "path": cycle.get("path", ""),
        "cycle_id": cycle.get("cycle_id"),
        "start_asset": row["start_asset"],
        "outcome": row["outcome"],
        "reason": legs.get("reason", ""),
        "size": _text(legs.get("size")),
        "spent": _text(legs.get("spent")),
        "returned": _text(legs.get("returned")),
        "expected_profit": _text(legs.get("expected_profit")),
        "expected_profit_pct": _text(expected_pct),
        "actual_profit": _text(row.get("actual_profit")),
        "actual_profit_pct": _text(actual_pct),
        "slippage_pct": _text(slippage),
        "fees": _text(row.get("fees")),
        "unwind_loss": _text(legs.get("unwind_loss")),
        "latency_ms": row.get("latency_ms"),
        "first_order_ms": legs.get("first_order_ms"),
        "legs": [_leg_json(leg) for leg in legs.get("legs") or []],
        "unwinds": [_leg_json(leg) for leg in legs.get("unwinds") or []],
        "held": _amounts(legs.get("held")),
        "dust": _amounts(legs.get("dust")),
        "scanned": {
            "max_size": _text(cycle.get("max_size")),
            "size_limited_by": cycle.get("size_limited_by"),
            "legs": [_leg_json(leg) for leg in cycle.get("legs") or []],
        },
    }


@dataclass(slots=True)
class _Entry:
    summary: ArbSummary = field(default_factory=ArbSummary)
    seen_id: int = 0  # every record up to this id is folded in
    settled_seen: dict[str, int] = field(default_factory=dict)  # strategy -> settlements read


def _matches(row: Mapping[str, Any], key: _Key) -> bool:
    strategy_id, since_ts, until_ts = key
    ts = int(row["ts"])
    return (
        (strategy_id is None or row["strategy_id"] == strategy_id)
        and (since_ts is None or ts >= since_ts)
        and (until_ts is None or ts < until_ts)
    )


class ArbFigures:
    """Running arbitrage summaries per (strategy, since, until), least recently used dropped.

    The first summary of a filter reads every matching record, in a worker thread so that the
    event loop keeps trading; after that only records with a higher id are read (by primary key)
    and folded in on the loop.
    """

    def __init__(self, storage: Storage, max_entries: int = 64) -> None:
        self.storage = storage
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._strategy_ids: set[str] = set()
        self._ids_seen = 0
        self._amended: Any = None  # ARB_AMENDED_KEY as the summaries kept were read
        # A single shared connection (an in-memory database) must not be used from two threads.
        self._inline = isinstance(storage.db.engine.pool, StaticPool)

    async def summary(
        self,
        strategy_id: str | None = None,
        since_ts: int | None = None,
        until_ts: int | None = None,
    ) -> ArbSummary:
        """Return the summary of the cycles matching the filters, as recorded now."""
        key = (strategy_id, since_ts, until_ts)
        amended = self.storage.kv_get(ARB_AMENDED_KEY)
        if amended != self._amended:  # a record folded in already was rewritten
            self._entries.clear()
            self._amended = amended
        # read before the records: a settlement is committed after the record it changes
        settled = self._settlements(strategy_id)
        entry = self._entries.get(key)
        if entry is None:
            top = last_arb_execution_id(self.storage)
            if self._inline:
                built = self._build(key, top)
            else:
                built = await asyncio.to_thread(self._build, key, top)
            entry = self._entries.get(key)  # another request may have built it meanwhile
            if entry is None or entry.seen_id < built.seen_id:
                entry = self._entries[key] = built
        self._advance(entry, key, last_arb_execution_id(self.storage))
        self._settle(entry, key, settled)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return entry.summary

    def _build(self, key: _Key, top: int) -> _Entry:
        # In slices of ids: each read holds the interpreter only briefly, so the loop keeps going.
        entry = _Entry()
        while entry.seen_id < top:
            self._advance(entry, key, min(entry.seen_id + _BUILD_SLICE, top))
        return entry

    def _advance(self, entry: _Entry, key: _Key, top: int) -> None:
        if top <= entry.seen_id:
            return
        # By id range only, so the primary key answers; the filters are applied here.
        for row in load_arb_figures(self.storage, after_id=entry.seen_id, upto_id=top):
            if _matches(row, key):
                entry.summary.add(row)
        entry.seen_id = top

    def _settlements(self, strategy_id: str | None) -> dict[str, list[Any]]:
        sids = [strategy_id] if strategy_id is not None else self.strategy_ids()
        return {
            sid: settlement_entries(self.storage.kv_get(SETTLED_KEY.format(sid))) for sid in sids
        }

    def _settle(self, entry: _Entry, key: _Key, settled: dict[str, list[Any]]) -> None:
        _, since_ts, until_ts = key
        windowed = since_ts is not None or until_ts is not None
        for sid, entries in settled.items():
            seen = entry.settled_seen.get(sid, 0)
            for booked, realised, rid, capital in entries[seen:]:
                if rid is not None and rid > entry.seen_id:
                    break  # its record is not folded in yet: the next summary takes it
                seen += 1
                if rid is None and windowed:
                    continue  # a settlement of an unknown record is counted only in the total
                if rid is not None:
                    rows = load_arb_figures(self.storage, after_id=rid - 1, upto_id=rid)
                    if not rows or not _matches(rows[0], key):
                        continue
                entry.summary.settle(booked, realised, rid, capital)
            entry.settled_seen[sid] = seen

    def strategy_ids(self) -> list[str]:
        """Return the ids of the strategies that recorded cycles."""
        top = last_arb_execution_id(self.storage)
        if top > self._ids_seen:
            after = self._ids_seen or None
            self._strategy_ids.update(arb_strategy_ids(self.storage, after_id=after, upto_id=top))
            self._ids_seen = top
        return sorted(self._strategy_ids)


def held_now(held: Mapping[str, Decimal], balances: Iterable[Balance]) -> dict[str, str]:
    """Return what held cycles left that the ledger still holds (each asset capped by it).

    Selling a held asset back by hand shows here at once; the recorded amounts do not change.
    A triangular record names an asset (`ETH`), a cross-venue one the leg's symbol
    (`KX:NO/USD`), whose contracts the ledger holds as its base asset (`KX:NO`).
    """
    have: dict[str, Decimal] = {}
    for b in balances:
        have[b.asset] = have.get(b.asset, Decimal(0)) + b.total
    out = {}
    for asset, amount in sorted(held.items()):
        left = min(amount, have.get(asset.split("/", 1)[0], Decimal(0)))
        if left > 0:
            out[asset] = plain(left)
    return out

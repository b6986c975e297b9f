"""Which record of a strategy names an order as a pair leg or an unwind, by an index built once
and then read on from the newest record it holds: a failed fill's cut finds its record without
reading every record the strategy ever wrote.

```python
record_naming(storage, "pmarb", "c-17")                  # the newest record naming it as a leg
record_naming(storage, "pmarb", "c-18", unwinds=True)    # ... or as an unwind
```
"""

from __future__ import annotations

from typing import Any

_ATTR = "_record_index"  # on the storage: owner -> _Index


class _Index:
    """One strategy's (part, order) -> newest record id, and the newest record read."""

    def __init__(self) -> None:
        self.last_id = 0
        self.amended: Any = None
        self.named: dict[tuple[str, str], int] = {}

    def fold(self, row: dict[str, Any]) -> None:
        legs = row.get("legs")
        rid = int(row["id"])
        for part in ("legs", "unwinds"):
            named = legs.get(part) if isinstance(legs, dict) else None
            for leg in named or ():
                cid = leg.get("client_order_id") if isinstance(leg, dict) else None
                if cid and rid >= self.named.get((part, str(cid)), 0):
                    self.named[(part, str(cid))] = rid
        self.last_id = max(self.last_id, rid)


def _index(storage: Any, owner: str, fresh: bool = False) -> _Index:
    from tradeguard.storage.arb_repository import ARB_AMENDED_KEY, load_arb_executions

    indexes: dict[str, _Index] = storage.__dict__.setdefault(_ATTR, {})
    index = indexes.get(owner)
    if index is None or fresh:
        index = indexes[owner] = _Index()
    amended = storage.kv_get(ARB_AMENDED_KEY)
    if amended != index.amended and isinstance(amended, int) and amended <= index.last_id:
        for row in load_arb_executions(storage, strategy_id=owner, after_id=amended - 1,
                                       limit=1):  # fmt: skip
            index.fold(row)  # a rewrite may name an unwind it added
    index.amended = amended
    for row in load_arb_executions(storage, strategy_id=owner, after_id=index.last_id):
        index.fold(row)
    return index


def _names(storage: Any, owner: str, rid: int, cid: str, parts: tuple[str, ...]) -> bool:
    """Whether the record `rid` of `owner` names `cid` in `parts` (a rolled-back record's id
    may have been written again since the index read it)."""
    from tradeguard.storage.arb_repository import load_arb_executions

    rows = load_arb_executions(storage, strategy_id=owner, after_id=rid - 1, limit=1)
    if not rows or int(rows[0]["id"]) != rid:
        return False
    probe = _Index()
    probe.fold(rows[0])
    return any((part, cid) in probe.named for part in parts)


def record_naming(
    storage: Any, owner: str, client_order_id: str, unwinds: bool = False
) -> int | None:
    """The id of `owner`'s newest record naming the order `client_order_id` as a leg (with
    `unwinds`, as an unwind too); None when no record names it."""
    if not client_order_id:
        return None
    parts = ("legs", "unwinds") if unwinds else ("legs",)
    for fresh in (False, True):
        index = _index(storage, owner, fresh)
        found = [index.named[(p, client_order_id)] for p in parts
                 if (p, client_order_id) in index.named]  # fmt: skip
        if not found:
            if fresh:
                return None
            continue
        rid = max(found)
        if _names(storage, owner, rid, client_order_id, parts):
            return rid
    return None


__all__ = ["record_naming"]

"""The record naming a failed fill's order is read through an index kept with the storage:
a cut reads the records written since the last one, not every record of the strategy."""

from __future__ import annotations

from typing import Any

import pytest

from tradeguard.execution.failed_fills import _record_naming
from tradeguard.storage import Storage
from tradeguard.storage.arb_repository import insert_arb_execution

pytest_plugins = ["storage_fixtures"]


def _record(store: Storage, legs: list[str], unwinds: tuple[str, ...] = (), ts: int = 1) -> int:
    body = {"legs": [{"client_order_id": c, "status": "filled"} for c in legs],
            "unwinds": [{"client_order_id": c, "status": "filled"} for c in unwinds]}  # fmt: skip
    row = {"strategy_id": "pmarb", "start_asset": "USD", "outcome": "completed", "ts": ts,
           "legs": body}  # fmt: skip
    return insert_arb_execution(store, row)


class _Rows:
    """Count the rows the storage's reads return."""

    def __init__(self, store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n, read = 0, store._read

        def counted(*a: Any, **kw: Any) -> Any:
            rows = read(*a, **kw)
            self.n += len(rows)
            return rows

        monkeypatch.setattr(store, "_read", counted)


def test_a_cut_reads_the_records_written_since_the_last_not_all_of_them(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, every cut read all the strategy's records (newest first) to find the one naming
    its order: 200 records read for each flagged fill of a strategy with 200 records."""
    ids = [_record(store, [f"leg-{i}"], (f"back-{i}",), ts=i) for i in range(200)]
    rows = _Rows(store, monkeypatch)
    assert _record_naming(store, "pmarb", "leg-3") == ids[3]
    first = rows.n
    newest = _record(store, ["leg-new"], ts=500)
    rows.n = 0
    assert _record_naming(store, "pmarb", "leg-new") == newest
    assert rows.n <= 3 < first  # the new record, the record found (checked), the kv mark
    assert _record_naming(store, "pmarb", "back-7") is None  # an unwind, not a leg
    assert _record_naming(store, "pmarb", "back-7", unwinds=True) == ids[7]
    assert _record_naming(store, "other", "leg-3") is None  # another strategy's


def test_a_record_rolled_back_after_the_index_read_it_is_not_found(store: Storage) -> None:
    """The index read a record inside a transaction that then rolled back: the order it named
    is named by no record (its id may be written again by another record)."""
    _record(store, ["leg-a"])
    with pytest.raises(RuntimeError), store.transaction():
        _record(store, ["leg-b"])
        assert _record_naming(store, "pmarb", "leg-b") is not None
        raise RuntimeError("refused")
    again = _record(store, ["leg-c"])
    assert _record_naming(store, "pmarb", "leg-b") is None
    assert _record_naming(store, "pmarb", "leg-c") == again

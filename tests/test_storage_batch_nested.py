"""A write batch's unit (a backtest) never commits half of a nested block that failed.

In a write batch a nested `transaction()` has no savepoint: its writes are held in memory with
the unit's, and the memory it changed is not kept to be put back. A block that raises after
writing, its error caught by its caller (a venue call answered as an error, then asked about),
left its rows in the batch: the unit's commit recorded half an event. Such a unit now refuses
its commit, naming the failure, and rolls back to its last commit (the run ends, and a resume
does the work again); a nested block that fails before writing anything leaves the unit as
it was, and one that succeeds commits with it.
"""

from __future__ import annotations

import pytest

from tradeguard.storage.nesting import HalfWritten
from tradeguard.storage.repository import Storage

pytest_plugins = ["storage_fixtures"]


def _failing_block(store: Storage, write: bool) -> None:
    try:
        with store.transaction():
            if write:
                store.kv_set("half", "written")
            raise ValueError("refused halfway")
    except ValueError:
        pass  # caught: the caller goes on


def test_a_caught_failure_after_a_write_refuses_the_units_commit(store: Storage) -> None:
    with store.holding_connection():
        with store.unit_of_work(batch=True):
            store.kv_set("committed", 1)
            store.commit_unit()
        with (
            pytest.raises(HalfWritten, match="ValueError") as refused,
            store.unit_of_work(batch=True),
        ):
            store.kv_set("before", 2)
            _failing_block(store, write=True)
            store.kv_set("after", 3)
            store.commit_unit()
    assert "rolled back to the last commit" in str(refused.value)
    # before: "half" was committed with the unit's other writes
    assert [store.kv_get(k) for k in ("committed", "before", "half", "after")] == [
        1, None, None, None,
    ]  # fmt: skip


def test_a_caught_failure_after_a_read_flushed_the_batch_refuses_the_commit(
    store: Storage,
) -> None:
    """The block's write reached the database (a read flushed the batch): still refused."""
    with pytest.raises(HalfWritten), store.holding_connection(), store.unit_of_work(batch=True):
        try:
            with store.transaction():
                store.kv_set("half", "written")
                assert store.kv_get("half") == "written"  # the read flushes the batch
                raise ValueError("refused halfway")
        except ValueError:
            pass
    assert store.kv_get("half") is None


def test_a_caught_failure_before_any_write_keeps_the_unit(store: Storage) -> None:
    with store.holding_connection(), store.unit_of_work(batch=True):
        store.kv_set("before", 1)
        assert store.kv_get("before") == 1  # flushed: a failure after it wrote nothing new
        _failing_block(store, write=False)
        with store.transaction():
            store.kv_set("inner-ok", 2)
        store.kv_set("after", 3)
    assert [store.kv_get(k) for k in ("before", "inner-ok", "after")] == [1, 2, 3]


def test_a_caught_failure_after_a_write_past_the_batch_refuses_the_commit(
    store: Storage,
) -> None:
    """A delete runs on the connection at once (no row held in the batch, which was empty):
    a block whose only write it is, failing after it, is refused all the same."""
    with store.holding_connection():
        with store.unit_of_work(batch=True):
            store.kv_set("kept", 1)
            store.commit_unit()
        with pytest.raises(HalfWritten), store.unit_of_work(batch=True):
            try:
                with store.transaction():
                    store.kv_delete("kept")  # nothing held: the batch is empty
                    raise ValueError("refused halfway")
            except ValueError:
                pass
            store.kv_set("after", 2)
    assert [store.kv_get(k) for k in ("kept", "after")] == [1, None]

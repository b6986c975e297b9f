"""A `transaction()` inside an open one that raises takes back its own writes and memory.

The API shares the event loop (and the thread) with the node: a request handled while a replay
waits runs inside that replay's unit of work. A request refused halfway (its error caught and
answered) must leave neither rows nor in-memory changes, while the unit's own work stays.
"""

from __future__ import annotations

import pytest

from tradeguard.storage.repository import Storage

pytest_plugins = ["storage_fixtures"]


def _refused(store: Storage, done: list[str], key: str) -> None:
    try:
        with store.transaction():
            store.kv_set(key, "half")
            store.on_rollback(lambda: done.append(key))
            raise ValueError("refused halfway")
    except ValueError:
        pass  # answered as an error: the caller goes on


def test_a_caught_nested_failure_in_a_unit_of_work_leaves_no_row_nor_memory(
    store: Storage,
) -> None:
    done: list[str] = []
    with store.holding_connection(), store.unit_of_work():
        store.kv_set("unit", "before")
        store.on_rollback(lambda: done.append("unit"))
        _refused(store, done, "request")
        assert done == ["request"]  # its undo ran at once, the unit's did not
        store.kv_set("unit-after", "after")
    assert done == ["request"]
    assert store.kv_get("request") is None
    assert store.kv_get("unit") == "before" and store.kv_get("unit-after") == "after"


def test_a_caught_nested_failure_in_a_transaction_keeps_the_outer_writes(store: Storage) -> None:
    done: list[str] = []
    with store.transaction():
        store.kv_set("outer", 1)
        with store.transaction():  # a nested block that succeeds stays in the outer commit
            store.kv_set("inner-ok", 2)
        _refused(store, done, "inner-bad")
        store.kv_set("outer-after", 3)
    assert done == ["inner-bad"]
    assert store.kv_get("inner-bad") is None
    assert [store.kv_get(k) for k in ("outer", "inner-ok", "outer-after")] == [1, 2, 3]


def test_a_nested_failure_that_escapes_still_rolls_everything_back(store: Storage) -> None:
    done: list[str] = []
    with pytest.raises(ValueError), store.transaction():
        store.kv_set("outer", 1)
        store.on_rollback(lambda: done.append("outer"))
        with store.transaction():
            store.kv_set("inner", 2)
            store.on_rollback(lambda: done.append("inner"))
            raise ValueError("not caught")
    assert done == ["inner", "outer"]
    assert store.kv_get("outer") is None and store.kv_get("inner") is None
    assert not store.in_transaction


def test_a_nested_failure_inside_a_nested_block_keeps_its_parent_writes(store: Storage) -> None:
    done: list[str] = []
    with store.holding_connection(), store.unit_of_work():
        with store.transaction():
            store.kv_set("parent", 1)
            _refused(store, done, "child")
            store.kv_set("parent-after", 2)
        store.commit_unit()
        _refused(store, done, "after-commit")
    assert done == ["child", "after-commit"]
    assert store.kv_get("child") is None and store.kv_get("after-commit") is None
    assert store.kv_get("parent") == 1 and store.kv_get("parent-after") == 2


def test_a_units_first_write_in_a_nested_block_waits_for_the_units_commit(
    store: Storage,
) -> None:
    other = Storage(store.db)  # another connection reads only what is committed
    with store.holding_connection(), store.unit_of_work():
        with store.transaction():  # the unit's first write: its savepoint opens no commit
            store.kv_set("first", 1)
        assert other.kv_get("first") is None
        store.commit_unit()
        assert other.kv_get("first") == 1
        with store.transaction():
            store.kv_set("next", 2)
        assert other.kv_get("next") is None
    assert other.kv_get("next") == 2

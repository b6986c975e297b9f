"""Edges of a nested `transaction()` that raises: a commit inside it, a failing undo entry."""

from __future__ import annotations

import pytest

from tradeguard.storage.repository import Storage

pytest_plugins = ["storage_fixtures"]


def test_a_commit_inside_a_nested_block_keeps_what_it_committed(store: Storage) -> None:
    done: list[str] = []
    other = Storage(store.db)
    with store.holding_connection(), store.unit_of_work():
        store.kv_set("unit", 0)
        try:
            with store.transaction():
                store.kv_set("before-commit", 1)
                store.on_rollback(lambda: done.append("before-commit"))
                store.commit_unit()
                store.kv_set("after-commit", 2)
                store.on_rollback(lambda: done.append("after-commit"))
                raise ValueError("refused after the commit")
        except ValueError:
            pass
        assert other.kv_get("before-commit") == 1
        store.kv_set("unit-after", 3)
    assert done == ["after-commit"]
    assert store.kv_get("after-commit") is None
    assert [store.kv_get(k) for k in ("unit", "before-commit", "unit-after")] == [0, 1, 3]


def test_a_failing_undo_entry_of_a_nested_block_still_lets_the_others_run(
    store: Storage,
) -> None:
    done: list[str] = []

    def broken() -> None:
        raise RuntimeError("undo failed")

    with pytest.raises((ValueError, RuntimeError)), store.transaction():
        store.kv_set("outer", 1)
        store.on_rollback(lambda: done.append("outer"))
        with store.transaction():
            store.kv_set("inner", 2)
            store.on_rollback(lambda: done.append("inner-first"))
            store.on_rollback(broken)
            raise ValueError("refused")
    # every change the rolled-back block made in memory is taken back, like the outer one
    assert sorted(done) == ["inner-first", "outer"]
    assert store.kv_get("outer") is None and store.kv_get("inner") is None


def test_a_nested_block_after_a_caught_failed_write_on_the_outer_transaction(
    store: Storage,
) -> None:
    with store.transaction():
        store.kv_set("outer", 1)
        with store.transaction():
            with store.transaction():
                store.kv_set("deep", 2)
            store.kv_set("mid", 3)
        try:
            with store.transaction(), store.transaction():
                store.kv_set("deep-bad", 4)
                raise ValueError("x")
        except ValueError:
            pass
        with store.transaction():
            pass  # no writes: no savepoint
        store.kv_set("tail", 5)
    assert [store.kv_get(k) for k in ("outer", "deep", "mid", "deep-bad", "tail")] == [
        1, 2, 3, None, 5,
    ]  # fmt: skip

"""Audit events told inside a nested `transaction()` that an error leaves go with the block's
work, even when its caller catches the error and the open transaction commits (an API request
refused halfway while a replay waits); the open transaction's own events are written."""

from __future__ import annotations

from tradeguard.model.events import Event
from tradeguard.node.audit_log import AuditLog
from tradeguard.storage.repository import Storage

pytest_plugins = ["storage_fixtures"]


def test_an_event_of_a_refused_nested_block_is_not_written_with_the_outer_commit(
    store: Storage,
) -> None:
    audit = AuditLog(store)
    store.add_commit_hook(audit.write)
    with store.transaction():
        store.kv_set("outer", 1)
        audit.on_event(Event("order.submitted", 1, {"n": 1}))
        try:
            with store.transaction():
                store.kv_set("refused", 2)
                audit.on_event(Event("order.submitted", 2, {"n": 2}))
                raise ValueError("refused halfway")
        except ValueError:
            pass
    assert [e.ts for e in store.load_events()] == [1]


def test_events_written_inside_a_refused_nested_block_wait_for_the_next_commit_once(
    store: Storage,
) -> None:
    audit = AuditLog(store)
    store.add_commit_hook(audit.write)
    with store.holding_connection(), store.unit_of_work():
        audit.on_event(Event("order.submitted", 1, {}))
        try:
            with store.transaction():
                audit.on_event(Event("order.submitted", 2, {}))
                audit.write()  # a full buffer written into the unit (rolled back with the block)
                audit.on_event(Event("order.submitted", 3, {}))
                raise ValueError("refused halfway")
        except ValueError:
            pass
        audit.on_event(Event("order.submitted", 4, {}))
    assert sorted(e.ts for e in store.load_events()) == [1, 4]


def test_a_failed_commit_keeps_each_event_told_before_it_once(store: Storage) -> None:
    audit = AuditLog(store)
    store.add_commit_hook(audit.write)
    try:
        with store.transaction():
            audit.on_event(Event("order.submitted", 1, {}))
            with store.transaction():
                audit.on_event(Event("order.submitted", 2, {}))
            audit.on_event(Event("order.submitted", 3, {}))
            raise OSError("disk full")
    except OSError:
        pass
    assert audit.buffer == []  # the transaction's events went with it
    with store.transaction():
        audit.on_event(Event("order.submitted", 5, {}))
    assert [e.ts for e in store.load_events()] == [5]

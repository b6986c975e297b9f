"""The bus's outward side (queues, `committed` handlers) against a real SQLite storage: an
event told in a transaction leaves when it commits, goes with a block that rolls back, and
one told outside any transaction leaves at once."""

from __future__ import annotations

import threading

import pytest

from tradeguard.bus import EventBus, EventQueue
from tradeguard.model.events import Event
from tradeguard.node.builder import wire_bus
from tradeguard.storage.repository import Storage

pytest_plugins = ["storage_fixtures"]


def _bus(store: Storage) -> tuple[EventBus, EventQueue, list[str], list[str]]:
    bus = EventBus()
    wire_bus(bus, store)
    at_once: list[str] = []
    committed: list[str] = []
    bus.subscribe(lambda e: at_once.append(e.kind))
    bus.subscribe(lambda e: committed.append(e.kind), "risk.", committed=True)
    return bus, bus.queue(), at_once, committed


def _drain(queue: EventQueue) -> list[str]:
    kinds = []
    while not queue.empty():
        kinds.append(queue.get_nowait().kind)
    return kinds


def test_events_told_in_a_transaction_leave_after_its_commit_in_order(store: Storage) -> None:
    bus, queue, at_once, committed = _bus(store)
    with store.transaction():
        store.kv_set("k", 1)
        bus.publish(Event("risk.breaker_tripped", 1))
        bus.publish(Event("fill", 1))
        assert _drain(queue) == [] and committed == []  # not committed yet
        assert at_once == ["risk.breaker_tripped", "fill"]  # the audit log's kind: told now
    assert _drain(queue) == ["risk.breaker_tripped", "fill"]
    assert committed == ["risk.breaker_tripped"]
    bus.publish(Event("risk.resume", 2))  # no transaction open: out at once
    assert _drain(queue) == ["risk.resume"] and committed[-1] == "risk.resume"


def test_a_rolled_back_transaction_announces_nothing_and_its_retry_once(store: Storage) -> None:
    bus, queue, _, committed = _bus(store)
    with pytest.raises(OSError), store.transaction():
        store.kv_set("k", 1)
        bus.publish(Event("risk.breaker_tripped", 1))
        raise OSError("disk full")
    with store.transaction():
        store.kv_set("other", 1)  # the next commit does not carry it either
    assert _drain(queue) == [] and committed == []
    with store.transaction():
        store.kv_set("k", 1)
        bus.publish(Event("risk.breaker_tripped", 1))
    assert _drain(queue) == ["risk.breaker_tripped"] and committed == ["risk.breaker_tripped"]


def test_a_nested_block_that_rolls_back_takes_only_its_own_events(store: Storage) -> None:
    bus, queue, _, _ = _bus(store)
    with store.transaction():
        store.kv_set("outer", 1)
        bus.publish(Event("fill", 1))
        with pytest.raises(OSError), store.transaction():
            store.kv_set("inner", 1)
            bus.publish(Event("position.closed", 1))
            raise OSError("refused")
        bus.publish(Event("order.filled", 1))
    assert _drain(queue) == ["fill", "order.filled"]


def test_a_unit_of_works_events_leave_at_each_commit(store: Storage) -> None:
    bus, queue, _, _ = _bus(store)
    with store.holding_connection(), store.unit_of_work():
        store.kv_set("a", 1)
        bus.publish(Event("fill", 1))
        assert _drain(queue) == []
        store.commit_unit()
        assert _drain(queue) == ["fill"]
        store.kv_set("b", 1)
        bus.publish(Event("fill", 2))
    assert _drain(queue) == ["fill"]


def test_a_write_batch_unit_that_rolls_back_announces_nothing(store: Storage) -> None:
    bus, queue, _, _ = _bus(store)  # a backtest's commits: nothing kept per write to undo
    with pytest.raises(OSError), store.holding_connection(), store.unit_of_work(batch=True):
        store.kv_set("a", 1)
        bus.publish(Event("fill", 1))
        raise OSError("disk full")
    with store.transaction():
        store.kv_set("b", 1)
    assert _drain(queue) == []


def test_another_threads_commit_or_rollback_leaves_this_threads_events_held(
    store: Storage,
) -> None:
    # a transaction is a thread's own (an API thread's, a worker's): what one thread holds
    # leaves with its own commit only, never with another thread's nor with its rollback
    bus, queue, _, committed = _bus(store)
    told, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.transaction():
            bus.publish(Event("risk.breaker_tripped", 1))
            told.set()
            release.wait(10)
            store.kv_set("held", 1)

    worker = threading.Thread(target=holder)
    worker.start()
    try:
        assert told.wait(10)
        with store.transaction():
            store.kv_set("other", 1)  # this thread commits: the other's event stays held
        with pytest.raises(OSError), store.transaction():
            store.kv_set("other", 2)
            raise OSError("refused")  # and rolls back: the other's is not dropped either
        assert _drain(queue) == [] and committed == []
    finally:
        release.set()
        worker.join(10)
    assert _drain(queue) == ["risk.breaker_tripped"] and committed == ["risk.breaker_tripped"]

"""Counts held for a commit belong to the thread whose transaction holds them.

The order path runs on more than one thread (the event loop, a venue's stream thread, a
replay): each has its own transaction. A count held for one thread's commit must be added when
that transaction commits and dropped when it rolls back, whatever the other threads commit or
roll back meanwhile.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from test_fill_rollback_followers import _node
from tradeguard.model.events import Event, EventKind

FILL = Event(EventKind.FILL, 1, venue="paper", symbol="BTC/USDT")
PLACED = Event(EventKind.ORDER_SUBMITTED, 1, venue="paper", symbol="BTC/USDT")
FILLS = ("tradeguard_fills_total", {"venue": "paper", "symbol": "BTC/USDT"})
PLACED_TOTAL = ("tradeguard_orders_total", {"venue": "paper", "status": "submitted"})


class _Gate:
    """Two threads taking turns: each step waits for the other's."""

    def __init__(self) -> None:
        self.steps = [threading.Event() for _ in range(4)]

    def go(self, step: int) -> None:
        self.steps[step].set()

    def wait(self, step: int) -> None:
        assert self.steps[step].wait(5), f"step {step} never came"


def _counted(metrics: Any, sample: tuple[str, dict[str, str]]) -> float:
    return metrics.registry.get_sample_value(*sample) or 0.0


@pytest.mark.parametrize("first", ["rollback", "commit"])
def test_a_rollback_on_one_thread_and_a_commit_on_another_count_each_its_own(
    tmp_path: Path, first: str
) -> None:
    from tradeguard.api.metrics import NodeMetrics

    node = _node(tmp_path)
    try:
        metrics = NodeMetrics(node)
        storage = node.storage
        gate = _Gate()
        failed: list[BaseException] = []

        def failing_fill() -> None:  # a fill told, then its commit fails
            try:
                with storage.transaction():
                    metrics.on_event(FILL)
                    gate.go(0)
                    gate.wait(1)
                    raise OSError("disk full")
            except OSError:
                gate.go(2)
            except BaseException as exc:  # reported to the test thread
                failed.append(exc)
                gate.go(2)

        other = threading.Thread(target=failing_fill)
        other.start()
        gate.wait(0)
        with storage.transaction():  # an order placed on this thread, committed
            metrics.on_event(PLACED)
            if first == "rollback":
                gate.go(1)
                gate.wait(2)  # the other thread's commit failed while this one is open
        if first == "commit":
            gate.go(1)  # committed while the other thread's transaction is open
            gate.wait(2)
        other.join(5)
        assert not failed, failed

        assert _counted(metrics, PLACED_TOTAL) == 1.0  # committed: counted
        assert _counted(metrics, FILLS) == 0.0  # rolled back: not counted

        with storage.transaction():  # the venue tells the fill again: booked now
            metrics.on_event(FILL)
        assert _counted(metrics, FILLS) == 1.0
    finally:
        node.close()


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_unit_of_work_ending_on_a_thread_that_ends_leaves_no_count_held(
    tmp_path: Path, end: str
) -> None:
    """A unit of work (a replay's) whose last writes were committed by `commit_unit()` ends on
    its thread with a count told after them: the unit's end commits it (counted) or its error
    rolls it back (not counted, the venue tells it again), never held by a thread that is gone."""
    from tradeguard.api.metrics import NodeMetrics

    node = _node(tmp_path)
    try:
        metrics = NodeMetrics(node)
        storage = node.storage
        failed: list[BaseException] = []

        def replay() -> None:
            try:
                with storage.holding_connection(), storage.unit_of_work():
                    storage.kv_set("replay.cursor", 1)
                    metrics.on_event(PLACED)
                    storage.commit_unit()  # a candle's commit: the order counted
                    metrics.on_event(FILL)  # told after the last write
                    if end == "rollback":
                        raise OSError("disk full")
            except OSError:
                pass
            except BaseException as exc:  # reported to the test thread
                failed.append(exc)

        thread = threading.Thread(target=replay)
        thread.start()
        thread.join(5)
        assert not failed, failed
        assert _counted(metrics, PLACED_TOTAL) == 1.0
        assert _counted(metrics, FILLS) == (1.0 if end == "commit" else 0.0)
        with storage.transaction():  # a commit on this thread adds only its own counts
            metrics.on_event(FILL)
        assert _counted(metrics, FILLS) == (2.0 if end == "commit" else 1.0)
    finally:
        node.close()

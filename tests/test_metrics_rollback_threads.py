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

"""A venue that hangs on an order's cancel (order timeouts) or on the query of an unresolved
order holds neither the live loop's heartbeat nor its kill file: those calls run in a task of
their own, one at a time, as the kill's cancels and the periodic reconciliation do."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from tradeguard.node import duties


class NoFollowUp:
    def __init__(self, node: Any) -> None:
        pass

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class Node:
    """What the duties read of a node, with a venue that never answers."""

    def __init__(self) -> None:
        self.beats = self.polls = self.sweeps = self.retries = 0
        self.hang = asyncio.Event()  # never set: the venue holds the call
        cfg = SimpleNamespace(kill_poll_interval_s=0.01, checkpoint_interval_s=3600,
                              reconcile_interval_s=3600)  # fmt: skip
        self.config = SimpleNamespace(node=cfg)
        self.liveness = SimpleNamespace(beat=self._beat)
        self.kill_switch = SimpleNamespace(poll=self._poll)
        self.clock = SimpleNamespace(now_ms=lambda: 0)
        self.storage = SimpleNamespace(kv_set=lambda k, v: None)
        self.timeouts = SimpleNamespace(sweep=self._sweep)
        self.orders = SimpleNamespace(unknown={}, retry_unknown=self._retry)
        self.sweep_hangs = False

    def _checkpoint(self, ts: int) -> None:
        pass

    def _beat(self, lag: float | None) -> None:
        self.beats += 1

    def _poll(self) -> None:
        self.polls += 1

    async def _sweep(self) -> list[str]:
        self.sweeps += 1
        if self.sweep_hangs:
            await self.hang.wait()
        return []

    async def _retry(self) -> list[str]:
        self.retries += 1
        await self.hang.wait()
        return []


async def _run_until_polled(node: Node, n: int) -> None:
    task = asyncio.create_task(duties.duties(node))  # type: ignore[arg-type]
    try:
        # a guard against a hang only: the beats and reads are counted, not timed
        async with asyncio.timeout(10):
            while node.polls < n or node.beats < n:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [t for t in asyncio.all_tasks() if t.get_name() == "orders"] == []


async def test_a_hung_query_of_an_unresolved_order_holds_no_beat_nor_kill_file(monkeypatch):
    monkeypatch.setattr(duties, "FollowUpPasses", NoFollowUp)
    node = Node()
    node.orders.unknown["c1"] = object()
    await _run_until_polled(node, 10)
    assert node.retries == 1  # the one query still held all along: none started beside it


async def test_a_hung_timeout_cancel_holds_no_beat_nor_kill_file(monkeypatch):
    monkeypatch.setattr(duties, "FollowUpPasses", NoFollowUp)
    node = Node()
    node.sweep_hangs = True
    await _run_until_polled(node, 10)
    assert node.sweeps == 1


async def test_a_failed_order_check_ends_the_duties_with_its_error(monkeypatch):
    monkeypatch.setattr(duties, "FollowUpPasses", NoFollowUp)
    node = Node()

    async def broken() -> list[str]:
        raise RuntimeError("sweep broke")

    node.timeouts.sweep = broken
    with pytest.raises(RuntimeError, match="sweep broke"):
        async with asyncio.timeout(10):
            await duties.duties(node)  # type: ignore[arg-type]

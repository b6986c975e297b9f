"""A venue that hangs on an order's cancel (order timeouts) or on the query of an unresolved
order holds neither the live loop's heartbeat nor its kill file: those calls run in a task of
their own, one at a time, as the kill's cancels and the periodic reconciliation do. A kill
asked for through `TradingNode.kill` (the API's kill routes) while the live loop
runs queues with the kill file's: it waits for a kill still cancelling, and no periodic
reconciliation starts while it cancels."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from tradeguard.model.enums import TradingState
from tradeguard.node import duties
from tradeguard.node import node as node_module
from tradeguard.node.node import TradingNode


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
        # no loss limit asks a flatten; a checkpoint written lifts only a halt of its own
        self.risk = SimpleNamespace(
            flatten_asked=None, state=TradingState.ACTIVE, state_by="", halts_beneath={}
        )
        self.clock = SimpleNamespace(now_ms=lambda: 0)
        self.storage = SimpleNamespace(kv_set=lambda k, v: None)
        self.timeouts = SimpleNamespace(sweep=self._sweep)
        self.orders = SimpleNamespace(unknown={}, retry_unknown=self._retry)
        self.sweep_hangs = False
        self.kill_runner: Any = None
        self.state_saves = None  # no strategy asks for a store of its state

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


class KillNode(Node):
    """A node whose kill file asks for one kill, and whose kills wait on a hung venue."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.requests = ["file"]
        self.started: list[str] = []
        self.release = asyncio.Event()
        self.kill_switch = SimpleNamespace(poll=self._kill_poll, trigger=self._trigger)

        async def execute(node: Any, request: str) -> dict[str, Any]:
            self.started.append(request)
            await self.release.wait()
            if request == "broken":
                raise RuntimeError("kill broken failed")
            return {"request": request}

        monkeypatch.setattr(duties, "execute_kill", execute)
        monkeypatch.setattr(node_module, "execute_kill", execute)
        monkeypatch.setattr(duties, "FollowUpPasses", NoFollowUp)

    def _kill_poll(self) -> str | None:
        self.polls += 1
        return self.requests.pop(0) if self.requests else None

    def _trigger(self, reason: str, by: str, flatten: bool) -> str:
        return reason


async def _until(check: Any) -> None:
    async with asyncio.timeout(10):  # a guard against a hang only
        while not check():
            await asyncio.sleep(0.01)


async def test_a_kill_asked_by_the_api_waits_for_the_kill_file_s_then_runs_whole(monkeypatch):
    node = KillNode(monkeypatch)
    loop = asyncio.create_task(duties.duties(node))  # type: ignore[arg-type]
    try:
        await _until(lambda: node.started == ["file"] and node.polls >= 3)
        api = asyncio.create_task(TradingNode.kill(node, "api", "trader"))  # type: ignore[arg-type]
        await _until(lambda: node.polls >= 6)
        assert node.started == ["file"]  # the file's kill still cancels: the API's waits
        node.release.set()
        assert await api == {"request": "api"}
        assert node.started == ["file", "api"]
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_no_reconciliation_starts_while_an_api_kill_cancels(monkeypatch):
    node = KillNode(monkeypatch)
    node.requests = []
    node.config.node.reconcile_interval_s = 0
    reconciled: list[int] = []

    async def reconcile(self: Any) -> Any:
        reconciled.append(1)
        return SimpleNamespace(ok=False)

    monkeypatch.setattr(duties.PeriodicReconcile, "_run", reconcile)
    loop = asyncio.create_task(duties.duties(node))  # type: ignore[arg-type]
    try:
        await _until(lambda: node.polls >= 2 and reconciled)
        api = asyncio.create_task(TradingNode.kill(node, "api", "trader"))  # type: ignore[arg-type]
        await _until(lambda: node.started == ["api"])
        before = len(reconciled)
        await _until(lambda: node.polls >= before + 5)
        assert len(reconciled) == before  # none started while the kill cancels
        node.release.set()
        await api
        await _until(lambda: len(reconciled) > before)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_an_api_kill_s_error_goes_to_its_caller_and_a_stop_never_leaves_it_waiting(
    monkeypatch,
):
    node = KillNode(monkeypatch)
    node.requests = []
    loop = asyncio.create_task(duties.duties(node))  # type: ignore[arg-type]
    await _until(lambda: node.polls >= 2)
    broken = asyncio.create_task(TradingNode.kill(node, "broken", "trader"))  # type: ignore[arg-type]
    await _until(lambda: node.started == ["broken"])
    node.release.set()
    with pytest.raises(RuntimeError, match="kill broken failed"):
        await broken
    node.release.clear()
    first = asyncio.create_task(TradingNode.kill(node, "first", "trader"))  # type: ignore[arg-type]
    second = asyncio.create_task(TradingNode.kill(node, "second", "trader"))  # type: ignore[arg-type]
    await _until(lambda: node.started[-1:] == ["first"] and node.polls >= 3)
    assert not loop.done()  # the caller's error ended no duty
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    for waiting in (first, second):
        with pytest.raises(duties.KillNotFinished, match="node stopped before this kill"):
            await waiting
    assert node.kill_runner is None
    assert [t for t in asyncio.all_tasks() if t.get_name() == "kill"] == []


async def test_an_api_kill_the_node_stopped_before_it_ran_is_a_503_naming_the_stored_kill():
    from fastapi import HTTPException

    from tradeguard.api.routes.control import queued_kill

    class Stopped:
        async def kill(self, reason: str, by: str, flatten: bool = False) -> dict[str, object]:
            raise duties.KillNotFinished(duties.STOPPED)

    class Api:
        node = Stopped()

    with pytest.raises(HTTPException) as refused:
        await queued_kill(Api(), "halt", "trader")  # type: ignore[arg-type]
    assert refused.value.status_code == 503
    assert "trading stays HALTED" in str(refused.value.detail)
    assert "next start finishes the kill" in str(refused.value.detail)

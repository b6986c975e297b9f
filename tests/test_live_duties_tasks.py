"""The live loop's kill tasks: one at a time, queued kills each run whole, an error surfaces,
a stop cancels what runs and drops what waits."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from tradeguard.node import duties


class Kills:
    """Kill-file requests handed out one per poll, and the kills run so far."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *requests: str | None) -> None:
        self.requests = list(requests)
        self.started: list[str] = []
        self.ended: list[str] = []
        self.release = asyncio.Event()
        self.fail: str | None = None

        async def execute(node: Any, request: str) -> dict[str, Any]:
            self.started.append(request)
            await self.release.wait()
            if request == self.fail:
                raise RuntimeError(f"kill {request} failed")
            self.ended.append(request)
            return {}

        monkeypatch.setattr(duties, "execute_kill", execute)
        # a risk engine asking no loss limit's flatten: the kill file's requests alone
        node = SimpleNamespace(
            kill_switch=SimpleNamespace(poll=self._poll), risk=SimpleNamespace(flatten_asked=None)
        )
        self.runner = duties.KillRunner(node)  # type: ignore[arg-type]

    def _poll(self) -> str | None:
        return self.requests.pop(0) if self.requests else None


async def _turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_kill_asked_for_while_one_runs_waits_then_runs_whole(monkeypatch):
    kills = Kills(monkeypatch, "first", "second")
    kills.runner.poll()
    await _turns()
    kills.runner.poll()  # read while the first still waits on its venue
    await _turns()
    assert kills.started == ["first"] and kills.runner.busy
    kills.release.set()
    await _turns()
    kills.runner.step()
    await _turns()
    assert kills.started == ["first", "second"]
    kills.runner.step()
    assert kills.ended == ["first", "second"] and not kills.runner.busy
    await kills.runner.stop()


async def test_a_kill_that_fails_surfaces_its_error_on_the_next_step(monkeypatch):
    kills = Kills(monkeypatch, "first")
    kills.fail = "first"
    kills.runner.poll()
    kills.release.set()
    await _turns()
    with pytest.raises(RuntimeError, match="kill first failed"):
        kills.runner.step()
    assert not kills.runner.busy


async def test_a_stop_cancels_the_running_kill_and_drops_the_waiting_ones(monkeypatch):
    kills = Kills(monkeypatch, "first", "second")
    kills.runner.poll()
    kills.runner.poll()
    await _turns()
    await kills.runner.stop()
    assert kills.started == ["first"] and kills.ended == []
    assert not kills.runner.busy
    assert [t for t in asyncio.all_tasks() if t.get_name() == "kill"] == []

"""A node run again in the same process (the API, `serve`, a test harness) after a run whose
Ctrl-C abandoned a strategy: before, the strategy stayed struck in the new run (its fills and
`on_stop` never reached it, its state was never stored again). Now a new run calls it again,
from its last stored state (what the abandoned callback left may be half-made)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tradeguard.node.interrupt import LiveInterrupts


class _Node:
    def __init__(self) -> None:
        self._ctx = SimpleNamespace(queue=[])

    def request_stop(self) -> None:
        pass


def test_a_strategy_abandoned_in_one_run_is_called_again_in_the_next() -> None:
    stop = LiveInterrupts(_Node(), abandon_after_s=0.1)  # type: ignore[arg-type]
    assert stop.install()
    try:  # run 1: a Ctrl-C, then a callback of s1's that blocks is abandoned
        stop._on_sigint(signal.SIGINT, None)
        began = time.monotonic()
        assert stop.bounded("s1", time.sleep, 60) is False
        assert time.monotonic() - began < 30  # abandoned, not slept out
    finally:
        stop.uninstall()
    assert stop.abandoned == ["s1"]
    called: list[int] = []
    assert stop.begin() == ["s1"]  # run 2
    assert stop.bounded("s1", called.append, 1) is True  # before: False, struck for good
    assert stop.call("s1", called.append, 2) is True
    assert called == [1, 2] and stop.abandoned == []


class _Strategy:
    def __init__(self, sid: str) -> None:
        self.id = sid
        self.state: dict[str, Any] = {"half": "made"}

    def restore(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


async def test_the_next_run_gives_an_abandoned_strategy_its_last_stored_state(
    tmp_path: Path,
) -> None:
    from test_state_saves import _rig
    from tradeguard.node.checkpoint import take_back_states

    storage, _, node = _rig(tmp_path)
    try:
        from tradeguard.storage.repository import RunState

        with storage.transaction():
            storage.save_run_state(RunState(strategy_id="s1", status="running", state={"n": 1}))
        s1, s2 = _Strategy("s1"), _Strategy("s2")
        node.strategies = [s1, s2]
        node._run_states = {}
        take_back_states(node, ["s1"])  # type: ignore[arg-type]
        assert s1.state == {"n": 1} and s2.state == {"half": "made"}  # s2 was not abandoned
    finally:
        storage.db.dispose()

"""A stop asked for before the live loop has started (during start-up) is honoured, not lost:
the loop ends as soon as it starts, with its last checkpoint and summary."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from live_support import sandbox_config
from test_api_support import bearer, build_app, client
from tradeguard.cli.common import StartupStopped, start_run_stop
from tradeguard.cli.interrupted import startup_stopped_line
from tradeguard.model.enums import TradingState
from tradeguard.node import HEARTBEAT_KEY, TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually

pytestmark = pytest.mark.usefixtures("vault_env")

RUN_S = 600.0  # what a lost stop would trade on for
ENDS_WITHIN_S = 20.0  # a stop honoured ends the run long before


def _stopped_with_checkpoint(node: TradingNode) -> bool:
    beat = node.storage.kv_get(HEARTBEAT_KEY)
    return bool(beat and beat.get("stopped"))


@pytest.fixture
def signals_kept() -> Iterator[list[int]]:
    """SIGTERM and SIGINT recorded, not acted on, outside the run's own handlers: a signal the
    run does not take is seen here instead of ending the test process."""
    seen: list[int] = []

    def record(signum: int, frame: Any) -> None:
        seen.append(signum)

    saved = {s: signal.signal(s, record) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield seen
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _during_start(node: TradingNode, act: Callable[[], None]) -> None:
    """Call `act` as the node's start-up begins (its handlers taken, its venues not yet
    connected), then let start-up go on."""
    original = node.start

    async def start() -> None:
        await asyncio.sleep(0)
        act()
        await original()

    node.start = start  # type: ignore[method-assign]


async def test_a_stop_requested_before_the_loop_starts_ends_it_with_its_checkpoint(
    tmp_path: Path, ex: SandboxExchange
) -> None:
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    await node.start()
    try:
        node.request_stop()  # a stop while start-up was still finishing
        summary = await asyncio.wait_for(node.run_live(duration_s=RUN_S), ENDS_WITHIN_S)
        assert summary.mode == "sandbox"
        assert _stopped_with_checkpoint(node)
        # the stop was taken by the run it ended: a later run is not stopped by it
        run = asyncio.create_task(node.run_live(duration_s=RUN_S))
        await asyncio.sleep(0.3)
        assert not run.done()
        node.request_stop()
        await asyncio.wait_for(run, ENDS_WITHIN_S)
    finally:
        await node.stop()
        node.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl_c"])
async def test_a_signal_during_start_up_stops_the_run_once_started(
    tmp_path: Path, ex: SandboxExchange, signals_kept: list[int], signum: int
) -> None:
    # SIGTERM's handler and the Ctrl-C's were installed only once start-up had ended: a
    # service manager's stop during the start-up reconciliation killed the process without
    # its checkpoint, a Ctrl-C cut start-up short with a KeyboardInterrupt.
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    _during_start(node, lambda: os.kill(os.getpid(), signum))
    try:
        summary = await asyncio.wait_for(start_run_stop(node, None, RUN_S), ENDS_WITHIN_S)
        assert signals_kept == [], "the run took the signal itself"
        assert summary.mode == "sandbox"
        assert _stopped_with_checkpoint(node)
        assert node.interrupts.interrupted is (signum == signal.SIGINT)  # the CLI says 130
        # Returned, the command gives both signals back (the loop runs on, as in a test or a
        # program calling the command): it took SIGTERM on this loop until the loop closed.
        for later in (signal.SIGTERM, signal.SIGINT):
            os.kill(os.getpid(), later)
            await asyncio.sleep(0)
        assert signals_kept == [signal.SIGTERM, signal.SIGINT]
    finally:
        node.close()


async def test_a_ctrl_c_that_stopped_one_run_does_not_stop_the_next_run_of_the_node(
    tmp_path: Path, ex: SandboxExchange, signals_kept: list[int]
) -> None:
    # The Ctrl-C's mark was never cleared: the next run of the node in the same process fed
    # its strategies no market data, said 130 when it ended, and quit at its first Ctrl-C.
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    original = node.start
    _during_start(node, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        await asyncio.wait_for(start_run_stop(node, None, RUN_S), ENDS_WITHIN_S)
        assert node.interrupts.interrupted
        node.start = original  # type: ignore[method-assign]
        _during_start(node, lambda: os.kill(os.getpid(), signal.SIGTERM))
        await asyncio.wait_for(start_run_stop(node, None, RUN_S), ENDS_WITHIN_S)
        assert signals_kept == []
        assert not node.interrupts.interrupted, "the last run's Ctrl-C stopped this one"
        assert node.interrupts.call("s", lambda: None), "no market data for the strategies"
    finally:
        node.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl_c"])
async def test_a_signal_during_a_start_up_that_fails_stops_no_later_run(
    tmp_path: Path, ex: SandboxExchange, signals_kept: list[int], signum: int
) -> None:
    # The stop was cleared only by a live loop that ran: a start-up that failed after a
    # SIGTERM left it set, and the next run of the node ended as it began.
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    original = node.start

    async def failing_start() -> None:
        os.kill(os.getpid(), signum)
        while not node._stop_requested:  # the loop takes the signal
            await asyncio.sleep(0)
        raise ConnectionError("load_markets failed: venue down")

    node.start = failing_start  # type: ignore[method-assign]
    try:
        # before: the failure itself (exit 1, `load_markets failed`), not the stop asked for
        with pytest.raises(StartupStopped) as stopped:
            await asyncio.wait_for(start_run_stop(node, None, RUN_S), ENDS_WITHIN_S)
        assert stopped.value.code == (130 if signum == signal.SIGINT else 0)
        assert stopped.value.failure == "load_markets failed: venue down"
        line = startup_stopped_line(["run", "-c", "x"], stopped.value.ctrl_c, "venue down")
        how = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        assert line.startswith(f"tradeguard run: stopped by {how} during start-up, which did not")
        assert "nothing was traded" in line
        assert signals_kept == []
        await original()
        run = asyncio.create_task(node.run_live(duration_s=RUN_S))
        await asyncio.sleep(0.3)
        assert not run.done(), "the failed start-up's stop ended this run"
        node.request_stop()
        await asyncio.wait_for(run, ENDS_WITHIN_S)
    finally:
        await node.stop()
        node.close()


async def test_a_kill_file_written_after_start_up_read_it_halts_the_running_node(
    tmp_path: Path, ex: SandboxExchange
) -> None:
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    await node.start()  # start-up has read the kill file: this one comes after
    try:
        Path(node.config.node.kill_sentinel or "").write_text("start-up kill\n")
        run = asyncio.create_task(node.run_live(duration_s=RUN_S))
        await eventually(lambda: node.risk.state is TradingState.HALTED, timeout_s=10)
        node.request_stop()
        await asyncio.wait_for(run, ENDS_WITHIN_S)
    finally:
        await node.stop()
        node.close()


@pytest.mark.parametrize("route", ["/api/v1/kill", "/api/v1/safety/emergency-stop"])
async def test_a_kill_over_the_api_during_start_up_halts_and_stays_halted(
    tmp_path: Path, ex: SandboxExchange, route: str
) -> None:
    # the API answers while the node starts: its kill runs beside the start-up reconciliation
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    app, tokens = build_app(node)
    answers: list[asyncio.Task[Any]] = []

    async def post() -> Any:
        async with client(app) as http:
            return await http.post(route, json={"reason": "drill"}, headers=bearer(tokens.trader))

    _during_start(node, lambda: answers.append(asyncio.create_task(post())))
    await node.start()
    try:
        answer = await answers[0]
        assert answer.status_code == 200, answer.text
        assert answer.json()["trading_state"] == "HALTED"
        node.request_stop()
        await asyncio.wait_for(node.run_live(duration_s=RUN_S), ENDS_WITHIN_S)
        assert node.risk.state is TradingState.HALTED
        assert node.risk.last_kill and node.risk.last_kill.get("finished_ts")
    finally:
        await node.stop()
        node.close()


async def test_a_run_leaves_sigalrm_and_its_timer_alone_until_a_ctrl_c(
    tmp_path: Path, ex: SandboxExchange
) -> None:
    # The run took SIGALRM from before start-up and cancelled the pending timer on return: a
    # watchdog on that alarm (pytest-timeout's, a hung start-up's) fired into the run's handler,
    # which dropped it, and was disarmed for good. It needs the alarm only after a Ctrl-C.
    seen: list[int] = []
    before = signal.signal(signal.SIGALRM, lambda signum, frame: seen.append(signum))
    armed = signal.setitimer(signal.ITIMER_REAL, 0)  # the one running (pytest-timeout's)
    signal.setitimer(signal.ITIMER_REAL, 3600)
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    _during_start(node, lambda: (os.kill(os.getpid(), signal.SIGALRM), node.request_stop()))
    try:
        await asyncio.wait_for(start_run_stop(node, None, RUN_S), ENDS_WITHIN_S)
        assert seen == [signal.SIGALRM], "the watchdog's alarm was taken by the run"
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0, "the watchdog's timer was cancelled"
    finally:
        signal.setitimer(signal.ITIMER_REAL, *armed)
        signal.signal(signal.SIGALRM, before)
        node.close()

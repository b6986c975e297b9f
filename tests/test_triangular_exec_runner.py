"""The runner: scan on each update, one cycle at a time, a cooldown, never blocking the loop."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from test_triangular_exec import GatedGateway, rows
from test_triangular_exec_support import Stack
from tradeguard.strategies.triangular.exec_runner import TriangularArbRunner
from tradeguard.strategies.triangular.executor import TriangularExecutor


def runner_for(s: Stack, executor: TriangularExecutor | None = None) -> TriangularArbRunner:
    runner = TriangularArbRunner(s.scanner(), executor or s.executor, clock=s.clock, cooldown_s=5.0)
    runner.depth.update(s.depth())
    return runner


def nudge(s: Stack, runner: TriangularArbRunner, symbol: str = "ETH/USDT") -> object:
    t = s.universe.tickers[symbol]
    return runner.on_ticker(symbol, t.bid, t.ask, t.bid_size, t.ask_size)


async def test_an_update_starts_the_best_cycle_from_an_allowed_start_asset(tmp_path: Path) -> None:
    s = Stack(tmp_path, exec_config={"max_size_usd": Decimal(1000)})
    runner = runner_for(s)

    task = nudge(s, runner)
    assert isinstance(task, asyncio.Task)
    rec = await task

    assert rec.start_asset == "USDT"
    assert rec.outcome == "completed", rec.reason
    assert rec.expected_profit_pct >= Decimal("0.5")
    assert rec.spent <= Decimal(1000)
    assert runner.executions == [rec]
    assert len(rows(s)) == 1


async def test_updates_during_a_cycle_start_nothing_and_the_cooldown_holds_after_it(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, exec_config={"max_size_usd": Decimal(1000)})
    gated = GatedGateway(s.gateway)
    runner = runner_for(s, TriangularExecutor(gated, s.config))

    task = nudge(s, runner)
    assert task is not None
    await asyncio.wait_for(gated.waiting.wait(), 5)
    # The update returned while the cycle is in flight: the loop was never blocked.
    assert runner.busy and not task.done()
    assert nudge(s, runner) is None and nudge(s, runner, "A0009/USDT") is None
    assert runner.skipped_busy == 2

    gated.gate.set()
    await runner.wait_idle()
    assert nudge(s, runner) is None and runner.skipped_cooldown == 1
    s.advance(5_000)
    again = nudge(s, runner)
    assert again is not None
    await runner.wait_idle()

    assert len(runner.executions) == 2
    assert len(rows(s)) == 2
    assert not runner.busy


async def test_nothing_starts_when_no_cycle_clears_the_threshold(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    runner = TriangularArbRunner(s.scanner(), s.executor, clock=s.clock, min_profit_pct=Decimal(50))

    assert nudge(s, runner) is None
    assert runner.executions == [] and rows(s) == []

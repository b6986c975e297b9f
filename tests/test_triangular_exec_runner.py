"""The runner: scan on each update, one cycle at a time, a cooldown, never blocking the loop."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from test_triangular_exec import GatedGateway, moved_book, rows
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


async def test_a_leg_the_venue_left_unfilled_takes_its_market_out_until_a_new_quote(
    tmp_path: Path,
) -> None:
    # The venue's A0009/ETH moved 3 % dearer and no quote said so (a message lost, a snapshot
    # taken before the stream): the IOC leg expires and the cycle unwinds at a loss. The same
    # stale quote must not start that cycle again at every other market's update, a loss each.
    s = Stack(tmp_path, exec_config={"max_size_usd": Decimal(1000)})
    runner = runner_for(s)
    opp = s.opportunity()
    assert [leg.symbol for leg in opp.legs] == ["ETH/USDT", "A0009/ETH", "A0009/USDT"]
    s.feed("A0009/ETH", *moved_book(s, "A0009/ETH", 1.03), state=False)

    first = await nudge(s, runner)
    assert first.outcome == "unwound" and first.legs[1].status == "expired"
    for _ in range(3):
        s.clock.advance_to(s.clock.now_ms() + 5_000)  # the cooldown passes; no new quote
        task = nudge(s, runner, "A0009/USDT")
        if task is not None:
            await task
    again = [r for r in runner.executions[1:] if "A0009/ETH" in [x.symbol for x in r.legs]]
    assert again == [], [r.outcome for r in again]

    # A quote of the market (what the venue shows) brings its cycles back, scored on it.
    assert "A0009/ETH" not in runner.depth
    gone = runner.scanner.profit_pct(opp.cycle_id)
    bids, asks = moved_book(s, "A0009/ETH", 1.03)
    runner.on_book("A0009/ETH", bids, asks)
    back = runner.scanner.profit_pct(opp.cycle_id)
    assert gone < back < float(opp.profit_pct) - 2.5  # 3 % dearer than it was scanned


async def test_a_quote_that_came_while_the_cycle_ran_keeps_its_market_in_the_scan(
    tmp_path: Path,
) -> None:
    # The leg on A0009/ETH expires (the venue moved 3 % and no quote said so yet); the quote
    # saying so arrives while the cycle is still unwinding. That quote is what the venue shows
    # now: the market must stay in the scan on it, not be taken out until the next one (for a
    # quiet market, the next REST refresh).
    s = Stack(tmp_path, exec_config={"max_size_usd": Decimal(1000)})
    gated = GatedGateway(s.gateway)
    runner = runner_for(s, TriangularExecutor(gated, s.config))
    opp = s.opportunity()
    assert [leg.symbol for leg in opp.legs] == ["ETH/USDT", "A0009/ETH", "A0009/USDT"]
    s.feed("A0009/ETH", *moved_book(s, "A0009/ETH", 1.03), state=False)

    task = nudge(s, runner)
    assert task is not None
    await asyncio.wait_for(gated.waiting.wait(), 5)
    bids, asks = moved_book(s, "A0009/ETH", 1.03)
    assert runner.on_book("A0009/ETH", bids, asks) is None  # busy: scored, nothing started
    fresh = runner.scanner.profit_pct(opp.cycle_id)
    gated.gate.set()
    rec = await asyncio.wait_for(task, 10)

    assert rec.outcome == "unwound" and rec.legs[1].status == "expired", rec.reason
    assert runner.depth.get("A0009/ETH") == (bids, asks)
    assert runner.scanner.profit_pct(opp.cycle_id) == fresh > -100.0

"""A steady stretch (backtest/steady.py) ends on the candle where the general loop has work
again, each condition on its own: trading no longer ACTIVE (a halt tripped by the equity seen at
that candle, nothing queued, the equity cached), the equity to recount, the pacer's slice used
up (checked every 8th candle), and a candle tagged with a venue (the general loop keeps it per
venue). Each test trips one condition alone at candle J and checks where `run` stopped: a
stretch that ran past it would run candles the general loop must take."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from test_backtest_steady_ready import _steady_of_a_run
from tradeguard.backtest.steady import SteadyRun
from tradeguard.model.enums import TradingState
from tradeguard.pacing import Pacer

J = 10  # the candle where the condition trips
NEVER = float("inf")  # no commit due


class _Clock:
    """The pacer's clock, moved by hand: its slice is used up only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _rerun(
    steady: SteadyRun, trip: Callable[[Any], None], pacer: Pacer | None = None, at: int = J
) -> tuple[SteadyRun, list[int]]:
    """A steady loop over the run's candles whose equity observation calls `trip(node)` at
    candle `at`'s close (and observes every candle: an empty span), noting each close seen."""
    seen: list[int] = []
    close_j = steady.candles[at].close_ts

    def observe(node: Any, ts: int, symbol: str, units: bool, still: bool) -> tuple[int, int]:
        seen.append(ts)
        if ts == close_j:
            trip(node)
        return 0, 0

    pacer = pacer or Pacer(1.0, clock=_Clock())
    run = SteadyRun(steady.node, steady.candles, steady.paper_by_symbol, observe, pacer, False)
    assert run.every > at + 8 and len(run.candles) > at + 8
    assert len({c.symbol for c in run.candles}) == 1  # one series: candle k closes k-th
    return run, seen


@pytest.fixture
def steady(tmp_path, data_dir, monkeypatch) -> SteadyRun:
    run = _steady_of_a_run(tmp_path, monkeypatch)
    assert run.ready()
    return run


def test_a_halt_alone_ends_the_stretch_on_its_candle(steady: SteadyRun) -> None:
    node = steady.node

    def halt(n: Any) -> None:
        n.risk.state = TradingState.HALTED

    run, seen = _rerun(steady, halt)
    assert run.run(0, 0, 0, NEVER)[0] == J
    # trading alone stopped: nothing queued, the equity cached, no flatten asked
    assert not node._ctx.queue and not node._equity_dirty and node.risk.flatten_asked is None
    assert seen[-1] == steady.candles[J].close_ts
    node.risk.state = TradingState.ACTIVE


def test_the_equity_to_recount_alone_ends_the_stretch_on_its_candle(steady: SteadyRun) -> None:
    node = steady.node

    def dirty(n: Any) -> None:
        n._equity_dirty = True

    run, seen = _rerun(steady, dirty)
    assert run.run(0, 0, 0, NEVER)[0] == J
    assert not node._ctx.queue and node.risk.state is TradingState.ACTIVE
    assert seen[-1] == steady.candles[J].close_ts
    node._equity_dirty = False


# the first k >= the tripping candle with k % 8 == 0; from 17, 24: every 8th, not every 16th
@pytest.mark.parametrize(("at", "end"), [(J, 16), (17, 24)])
def test_the_pacers_slice_used_up_ends_the_stretch_at_the_next_eighth_candle(
    steady: SteadyRun, at: int, end: int
) -> None:
    clock = _Clock()
    pacer = Pacer(1.0, clock=clock)

    def used_up(n: Any) -> None:
        clock.now = 2.0  # the slice is used up from candle `at` on

    run, _ = _rerun(steady, used_up, pacer, at)
    assert run.run(0, 0, 0, NEVER)[0] == end
    assert steady.node.risk.state is TradingState.ACTIVE and not steady.node._equity_dirty


def test_a_venue_tagged_candle_is_left_to_the_general_loop(steady: SteadyRun) -> None:
    candles = list(steady.candles)
    candles[J] = dataclasses.replace(candles[J], venue="paper")
    run = SteadyRun(steady.node, candles, steady.paper_by_symbol, lambda *a: (0, 0),
                    Pacer(1.0, clock=_Clock()), False)  # fmt: skip
    events = steady.node.stats.events
    # candles 0..J-2 counted; J-1 done through its strategies (its tail the caller's); J not
    assert run.run(0, 0, 0, NEVER)[0] == J - 1
    assert steady.node.stats.events == events + J - 1

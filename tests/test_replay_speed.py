"""node.replay_speed paces a replay at N times real time on the simulated clock."""

from __future__ import annotations

import asyncio
import time

import pytest

from node_support import paper_config, write_slice
from tradeguard.backtest.speed import ReplaySpeed
from tradeguard.node import TradingNode

MINUTE_MS = 60_000


class FakeWall:
    """A wall clock that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def test_sixty_times_real_time_spends_a_second_per_simulated_minute():
    wall = FakeWall()
    speed = ReplaySpeed(60, wall=wall, sleep=wall.sleep)

    async def replay() -> None:
        for minute in range(5):
            await speed.wait_until(minute * MINUTE_MS)

    asyncio.run(replay())
    assert wall.now - 1000.0 == pytest.approx(4.0)
    assert max(wall.naps) <= 0.5  # long waits are cut into naps that can notice a stop


def test_real_time_waits_the_gap_between_candles():
    wall = FakeWall()
    speed = ReplaySpeed(1, wall=wall, sleep=wall.sleep)
    assert speed.due_s(0) == 0.0
    assert speed.due_s(MINUTE_MS) == pytest.approx(60.0)
    wall.now += 45
    assert speed.due_s(MINUTE_MS) == pytest.approx(15.0)


def test_a_replay_that_fell_behind_catches_up_without_sleeping():
    wall = FakeWall()
    speed = ReplaySpeed(60, wall=wall, sleep=wall.sleep)
    asyncio.run(speed.wait_until(0))
    wall.now += 10  # ten seconds of work: ten simulated minutes are already due
    asyncio.run(speed.wait_until(5 * MINUTE_MS))
    assert wall.naps == []


def test_a_stop_ends_the_wait():
    wall = FakeWall()
    speed = ReplaySpeed(1, wall=wall, sleep=wall.sleep)
    asks: list[float] = []

    async def stop_after_two() -> bool:
        asks.append(wall.now)
        return len(asks) == 2

    asyncio.run(speed.wait_until(0))
    asyncio.run(speed.wait_until(60 * MINUTE_MS, stop_after_two))
    assert len(asks) == 2 and wall.now - 1000.0 == pytest.approx(1.0)


def test_speed_must_be_positive():
    with pytest.raises(ValueError, match="replay speed 0 must be > 0"):
        ReplaySpeed(0)


def test_node_replay_at_replay_speed_takes_the_simulated_span_over_speed(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 61)  # 60 minutes after the first candle
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, tmp=tmp_path)
    cfg.node.replay_speed = 3600  # an hour of candles in one second
    node = TradingNode(cfg)
    try:
        started = time.monotonic()
        summary = asyncio.run(node.run(until_end=True))
        elapsed = time.monotonic() - started
    finally:
        node.close()
    assert summary.events == 61
    assert elapsed >= 1.0  # unpaced, these 61 candles replay in a few milliseconds

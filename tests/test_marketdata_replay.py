"""Replay merges streams by time, drives the simulated clock, and paces through injected sleep."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.clock import SimulatedClock
from tradeguard.marketdata.errors import ReplayOrderError
from tradeguard.marketdata.loaders import load_quotes, load_trades
from tradeguard.marketdata.replay import event_time, replay, replay_sync
from tradeguard.model.market import Candle, Quote, TradeTick

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"market data not found at {DATA}")
ONE = Decimal(1)


def trade(ts: int, tid: str = "t") -> TradeTick:
    return TradeTick("BTC/USDT", ts, tid, ONE, ONE, "buy")


def quote(ts: int) -> Quote:
    return Quote("BTC/USDT", ts, ONE, ONE, ONE, ONE)


class SleepRecorder:
    """Stands in for asyncio.sleep: records each requested delay, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_sync_replay_merges_streams_in_time_order_and_advances_the_clock():
    clock = SimulatedClock()
    seen: list[tuple[int, int]] = []
    trades = [trade(1_000, "a"), trade(3_000, "b"), trade(3_000, "c")]
    quotes = [quote(2_000), quote(3_000), quote(4_000)]
    for event in replay_sync([trades, quotes], clock):
        seen.append((event.ts, clock.now_ms()))
    assert [ts for ts, _ in seen] == [1_000, 2_000, 3_000, 3_000, 3_000, 4_000]
    assert all(ts == now for ts, now in seen)  # the clock is at the event's time when it arrives


def test_ties_keep_stream_order():
    events = list(replay_sync([[trade(5, "first")], [quote(5)]], SimulatedClock()))
    assert isinstance(events[0], TradeTick) and isinstance(events[1], Quote)


def test_candles_replay_at_their_close_so_no_bar_leaks_early():
    candle = Candle("BTC/USDT", 0, ONE, ONE, ONE, ONE, ONE, 60)
    assert event_time(candle) == 60_000
    events = list(replay_sync([[candle], [trade(30_000)]], SimulatedClock()))
    assert isinstance(events[0], TradeTick) and events[1] is candle


def test_unsorted_stream_is_refused():
    with pytest.raises(ReplayOrderError, match="not sorted"):
        list(replay_sync([[trade(2_000), trade(1_000)]], SimulatedClock()))


@needs_data
def test_real_trades_and_quotes_replay_in_time_order():
    trades = load_trades(DATA / "trades" / "binance_BTCUSDT_trades.parquet")
    quotes = load_quotes(DATA / "orderbook" / "binance_BTCUSDT_quotes.parquet")
    clock = SimulatedClock()
    times = [e.ts for e in replay_sync([trades, quotes], clock)]
    assert len(times) == 2001 + 451
    assert times == sorted(times)
    assert clock.now_ms() == max(trades[-1].ts, quotes[-1].ts)


async def test_real_time_replay_sleeps_the_gaps_between_events():
    sleep = SleepRecorder()
    clock = SimulatedClock()
    stream = [trade(1_000), trade(1_500), trade(1_500), trade(4_000)]
    out = [e.ts async for e in replay([stream], clock, speed=1, sleep=sleep)]
    assert out == [1_000, 1_500, 1_500, 4_000]
    assert sleep.delays == [0.5, 2.5]  # no pause before the first event or between equal times
    assert clock.now_ms() == 4_000


async def test_speed_ten_divides_the_delays():
    sleep = SleepRecorder()
    stream = [trade(0), trade(1_000), trade(11_000)]
    _ = [e async for e in replay([stream], SimulatedClock(), speed=10, sleep=sleep)]
    assert sleep.delays == pytest.approx([0.1, 1.0])


async def test_full_speed_async_replay_never_sleeps():
    sleep = SleepRecorder()
    out = [e.ts async for e in replay([[trade(0), trade(60_000)]], SimulatedClock(), 0, sleep)]
    assert out == [0, 60_000] and sleep.delays == []


async def test_clock_is_advanced_before_each_event_is_yielded_while_paced():
    sleep = SleepRecorder()
    clock = SimulatedClock()
    async for event in replay([[trade(1_000)], [quote(2_000)]], clock, speed=1, sleep=sleep):
        assert clock.now_ms() == event.ts


async def test_negative_speed_is_refused():
    with pytest.raises(ValueError, match="speed=-1"):
        _ = [e async for e in replay([[trade(0)]], SimulatedClock(), speed=-1)]

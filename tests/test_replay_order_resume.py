"""A replay resumed from any commit continues at the candle after it, in replay order.

The replay hands candles over by close time, then bar span (`backtest/replay_order.py`), so
with more than one timeframe their open times are not in order: a 5m bar opening at 10:00
comes after the 1m bars opening up to 10:04, and bars opening together (a 1m and a 5m bar of
two series, both at 10:00) are apart. The cursor a commit stores (the candle's open time and
how many candles of that open time are done) must still name that one candle, and a resume
must find the candle each paper venue traded on at the commit.
"""

from __future__ import annotations

import random
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tradeguard.backtest import replay
from tradeguard.backtest.bulk import merge_with_plan
from tradeguard.backtest.replay_order import merged_by_close
from tradeguard.backtest.replay_state import done_at, resume_index
from tradeguard.model.market import Candle

MIN = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (15 * MIN)


def _bar(symbol: str, minute: int, interval_s: int = 60) -> Candle:
    p = Decimal(100 + minute)
    return Candle(symbol, T0 + minute * MIN, p, p, p, p, Decimal(1), interval_s)


def _mixed(seed: int) -> dict[str, list[Candle]]:
    rng = random.Random(seed)
    series: dict[str, list[Candle]] = {}
    for sym in ("A/USDT", "B/USDT", "C/USDT")[: rng.randint(1, 3)]:
        minute, bars = 0, []
        for _ in range(rng.randint(1, 80)):
            span = rng.choice((60, 60, 60, 300, 900))
            bars.append(_bar(sym, minute, span))
            minute += rng.randint(1, 3) if span == 60 else rng.randint(1, 5)
        series[sym] = bars
    return series


def _two_files() -> dict[str, list[Candle]]:
    # one file of 5m bars, one of 1m bars: both open at minute 0, 5, 10, ...
    return {
        "BTC/USDT": [_bar("BTC/USDT", m, 300) for m in range(0, 30, 5)],
        "ETH/USDT": [_bar("ETH/USDT", m) for m in range(30)],
    }


def _one_mixed_file() -> dict[str, list[Candle]]:
    # a 5m bar opening at minute 0 filed among 1m bars (replayed after the 1m bar of minute 4)
    return {"BTC/USDT": [_bar("BTC/USDT", 0, 300)] + [_bar("BTC/USDT", m) for m in range(1, 9)]}


def _orders(series: dict[str, list[Candle]]) -> list[list[Candle]]:
    streamed = list(merged_by_close(series.values()))
    bulk, _ = merge_with_plan(series, [])
    return [streamed, bulk]


@pytest.mark.parametrize(
    "series",
    [_two_files(), _one_mixed_file(), *(_mixed(seed) for seed in range(30))],
    ids=["two files", "one mixed file", *(f"mixed {seed}" for seed in range(30))],
)
def test_a_commit_at_any_candle_resumes_at_the_next_one(series) -> None:
    for candles in _orders(series):
        for i, c in enumerate(candles):
            # the cursor a commit after candle i stores, and where a resume takes it up
            assert resume_index(candles, c.ts, done_at(candles, i)) == i + 1, (i, c)


def test_the_cursor_of_one_timeframe_stays_what_it_was() -> None:
    # one timeframe: open times in order, equal ones together (a cursor stored before reads alike)
    series = {s: [_bar(s, m) for m in range(5)] for s in ("A/USDT", "B/USDT", "C/USDT")}
    candles = list(merged_by_close(series.values()))
    assert [done_at(candles, i) for i in range(6)] == [1, 2, 3, 1, 2, 3]
    assert resume_index(candles, T0 + MIN, 2) == 5
    assert resume_index(candles, T0 + MIN, 0) == 6  # an older cursor without the count


def test_a_resume_primes_the_paper_venue_with_the_candle_it_traded_on() -> None:
    # the commit came after the candle of minute 9 (BTC's 5m bar of minute 5 closing at 10 is
    # done); the paper venue last traded on BTC's 5m bar opening at minute 5
    candles = list(merged_by_close(_two_files().values()))
    start = next(i for i, c in enumerate(candles) if c.ts == T0 + 10 * MIN)
    primed: list[Candle] = []
    paper = SimpleNamespace(prime=lambda c, used=None: primed.append(c))
    node = SimpleNamespace(
        _resume_marks={"paper_candles": {"paper": {"BTC/USDT": T0 + 5 * MIN}}},
        _paper={"paper": paper},
    )
    replay._prime_stored(node, candles, start)  # type: ignore[arg-type]
    assert [(c.symbol, c.ts, c.interval_s) for c in primed] == [("BTC/USDT", T0 + 5 * MIN, 300)]

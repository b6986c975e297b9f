"""A replay cursor stored while the replay went by open time is not taken up in close order
where the two orders differ.

Until the replay ordered candles by close time (95c916d5), a paper replay merged its files by
open time (`heapq.merge(..., key=lambda c: c.ts)`, ties in file order) and a commit stored the
cursor (open time, candles of that open time done counted back over equal open times). A run
of a 1m and a 5m file stopped just after the 5m bar opening at 10:00 stored (10:00, 2): the 1m
bars of 10:01..10:04 were not done. Taken up in close order (`resume_index`), that cursor
names the 5m bar, which now comes after those 1m bars: the resume started after it and the
four 1m bars were never replayed. A commit now stores the order its cursor counts in; a cursor
without it is taken up only where both orders agree on what was done, and refused naming the
cursor otherwise."""

from __future__ import annotations

import heapq
from decimal import Decimal
from pathlib import Path

import pytest

import test_replay_stop_resume as stop_resume
from node_support import node_for
from tradeguard.backtest.replay_order import merged_by_close
from tradeguard.backtest.replay_state import (
    done_at,
    load_replay_state,
    resume_index,
    save_replay_state,
)
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle

MIN = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (15 * MIN)


def _bar(symbol: str, minute: int, interval_s: int = 60) -> Candle:
    p = Decimal(100 + minute)
    return Candle(symbol, T0 + minute * MIN, p, p, p, p, Decimal(1), interval_s)


def _files(five_first: bool, five_until: int = 20) -> list[list[Candle]]:
    ones = [_bar("ETH/USDT", m) for m in range(20)]
    fives = [_bar("BTC/USDT", m, 300) for m in range(0, five_until, 5)]
    return [fives, ones] if five_first else [ones, fives]


def _open_order(files: list[list[Candle]]) -> list[Candle]:
    """The paper replay's order before close time: by open time, ties in file order."""
    return list(heapq.merge(*files, key=lambda c: c.ts))


def _open_order_done_at(candles: list[Candle], i: int) -> int:
    """The count that version stored: the candles of candle i's open time up to it."""
    ts, n = candles[i].ts, 1
    while i - n >= 0 and candles[i - n].ts == ts:
        n += 1
    return n


def _resumed(files: list[list[Candle]], i: int) -> tuple[list[Candle], list[Candle]]:
    """What a commit after candle i of the open order had done, and what a resume in close
    order replays."""
    old = _open_order(files)
    cursor = (old[i].ts, _open_order_done_at(old, i))
    new = list(merged_by_close(files))
    return old[: i + 1], new[resume_index(new, *cursor, by_close=False) :]


def _key(c: Candle) -> tuple[str, int, int]:
    return (c.symbol, c.ts, c.interval_s)


def test_a_cursor_stored_after_a_5m_bar_in_open_order_is_refused_not_taken_past_1m_bars():
    files = _files(five_first=False)
    old = _open_order(files)
    i = next(j for j, c in enumerate(old) if c.interval_s == 300 and c.ts == T0 + 5 * MIN)
    assert (old[i].ts, _open_order_done_at(old, i)) == (T0 + 5 * MIN, 2)
    with pytest.raises(ConfigError) as caught:
        _resumed(files, i)
    text = str(caught.value)
    assert "open time" in text and str(T0 + 5 * MIN) in text and "2 candle" in text, text


@pytest.mark.parametrize("five_first", [False, True], ids=["1m file first", "5m file first"])
def test_an_open_order_cursor_is_taken_up_exactly_where_the_orders_agree(five_first) -> None:
    # 5m bars for the first ten minutes, 1m bars for twenty: past minute 10 one timeframe
    files = _files(five_first, five_until=10)
    old = _open_order(files)
    everything = sorted(map(_key, old))
    taken = []
    for i in range(len(everything)):
        try:
            done, rest = _resumed(files, i)
        except ConfigError:
            continue
        taken.append(_key(old[i]))
        # each candle once: done before the commit, or replayed after the resume
        assert sorted(map(_key, done + rest)) == everything, i
    # before, a 5m bar was done in open order and not in close order (or the other way), or
    # the cursor's candle is one of bars opening together whose file order is not known
    assert taken == [("ETH/USDT", T0 + m * MIN, 60) for m in range(10, 20)]


@pytest.mark.parametrize("n_files", [1, 3])
def test_an_open_order_cursor_of_one_timeframe_is_taken_up_everywhere(n_files) -> None:
    files = [[_bar(s, m) for m in range(6)] for s in ("A/USDT", "B/USDT", "C/USDT")[:n_files]]
    everything = sorted(map(_key, _open_order(files)))
    for i in range(len(everything)):
        done, rest = _resumed(files, i)
        assert sorted(map(_key, done + rest)) == everything, i


def test_a_close_order_cursor_is_taken_up_as_before() -> None:
    candles = list(merged_by_close(_files(five_first=False)))
    for i, c in enumerate(candles):
        assert resume_index(candles, c.ts, done_at(candles, i)) == i + 1, i


async def test_a_stored_cursor_without_its_order_is_refused_where_the_orders_differ(
    tmp_path: Path, data_dir: Path
) -> None:
    """A paper replay of a 1m and a 5m file stopped just after a 5m bar commits a cursor in
    close order, and says so: started again it goes on. The same state without the order
    (as the replay by open time wrote it) is refused before any candle, naming the cursor."""
    cfg = stop_resume._config(tmp_path, data_dir)
    candles = stop_resume._replay_order(tmp_path)
    k = next(i for i, c in enumerate(candles) if i >= len(candles) // 2 and c.interval_s == 300)
    first: list[Candle] = []
    stopped = await stop_resume._run(cfg, first, stop_after=k + 1)
    assert len(first) == k + 1 and stopped["cursor"] == candles[k].ts

    node = node_for(load_config(cfg))
    state = load_replay_state(node.storage)
    assert state is not None and state["cursor_order"] == "close"
    del state["cursor_order"]
    save_replay_state(node.storage, state, candles[k].close_ts)
    node.close()

    rest: list[Candle] = []
    with pytest.raises(ConfigError) as caught:
        await stop_resume._run(cfg, rest)
    assert rest == [] and str(candles[k].ts) in str(caught.value), str(caught.value)


@pytest.mark.parametrize("by_close", [False, True], ids=["no order", "close order"])
def test_a_cursor_stored_without_its_count_is_taken_up_where_unambiguous_else_refused(
    by_close: bool,
) -> None:
    # The oldest saves stored the cursor's open time alone (`replay.cursor_ms`, or a state
    # without `cursor_n`): every candle opening at or before it was done. In close order those
    # were looked up by bisecting open times, which are out of order across timeframes: the
    # resume started at a wrong candle, skipping or repeating some, with nothing said.
    files = _files(five_first=False, five_until=10)  # 5m bars for the first ten minutes
    old = _open_order(files)
    new = list(merged_by_close(files))
    everything = sorted(map(_key, old))
    taken = []
    for ts in sorted({c.ts for c in old}):
        done = [c for c in old if c.ts <= ts]
        try:
            i = resume_index(new, ts, 0, by_close)
        except ConfigError as exc:
            text = str(exc)
            assert str(ts) in text and "no count" in text and "new database" in text, text
            continue
        taken.append(ts)
        assert sorted(map(_key, done + new[i:])) == everything, ts  # each candle once
    # refused where a 5m bar opening by then closes after a 1m bar opening later
    assert taken == [T0 + m * MIN for m in (4, 9, *range(10, 20))]


@pytest.mark.parametrize("minutes", [4, 2], ids=["unambiguous", "inside-a-5m-bar"])
async def test_an_old_state_without_order_or_count_resumes_only_where_unambiguous(
    tmp_path: Path, data_dir: Path, minutes: int
) -> None:
    """A paper replay of a 1m and a 5m file stopped just after a 5m bar, its state rewritten as
    the oldest saves wrote it (an open time, every candle opening by then done; no count, no
    order). At the 1m bar closing with the 5m bar, every candle is replayed once, the rest after
    the resume; two minutes into the 5m bar (done, but closing after two 1m bars that were not)
    the resume is refused before any candle, naming the cursor and what to do."""
    cfg = stop_resume._config(tmp_path, data_dir)
    candles = stop_resume._replay_order(tmp_path)
    k = next(i for i, c in enumerate(candles) if i >= len(candles) // 2 and c.interval_s == 300)
    first: list[Candle] = []
    await stop_resume._run(cfg, first, stop_after=k + 1)
    assert first == candles[: k + 1]

    node = node_for(load_config(cfg))
    state = load_replay_state(node.storage)
    assert state is not None
    del state["cursor_order"], state["cursor_n"]
    state["cursor"] = cursor = candles[k].ts + minutes * MIN
    save_replay_state(node.storage, state, candles[k].close_ts)
    node.close()

    rest: list[Candle] = []
    if minutes == 4:
        await stop_resume._run(cfg, rest)
        assert rest == candles[k + 1 :]
        return
    with pytest.raises(ConfigError) as caught:
        await stop_resume._run(cfg, rest)
    text = str(caught.value)
    assert rest == [] and str(cursor) in text and "new database" in text, text

"""A replay state written before the replay order by close time stored the run's last time as
the open time of the last candle done (equal to the cursor). A run resumed from one starts its
clock at the close of that candle, as a run resumed from a newer state does, and a run that had
done every candle ends its period at the last close, not at the last open."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_support import node_for
from test_replay_stop_resume import _config, _replay_order
from tradeguard.backtest.replay_state import load_replay_state, save_replay_state
from tradeguard.config import load_config
from tradeguard.model.events import EventKind
from tradeguard.node.stats import STATS_KEY


async def _run(cfg: Path, stop_after: int | None = None) -> tuple[int, int, int]:
    """Run (stopped after `stop_after` candles when given); return the clock when the run
    started, the summary's last time and the number of candles done."""
    node = node_for(load_config(cfg))
    await node.start()
    started: list[int] = []
    node.bus.subscribe(lambda e: started.append(e.ts), EventKind.RUN_STARTED)
    done = [0]

    async def listener(symbol: str, price, reason: str) -> None:
        done[0] += 1
        if stop_after is not None and done[0] == stop_after:
            node.request_stop()

    node.price_listeners.append(listener)
    try:
        summary = await node.run(until_end=stop_after is None)
        await node.stop()
    finally:
        node.close()
    return started[0], summary.last_ts, done[0]


def _as_older_version(cfg: Path) -> int:
    """Rewrite the stored run figures as an older version kept them: the last time the open
    time of the last candle done (the cursor). Return that cursor."""
    node = node_for(load_config(cfg))
    try:
        state = load_replay_state(node.storage)
        assert state is not None
        cursor = int(state["cursor"])
        state["stats"]["last_ts"] = cursor
        save_replay_state(node.storage, state, cursor)
        stats = node.storage.kv_get(STATS_KEY)
        stats["last_ts"] = cursor
        node.storage.kv_set(STATS_KEY, stats, cursor)
    finally:
        node.close()
    return cursor


@pytest.mark.parametrize("stop_on", ["5m", "1m", "end"])
async def test_a_state_of_an_older_version_resumes_the_clock_at_the_close(
    tmp_path: Path, data_dir: Path, stop_on: str
) -> None:
    cfg = _config(tmp_path, data_dir)
    candles = _replay_order(tmp_path)
    if stop_on == "end":
        k = len(candles) - 1
    else:
        span = 300 if stop_on == "5m" else 60
        k = next(
            i for i, c in enumerate(candles) if i >= len(candles) // 2 and c.interval_s == span
        )
    await _run(cfg, stop_after=k + 1 if stop_on != "end" else None)
    cursor = _as_older_version(cfg)
    assert cursor == candles[k].ts
    clock_at_start, last_ts, done = await _run(cfg)
    assert done == len(candles) - k - 1
    assert clock_at_start == candles[k].close_ts  # was its open time: 5 minutes early for a 5m bar
    assert last_ts == max(c.close_ts for c in candles)


async def test_a_resume_whose_data_ends_before_its_cursor_replays_nothing(
    tmp_path: Path, data_dir: Path
) -> None:
    # the files cut short since the run stopped: the cursor lies past every candle (its
    # candle not found, the resume index one past the end); nothing is replayed again and
    # the run's last time stays where the first run left it
    cfg = _config(tmp_path, data_dir)
    candles = _replay_order(tmp_path)
    k = len(candles) // 2
    await _run(cfg, stop_after=k + 1)
    for name in ("BTC_USDT_1m.csv", "XBT_USDT_5m.csv"):
        path = tmp_path / name
        path.write_text("\n".join(path.read_text().splitlines()[:4]) + "\n", encoding="utf-8")
    clock_at_start, last_ts, done = await _run(cfg)
    assert done == 0
    assert clock_at_start == last_ts == candles[k].close_ts

"""A paper replay of a 1m and a 5m file stopped on request (`run(until_end=False)`) and started
again goes on at the next candle in replay order (close time, then span), none skipped nor
replayed twice; the resumed run's clock starts where the first run's stood, at the close of
the last candle done (a 5m bar closes 5 minutes after its open time), not at its open."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_support import BTC_FILE, node_for, write_paper_toml
from tradeguard.backtest.replay_order import merged_by_close
from tradeguard.backtest.replay_state import load_replay_state, resume_index
from tradeguard.config import load_config
from tradeguard.marketdata.loaders import load_candles
from tradeguard.model.market import Candle

ROWS = 60

XBT = """
[[data]]
path = "{path}"
symbol = "XBT/USDT"
venue = "paper"
[[venues.instruments]]
symbol = "XBT/USDT"
price_tick = "0.01"
amount_step = "0.00001"
min_notional = "5"
"""


def _config(tmp_path: Path, data_dir: Path) -> Path:
    lines = (data_dir / BTC_FILE).read_text().splitlines()[: ROWS + 1]
    one = tmp_path / "BTC_USDT_1m.csv"
    one.write_text("\n".join(lines) + "\n", encoding="utf-8")
    five = tmp_path / "XBT_USDT_5m.csv"  # every fifth 1m row taken as a 5m bar
    five.write_text("\n".join([lines[0], *lines[1::5]]) + "\n", encoding="utf-8")
    return write_paper_toml(tmp_path, one, strategies="", extra=XBT.format(path=five))


def _replay_order(tmp_path: Path) -> list[Candle]:
    files = [("BTC_USDT_1m.csv", "BTC/USDT"), ("XBT_USDT_5m.csv", "XBT/USDT")]
    return list(merged_by_close([load_candles(tmp_path / f, symbol=s) for f, s in files]))


async def _run(cfg: Path, seen: list[Candle], stop_after: int | None = None) -> dict[str, int]:
    node = node_for(load_config(cfg))
    await node.start()
    clock_at_start = node.clock.now_ms()

    async def listener(symbol: str, price, reason: str) -> None:
        seen.append(node._seen_candle)  # type: ignore[attr-defined]
        if stop_after is not None and len(seen) == stop_after:
            node.request_stop()

    take = node.market.on_candle

    def on_candle(c: Candle) -> None:
        node._seen_candle = c  # type: ignore[attr-defined]
        take(c)

    node.market.on_candle = on_candle  # type: ignore[method-assign]
    node.price_listeners.append(listener)
    try:
        summary = await node.run(until_end=stop_after is None)
        await node.stop()
        state = load_replay_state(node.storage) or {}
    finally:
        node.close()
    return {
        "clock_at_start": clock_at_start,
        "events_total": summary.events_total,
        "cursor": int(state.get("cursor", 0)),
        "cursor_n": int(state.get("cursor_n", 0)),
    }


@pytest.mark.parametrize("stop_on", ["5m", "1m"])
async def test_a_replay_stopped_on_request_goes_on_at_the_next_candle(
    tmp_path: Path, data_dir: Path, stop_on: str
) -> None:
    cfg = _config(tmp_path, data_dir)
    candles = _replay_order(tmp_path)
    span = 300 if stop_on == "5m" else 60
    # a candle past the middle of the run, of the timeframe asked
    k = next(i for i, c in enumerate(candles) if i >= len(candles) // 2 and c.interval_s == span)
    first: list[Candle] = []
    stopped = await _run(cfg, first, stop_after=k + 1)
    assert [(c.symbol, c.ts) for c in first] == [(c.symbol, c.ts) for c in candles[: k + 1]]
    # the last commit names the last candle done: a start goes on at the next one
    assert resume_index(candles, stopped["cursor"], stopped["cursor_n"]) == k + 1, stopped

    rest: list[Candle] = []
    resumed = await _run(cfg, rest)
    assert [(c.symbol, c.ts) for c in rest] == [(c.symbol, c.ts) for c in candles[k + 1 :]]
    assert resumed["events_total"] == len(candles)
    # the clock the first run stopped at: the close of the last candle it did
    assert resumed["clock_at_start"] == candles[k].close_ts

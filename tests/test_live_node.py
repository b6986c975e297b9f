"""A node in sandbox mode trades on live candles from a sandbox replaying real BTC minutes."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from live_support import btc_slice, replaying_sandbox, sandbox_config
from tradeguard.model.market import Candle
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually


@pytest.mark.usefixtures("vault_env")
async def test_ma_crossover_warms_up_from_rest_and_trades_on_live_candles(tmp_path: Path) -> None:
    data = btc_slice(tmp_path, 400)
    async with replaying_sandbox(data, speed=600, history=100) as ex:  # a minute every 0.1 s
        strategy = {
            "id": "ma", "kind": "ma_crossover", "venue": "binance", "symbol": "BTC/USDT",
            "params": {"fast": 2, "slow": 5, "order_usd": "100", "stop_loss_pct": "0",
                       "take_profit_pct": "0"},
        }  # fmt: skip
        node = TradingNode(sandbox_config(tmp_path, ex, [strategy]))
        strat = node.strategies[0]
        seen: list[tuple[Candle, bool]] = []
        original = strat.on_candle

        def recording(candle: Candle) -> None:
            seen.append((candle, strat.muted))
            original(candle)

        strat.on_candle = recording  # type: ignore[method-assign]
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            await eventually(lambda: node.storage.count_orders() >= 2, timeout_s=40)
        finally:
            node.request_stop()
            await run
            await node.stop()
        warm = [c for c, muted in seen if muted]
        live = [c for c, muted in seen if not muted]
        assert len(warm) == 6  # slow + 1 closed candles of REST history, never traded on
        stamps = [c.ts for c in warm + live]
        assert stamps == sorted(set(stamps)), "each closed candle is delivered once, in order"
        assert all(b - a == 60_000 for a, b in itertools.pairwise(stamps))
        replay = ex.replays[0]
        # Live candles are the replayed bars, closed, on the venue's (shifted) timestamps.
        for c in live:
            k = (c.ts - replay.start_ms) // 60_000
            bar = replay.bars[replay.history + k]
            assert (c.open, c.high, c.low, c.close) == (bar.open, bar.high, bar.low, bar.close)
        orders = node.storage.load_orders(venue="binance")
        signals = {o.signal.get("candle_ts") for o in orders if o.signal}
        assert signals <= {c.ts for c in live}, "orders come from live candles only"
        assert any(o.filled > 0 for o in orders)
        node.close()

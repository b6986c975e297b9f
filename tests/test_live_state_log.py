"""A live node says on its console when trading stops: a breaker's halt is a log line, not
only an event for alert channels (a node without any channel halted in silence)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from live_support import sandbox_config, two_symbol_sandbox, write_vault
from node_support import trading_live
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually


async def test_a_drawdown_halt_of_a_sandbox_node_is_logged_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        config = sandbox_config(tmp_path, ex, [])
        config.risk.max_drawdown_pct = 5  # type: ignore[assignment]
        node = TradingNode(config)
        await node.start()
        async with trading_live(node):
            hub = node.live_hub()
            hub.subscribe([Subscription("quotes", "binance", "BTC/USDT")])
            await _streamed(ex, hub)  # the quote stream is live: equity peaks at 150,000
            assert node.risk.state is TradingState.ACTIVE
            caplog.set_level(logging.WARNING)
            # the account's BTC loses a fifth of its value: the drawdown breaker halts
            ex.set_book("BTCUSDT", bids=[("39999", "1")], asks=[("40001", "1")])
            await eventually(lambda: node.risk.state is TradingState.HALTED, 10)
            await eventually(lambda: "ACTIVE -> HALTED" in caplog.text, 5)
    [line] = [r for r in caplog.records if "ACTIVE -> HALTED" in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert "max_drawdown_pct=5" in line.getMessage(), line.getMessage()
    assert "breaker" in line.getMessage()


async def _streamed(ex: SandboxExchange, hub: LiveHub) -> None:
    """Nudge the book until the websocket (not only the REST snapshot) delivers quotes."""
    for tick in range(200):
        if sum(s["messages"] for s in hub.status()) >= 3:
            return
        side = tick % 2
        ex.set_book("BTCUSDT", bids=[(str(49_999 - side), "1")], asks=[(str(50_001 + side), "1")])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no streamed quotes: {hub.status()}")

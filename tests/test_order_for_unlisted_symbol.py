"""An HTTP order for a symbol the venue does not list is refused without subscribing it.

It used to subscribe the symbol's quotes on demand first: the refusal came after
`node.subscribe_wait_s`, and a stream that could never speak stayed in the streams list, stale
after a minute, keeping `/api/v1/health` degraded (503) for the rest of the node's life. A
listed symbol nobody streams is still subscribed on demand.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from live_support import sandbox_config, two_symbol_sandbox, write_vault
from test_api_support import bearer
from test_health_api import served
from tradeguard.node import TradingNode


def _streamed(node: TradingNode) -> set[str]:
    return {s["symbol"] for s in node.live_hub().status()}


async def test_an_order_for_an_unlisted_symbol_subscribes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, [], subscribe_wait_s=30))
        await node.start()
        run = asyncio.create_task(node.run_live())
        try:
            async with served(node) as (http, tokens):
                token = tokens.trader
                order = {"venue": "binance", "side": "buy", "type": "limit", "amount": "1"}
                started = time.monotonic()
                r = await http.post(
                    "/api/v1/orders", headers=bearer(token),
                    json={**order, "symbol": "XRP/USDT", "price": "0.5"},
                )  # fmt: skip
                assert r.json()["code"] == "UNKNOWN_INSTRUMENT", r.text
                # refused at once, not after subscribe_wait_s = 30 (a loaded machine may add
                # seconds)
                assert time.monotonic() - started < 15
                assert "XRP/USDT" not in _streamed(node)
                # the venue's symbol nobody streamed yet is subscribed for its reference price
                assert "BTC/USDT" not in _streamed(node)
                r = await http.post(
                    "/api/v1/orders", headers=bearer(token),
                    json={**order, "symbol": "BTC/USDT", "amount": "0.001", "price": "49000"},
                )  # fmt: skip
                assert r.json()["status"] == "submitted", r.text
                assert "BTC/USDT" in _streamed(node)
        finally:
            node.request_stop()
            await run
            node.close()

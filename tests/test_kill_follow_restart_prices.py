"""A node started again while its kill's follow-up waits, on a symbol nothing else streams: the
follow-up's flatten subscribes its prices first (a market order needs a reference price for its
cap) rather than spending its 3 orders on NO_REFERENCE_PRICE. Sandbox venue (real ccxt)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kill_follow_support import held, kill_with_a_close_resting
from native_exits_support import native_config
from node_support import trading_live
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")


async def test_a_follow_up_after_a_restart_subscribes_the_prices_it_needs(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        node = TradingNode(cfg)  # no strategy nor bot: BTC/USDT streams only on demand
        await node.start()
        async with trading_live(node):
            await node.ensure_market_data("binance", "BTC/USDT")
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            listed, _ = await kill_with_a_close_resting(node)
            await eventually(lambda: held(node) < D("0.0011"), 30)  # the kill's flatten filled
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            assert node.risk.state.value == "HALTED" and listed in node.orders.open
            await node.orders.cancel(listed)  # the close ends: the rest is the follow-up's

            def status() -> str:
                follow = (node.risk.last_kill or {}).get("follow_up") or [{}]
                return str(follow[0].get("status"))

            await eventually(lambda: status() != "waiting", 60)
            [done] = node.risk.last_kill["follow_up"]
            assert done["status"] == "closed" and done["attempts"] == 1, done
            assert D(0) <= held(node) < STEP

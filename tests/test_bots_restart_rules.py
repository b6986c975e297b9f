"""A bot's cooldown and its one position per symbol hold across a node restart: both are read
from what the node stores (the bot's trades, its position), not from what one process saw.
Sandbox venue (real ccxt), the bot's trade through the same desk as the HTTP routes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from native_exits_support import add_alpha, enter, native_config
from node_support import trading_live
from tradeguard.api.bot_desk import BotDesk
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
KEY = ("binance", "BTC/USDT", "alpha")


async def test_a_bots_cooldown_and_one_position_hold_after_a_restart(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        node = TradingNode(cfg)
        add_alpha(node, cooldown_s=3600)
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            done = await enter(node)
            assert done["status"] == "submitted", done
            await eventually(lambda: KEY in node.portfolio.positions, 30)
        node = TradingNode(cfg)  # a new process's node on the same database
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            ask = {"symbol": "BTC/USDT", "side": "buy", "score": "0.5"}
            verdict = BotDesk.for_node(node).validate("alpha", ask)
            assert verdict["approved"] is False, verdict
            assert {"BOT_COOLDOWN", "BOT_ONE_POSITION"} <= set(verdict["codes"]), verdict
            assert any("cooling down" in r and "cooldown_s=3600" in r
                       for r in verdict["reasons"]), verdict  # fmt: skip
        acct = ex.account_id(ALICE_KEY)
        buys = [o for o in ex.engine.orders.values() if o.account_id == acct and o.side == "BUY"]
        assert len(buys) == 1, buys  # the one entry, none after the restart

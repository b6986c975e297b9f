"""The kill's follow-up against the sandbox venue (real ccxt): a close that was working when the
kill ran and then ends (partly filled and expired, or cancelled) leaves the rest of its position
open; the kill flattens that rest, once, and says so in its result and status. A node SIGKILLed
while the follow-up's flatten is on its way comes back halted, with the position flattened once.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kill_follow_support import (
    KEY,
    alice_sells,
    end_with_coins_gone,
    expire_on_venue,
    follow_node,
    follow_up,
    held,
    kill_and_flatten,
    kill_with_a_close_resting,
    take_part,
)
from native_exits_support import native_config
from node_support import trading_live
from rigs import killed_child
from test_bot_close_oco import bot_coins_only
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
CHILD = Path(__file__).with_name("kill_follow_crash_child.py")


async def test_a_close_partly_filled_then_expired_is_followed_by_a_flatten_of_the_rest(tmp_path):
    async with seeded_exchange() as ex:
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            listed, report = await kill_and_flatten(node)
            assert report["closing"][0]["working"] == [listed]
            [entry] = report["follow_up"]
            assert (entry["status"], entry["waiting"]) == ("waiting", [listed])
            assert node.risk.state.value == "HALTED"
            # A bid of 0.0004 at 50,500 takes part of the resting close; the venue then
            # expires the rest.
            take_part(ex, "0.0004")
            await eventually(lambda: node.orders.orders[listed].filled == D("0.0004"), 30)
            rest = node.portfolio.sellable(node.portfolio.positions[KEY])
            assert rest == D("0.001") - D("0.0004")  # what the listed close left unsold
            expire_on_venue(ex, listed)
            await eventually(
                lambda: follow_up(node) and follow_up(node)[0]["status"] == "closed", 60
            )
            [done] = follow_up(node)
            assert done["attempts"] == 1 and len(done["sent"]) == 1, done
            flatten = node.orders.orders[done["sent"][0]]
            assert flatten.status is OrderStatus.FILLED and flatten.amount == rest
            # sold once: the node holds no short, and the venue sold no more than was bought
            assert D(0) <= held(node) < STEP
            sells = alice_sells(ex)
            # the listed close, the kill's flatten, the follow-up's: no other sell
            assert len(sells) == 3 and sells[0] == D("0.0004") and sells[2] == rest, sells
            assert sum(sells) <= D("0.002")
            status = node.risk.last_kill
            assert status is not None and status["follow_up"][0]["status"] == "closed"


async def test_a_follow_up_ends_when_trading_is_resumed(tmp_path):
    async with seeded_exchange() as ex:
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            listed, _ = await kill_with_a_close_resting(node)
            node.risk.resume("pytest", "the operator takes over")
            await eventually(lambda: follow_up(node)[0]["status"] == "ended", 30)
            assert listed in node.orders.open  # nothing cancelled nor sold for it
            assert follow_up(node)[0]["sent"] == []


async def test_a_node_killed_while_the_follow_up_flattens_sells_the_rest_once(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        docs = await killed_child(CHILD, tmp_path, cfg)
        sent = next(d["sent"] for d in docs if "sent" in d)
        rest = D(next(d["amount"] for d in docs if "amount" in d))
        node = TradingNode(cfg)
        await node.start()  # reconciles the journal with the venue first
        async with trading_live(node):
            assert node.risk.state.value == "HALTED" and node.risk.last_kill is not None
            await eventually(
                lambda: follow_up(node) and follow_up(node)[0]["status"] == "closed", 60
            )
            [done] = follow_up(node)
            assert done["sent"] == [sent] and done["attempts"] == 1, done
            journaled = node.storage.get_order(sent)
            assert journaled is not None and journaled.filled == rest
            assert D(0) <= held(node) < STEP
            # on the venue: the kill's flatten and the follow-up's, nothing sold a second time
            sells = alice_sells(ex)
            assert len(sells) == 3 and sells[0] == 0 and sells[2] == rest, sells


async def test_a_follow_up_the_venue_keeps_refusing_stops_after_its_attempts(tmp_path):
    ex = bot_coins_only()  # alice holds only the BTC she buys
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        cfg.node.kill_follow_up_max_orders = 2  # the setting, not the default of 3
        node = follow_node(cfg)
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
            end_with_coins_gone(ex, listed, node)
            await eventually(lambda: follow_up(node)[0]["status"] == "failed", 60)
            [done] = follow_up(node)
            assert done["attempts"] == 2 and len(done["sent"]) == 2, done
            assert "after 2 flatten orders (node.kill_follow_up_max_orders)" in done["reason"]
            # the venue did not answer its balance call: the stored copy stood in, and it says so
            assert done["balance"].startswith("stored copy 0.001"), done
            assert "balance endpoint unavailable" in done["balance"], done
            # nor does it claim a reconciliation failed: trading is not gated on this call
            assert "reconciliation" not in done["balance"], done["balance"]
            assert all(node.orders.orders[c].status is OrderStatus.REJECTED for c in done["sent"])
            assert held(node) > D("0.0009")  # still open, and said so

"""A bot adding to a position whose exits rest on the (sandbox) venue: the resting pair is
replaced by one for the whole position, also across a SIGKILL between cancel and place."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from native_exits_support import (
    KEY,
    bot_qty,
    enter,
    live_alpha,
    native_config,
    sandbox_lists,
    sellable_qty,
)
from node_support import trading_live
from rigs import killed_child
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
CHILD = Path(__file__).with_name("native_exits_crash_child.py")
EXITS = {"stop_loss_pct": "2", "take_profit_pct": "5"}


def _amounts(node: TradingNode) -> list[Decimal]:
    return [node.orders.orders[cid].amount for cid in node.bot_exits.plans[KEY].native_orders]


def _pair_rests(node: TradingNode, other_than: list[str]) -> bool:
    plan = node.bot_exits.plans.get(KEY)
    return (
        plan is not None and len(plan.native_orders) == 2 and plan.native_orders != other_than
        and not plan.native_moving and all(node.bot_exits.host.order_open(c)
                                           for c in plan.native_orders)
    )  # fmt: skip


async def test_an_entry_adding_to_a_position_gets_one_oco_for_the_whole_position(tmp_path):
    # The second entry's plan adopted the first pair: 0.0007992 BTC held, 0.00039 covered, so
    # half the position had no stop on the venue while the node was down.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex, one_position_per_symbol=False) as node:
        assert (await enter(node, **EXITS))["status"] == "submitted"
        await eventually(lambda: _pair_rests(node, []))
        first = list(node.bot_exits.plans[KEY].native_orders)
        one = sellable_qty(node)
        assert _amounts(node) == [one, one]
        assert (await enter(node, **EXITS))["status"] == "submitted"
        await eventually(lambda: sellable_qty(node) > one)
        await eventually(lambda: _pair_rests(node, first))
        whole = sellable_qty(node)
        assert whole >= 2 * one
        assert _amounts(node) == [whole, whole]
        assert sandbox_lists(ex) == [["CANCELED", "CANCELED"], ["NEW", "NEW"]]
        # The venue's stop sells all of it.
        ex.set_book("BTCUSDT", bids=[("48500", "5")], asks=[("48510", "5")])
        ex.trade_through("BTCUSDT", "SELL", "48500", "0.002")
        await eventually(lambda: bot_qty(node) == 0)
        await eventually(lambda: KEY not in node.bot_exits.plans)


async def _kill_while_adding(tmp_path: Path, ex: SandboxExchange, moment: str) -> list[str]:
    """Run the child (first entry, its pair, a second entry) until its SIGKILL; return the
    first pair's client order ids."""
    cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
    docs = await killed_child(CHILD, tmp_path, cfg, moment)
    assert any("added" in d for d in docs), docs
    return next(d["placed"] for d in docs if "placed" in d)


@pytest.mark.parametrize("moment", ["add_cancel", "add_place"])
async def test_a_node_killed_while_replacing_the_pair_after_an_add_comes_back_covered(
    tmp_path, moment: str
):
    ex = seeded_exchange()
    async with ex:
        first = await _kill_while_adding(tmp_path, ex, moment)
        # Killed before the cancel: the first pair still rests; after it: nothing rests.
        assert sandbox_lists(ex) == (
            [["NEW", "NEW"]] if moment == "add_cancel" else [["CANCELED", "CANCELED"]]
        )
        node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url))
        await node.start()
        async with trading_live(node):
            await eventually(lambda: _pair_rests(node, first), 15)
            whole = sellable_qty(node)
            assert whole > Decimal("0.0007")  # both entries
            assert _amounts(node) == [whole, whole]
            assert sandbox_lists(ex) == [["CANCELED", "CANCELED"], ["NEW", "NEW"]]

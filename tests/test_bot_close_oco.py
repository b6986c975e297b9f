"""A bot's own closing trade cancels the OCO resting on the (sandbox) venue first, via the real
ccxt: the OCO holds the coins the close sells, and firing in the gap it would sell twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from native_exits_support import (
    KEY,
    bot_qty,
    enter,
    live_alpha,
    native_config,
    sandbox_lists,
)
from node_support import trading_live
from rigs import killed_child
from tradeguard.api.bot_desk import BotDesk
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import (
    ALICE_KEY,
    ALICE_SECRET,
    BOB_KEY,
    BOB_SECRET,
    eventually,
)

pytestmark = pytest.mark.usefixtures("vault_env")
CHILD = Path(__file__).with_name("native_exits_crash_child.py")
EXITS = {"stop_loss_pct": "2", "take_profit_pct": "5"}


async def _sell(node: TradingNode) -> dict[str, Any]:
    desk = BotDesk.for_node(node)
    ask = {"symbol": "BTC/USDT", "side": "sell"}
    conf = desk.validate("alpha", ask)["confirmation_id"]
    return await desk.execute("alpha", {**ask, "confirmation_id": conf}, by="test")


async def _resting(node: TradingNode) -> list[str]:
    await eventually(lambda: KEY in node.bot_exits.plans
                     and len(node.bot_exits.plans[KEY].native_orders) == 2)  # fmt: skip
    return list(node.bot_exits.plans[KEY].native_orders)


def bot_coins_only() -> SandboxExchange:
    """The seeded sandbox, but alice holds no BTC besides what the bot buys: as on an account
    the bot trades alone, a close the OCO's held coins leave short is refused."""
    ex = SandboxExchange(SandboxConfig())
    ex.add_market("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal("100000")})
    ex.add_account(BOB_KEY, BOB_SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")})
    ex.set_book("BTCUSDT", bids=[("49999", "1"), ("49998", "2")],
                asks=[("50001", "1"), ("50002", "2")])  # fmt: skip
    return ex


def _btc(ex: SandboxExchange) -> tuple[Decimal, Decimal]:
    return ex.balances(ALICE_KEY)["BTC"]


async def test_the_sandbox_locks_the_coins_an_oco_sells(tmp_path):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        await _resting(node)
        _, locked = _btc(ex)
        assert locked == node.bot_exits.host.order_remaining(
            node.bot_exits.plans[KEY].native_orders[0]
        )
        assert locked > 0


async def test_a_bot_close_cancels_the_resting_oco_then_sells_the_position_once(tmp_path):
    # The close was sent with the OCO still resting: the venue refused it for insufficient
    # balance (the OCO holds the coins), and the position stayed open.
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        legs = await _resting(node)
        out = await _sell(node)
        assert (out["status"], out["code"]) == ("submitted", "OK"), out
        await eventually(lambda: bot_qty(node) == 0)
        await eventually(lambda: KEY not in node.bot_exits.plans)
        assert sandbox_lists(ex) == [["CANCELED", "CANCELED"]]
        assert all(node.storage.get_order(c).status is OrderStatus.CANCELLED for c in legs)
        assert node.storage.get_order(out["client_order_id"]).status is OrderStatus.FILLED
        assert _btc(ex)[1] == 0
        await asyncio.sleep(0.3)
        assert bot_qty(node) == 0 and len(ex.engine.contingent.lists) == 1


async def test_a_bot_close_the_venue_does_not_fill_gets_the_oco_placed_again(tmp_path):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        legs = await _resting(node)
        held = bot_qty(node)
        ex.set_book("BTCUSDT", bids=[], asks=[("50010", "5")])  # nobody buys: the sell expires
        out = await _sell(node)
        close = out["client_order_id"]
        await eventually(lambda: node.storage.get_order(close).status.is_terminal, 5)
        assert node.storage.get_order(close).filled == 0, out
        await eventually(lambda: node.bot_exits.plans[KEY].native_orders not in ([], legs))
        assert len(node.bot_exits.plans[KEY].native_orders) == 2
        assert bot_qty(node) == held
        assert [s for s in sandbox_lists(ex) if "NEW" in s] == [["NEW", "NEW"]]
        assert not node.bot_exits.plans[KEY].native_moving


async def test_a_close_by_hand_started_while_the_bot_cancels_its_oco_is_the_only_sale(tmp_path):
    # The bot's close was checked before its cancel's await only: a close started during that
    # await was not seen, and both sold the position.
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        await _resting(node)
        desk = BotDesk.for_node(node)
        bot, by_hand = await asyncio.gather(_sell(node), desk.close_positions("alpha"))
        # The bot's close lifts the OCO first: the close by hand, finding it being changed,
        # is refused (both lift the venue exits the same way) and only the bot's close sells.
        assert (bot["status"], bot["code"]) == ("submitted", "OK"), bot
        assert [(o["status"], o["code"]) for o in by_hand] == [("denied", "BOT_EXITS_RESTING")]
        await eventually(lambda: bot_qty(node) == 0)
        await asyncio.sleep(0.5)  # a second sell would have been refused or filled by now
        sells = [o for o in node.storage.load_orders() if o.side.value == "sell"
                 and not o.signal.get("native")]  # fmt: skip
        assert [o.status for o in sells] == [OrderStatus.FILLED]


async def _run_child(tmp_path: Path, ex: SandboxExchange, moment: str) -> list[str]:
    cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
    docs = await killed_child(CHILD, tmp_path, cfg, moment)
    return next(d["placed"] for d in docs if "placed" in d)


@pytest.mark.parametrize("moment", ["close_cancel", "close_send"])
async def test_a_node_killed_between_cancelling_the_oco_and_closing_comes_back_protected(
    tmp_path, moment: str
):
    ex = bot_coins_only()
    async with ex:
        first = await _run_child(tmp_path, ex, moment)
        # Killed at the cancel: the pair still rests; after it, before the close: nothing does.
        assert sandbox_lists(ex) == (
            [["NEW", "NEW"]] if moment == "close_cancel" else [["CANCELED", "CANCELED"]]
        )
        node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url))
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == Decimal(50000))
            # A pair other than the first, once the restart's steps are done (the first may
            # still rest, with the plan saying it is being replaced).
            await eventually(lambda: KEY in node.bot_exits.plans and (
                (p := node.bot_exits.plans[KEY]).native_orders not in ([], first)
                and not p.native_moving
            ), 15)  # fmt: skip
            assert bot_qty(node) > 0
            assert len(node.bot_exits.plans[KEY].native_orders) == 2
            assert [s for s in sandbox_lists(ex) if "NEW" in s] == [["NEW", "NEW"]]
            assert _btc(ex)[1] > 0  # the coins are held for the pair again


async def test_close_positions_the_venue_does_not_fill_gets_the_oco_placed_again(tmp_path):
    # close_positions handed the rules to the engine for good: a close that expired left the
    # position with no exit on the venue, unprotected whenever the node is down.
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        legs = await _resting(node)
        held = bot_qty(node)
        ex.set_book("BTCUSDT", bids=[], asks=[("50010", "5")])  # nobody buys: the sell expires
        [out] = await BotDesk.for_node(node).close_positions("alpha")
        assert (out["status"], out["code"]) == ("submitted", "OK"), out
        close = out["client_order_id"]
        await eventually(lambda: node.storage.get_order(close).status.is_terminal, 5)
        await eventually(lambda: node.bot_exits.plans[KEY].native_orders not in ([], legs))
        assert len(node.bot_exits.plans[KEY].native_orders) == 2
        assert bot_qty(node) == held
        assert [s for s in sandbox_lists(ex) if "NEW" in s] == [["NEW", "NEW"]]


async def test_a_bot_close_partly_filled_gets_the_oco_placed_again_for_the_rest(tmp_path):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        legs = await _resting(node)
        held = bot_qty(node)
        ex.set_book("BTCUSDT", bids=[("49999", "0.0001")], asks=[("50010", "5")])
        out = await _sell(node)
        close = out["client_order_id"]
        await eventually(lambda: node.storage.get_order(close).status.is_terminal, 5)
        assert 0 < node.storage.get_order(close).filled < held, out
        await eventually(lambda: node.bot_exits.plans[KEY].native_orders not in ([], legs))
        rest = bot_qty(node)
        assert 0 < rest < held
        oco = node.bot_exits.plans[KEY].native_orders
        closable = node.bot_exits.host.position("binance", "BTC/USDT", "alpha")[0]
        assert 0 < closable <= rest
        assert [node.bot_exits.host.order_remaining(c) for c in oco] == [closable, closable]

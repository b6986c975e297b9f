"""Every path that closes a bot position counts the closes already working (real ccxt against
the sandbox): an emergency close or a firing exit sent while the bot's own close still awaits
the venue sells nothing more."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from native_exits_support import (
    KEY,
    bot_qty,
    enter,
    live_alpha,
    sellable_qty,
)
from tradeguard.api.bot_desk import BotDesk
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
SELL = {"symbol": "BTC/USDT", "side": "sell"}


async def _close_by_hand(node: TradingNode) -> dict:
    desk = BotDesk.for_node(node)
    conf = desk.validate("alpha", SELL)["confirmation_id"]
    return await desk.execute("alpha", {**SELL, "confirmation_id": conf}, by="test")


async def _flat_after_a_while(node: TradingNode) -> None:
    await eventually(lambda: bot_qty(node) == 0)
    await asyncio.sleep(0.5)  # a second sell would have filled by now
    assert bot_qty(node) == 0  # not short


async def test_an_emergency_close_while_the_bots_close_works_sells_nothing_more(tmp_path):
    # close_positions did not count the bot's closing order still awaiting the venue: both sold
    # the whole position and the spot account went short.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        assert (await enter(node))["status"] == "submitted"
        await eventually(lambda: bot_qty(node) > 0)
        desk = BotDesk.for_node(node)
        manual, closes = await asyncio.gather(_close_by_hand(node), desk.close_positions("alpha"))
        assert (manual["status"], manual["code"]) == ("submitted", "OK"), manual
        [close] = closes
        assert (close["status"], close["code"]) == ("denied", "BOT_CLOSE_WORKING"), close
        assert "working" in close["reason"] and close["client_order_id"] is None
        await _flat_after_a_while(node)


async def test_a_stop_firing_while_the_bots_close_works_sends_no_second_sell(tmp_path):
    # The exit manager sent its market sell for the whole position although the bot's own
    # close was working: both filled, leaving the bot short.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex, native=False) as node:
        assert (await enter(node, stop_loss_pct="2"))["status"] == "submitted"
        await eventually(lambda: bot_qty(node) > 0)
        await eventually(lambda: node.bot_exits.plans[KEY].active)
        manual, _ = await asyncio.gather(
            _close_by_hand(node), node.bot_exits.on_price("BTC/USDT", Decimal(45000))
        )
        assert (manual["status"], manual["code"]) == ("submitted", "OK"), manual
        assert [o for o in node.orders.orders.values() if o.signal.get("exit")] == []
        await _flat_after_a_while(node)
        await eventually(lambda: KEY not in node.bot_exits.plans)


async def test_a_target_resting_on_the_book_does_not_hold_the_stop_back(tmp_path):
    # A reduce-only limit sell of the bot resting at a target counted as a close "working": the
    # stop-loss sent nothing while it rested, so a fall through the stop never closed the bot.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex, native=False) as node:
        assert (await enter(node, stop_loss_pct="2"))["status"] == "submitted"
        await eventually(lambda: bot_qty(node) > 0)
        await eventually(lambda: node.bot_exits.plans[KEY].active)
        target = OrderIntent("alpha", "binance", "BTC/USDT", Side.SELL, sellable_qty(node),
                             OrderType.LIMIT, price=Decimal(50900), reduce_only=True)  # fmt: skip
        resting = await node.submit(target)
        assert resting.ok and resting.order is not None, resting.reason
        await node.bot_exits.on_price("BTC/USDT", Decimal(45000))  # 10% under the entry
        await eventually(lambda: resting.order.client_order_id not in node.orders.open)
        [stop] = [o for o in node.orders.orders.values() if o.signal.get("exit")]
        assert stop.signal["exit"] == "stop_loss"
        await _flat_after_a_while(node)
        await eventually(lambda: KEY not in node.bot_exits.plans)


async def _rest_a_target(node: TradingNode):
    target = OrderIntent("alpha", "binance", "BTC/USDT", Side.SELL, sellable_qty(node),
                         OrderType.LIMIT, price=Decimal(50900), reduce_only=True)  # fmt: skip
    resting = await node.submit(target)
    assert resting.ok and resting.order is not None, resting.reason
    return resting.order


async def test_the_bots_close_cancels_a_resting_target_and_sells(tmp_path):
    # The gate counted a reduce-only limit resting at a target as a close working, so the bot's
    # own close was refused with BOT_CLOSE_WORKING while the exits did not count it.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex, native=False) as node:
        assert (await enter(node, stop_loss_pct="2"))["status"] == "submitted"
        await eventually(lambda: bot_qty(node) > 0)
        target = await _rest_a_target(node)
        manual = await _close_by_hand(node)
        assert (manual["status"], manual["code"]) == ("submitted", "OK"), manual
        assert target.client_order_id not in node.orders.open
        assert node.orders.orders[target.client_order_id].status.value == "cancelled"
        await _flat_after_a_while(node)


async def test_close_positions_cancels_a_resting_target_and_sells(tmp_path):
    # close_positions sent its sale beside the resting target, which held the coins it sells.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex, native=False) as node:
        assert (await enter(node))["status"] == "submitted"
        await eventually(lambda: bot_qty(node) > 0)
        target = await _rest_a_target(node)
        [close] = await BotDesk.for_node(node).close_positions("alpha")
        assert (close["status"], close["code"]) == ("submitted", "OK"), close
        assert node.orders.orders[target.client_order_id].status.value == "cancelled"
        await _flat_after_a_while(node)


async def test_a_stop_held_back_by_the_bots_close_fires_once_that_close_expires(tmp_path):
    # While the bot's close works the stop sends nothing; the close expiring unfilled must
    # leave the position guarded by the stop again, for all of it.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex, native=False) as node:
        assert (await enter(node, stop_loss_pct="2"))["status"] == "submitted"
        await eventually(lambda: bot_qty(node) > 0)
        await eventually(lambda: node.bot_exits.plans[KEY].active)
        ex.set_book("BTCUSDT", bids=[], asks=[("50010", "5")])  # nobody buys: sells expire
        manual = await _close_by_hand(node)
        close = manual["client_order_id"]
        await eventually(lambda: node.storage.get_order(close).status.is_terminal, 5)
        assert node.storage.get_order(close).filled == 0
        await node.bot_exits.on_price("BTC/USDT", Decimal(45000))  # 10% under the entry
        await eventually(lambda: [o for o in node.orders.orders.values() if o.signal.get("exit")])
        [stop] = [o for o in node.orders.orders.values() if o.signal.get("exit")]
        assert stop.signal["exit"] == "stop_loss" and stop.amount == sellable_qty(node)

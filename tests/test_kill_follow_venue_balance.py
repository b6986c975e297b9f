"""The kill's follow-up caps a spot sale at what the venue holds at that moment, asked of the
venue, not at the node's stored copy of the balance: coins that left the account since the
copy was read (a withdrawal the node has not heard of) are not sold."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from kill_follow_support import (
    KEY,
    alice_sells,
    expire_on_venue,
    follow_node,
    follow_up,
    kill_and_flatten,
    take_part,
)
from native_exits_support import native_config
from node_support import trading_live
from test_bot_close_oco import bot_coins_only
from tradeguard.model.enums import OrderStatus
from tradeguard.sandbox.orders import Result
from tradeguard.sandbox.testing import ALICE_KEY, eventually

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


async def test_the_follow_up_sells_what_the_venue_holds_not_the_stored_copy(tmp_path):
    async with bot_coins_only() as ex:  # alice holds only the BTC the node bought
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
            take_part(ex, "0.0004")
            await eventually(lambda: node.orders.orders[listed].filled == D("0.0004"), 30)
            copy = node.portfolio.book("binance").total("BTC")
            # the venue expires the close; in the same instant all but 0.0002 of the BTC
            # leaves the account, and no balance event tells the node
            order = next(o for o in ex.engine.orders.values() if o.client_order_id == listed)
            result = Result(order=order)
            ex.engine.close(order, "EXPIRED", ex.now_ms(), result)
            ex.engine.accounts[ex.account_id(ALICE_KEY)].balances["BTC"].free = D("0.0002")
            ex.publish(result, {"BTCUSDT"})
            await eventually(lambda: follow_up(node)[0]["sent"], 60)
            [entry] = follow_up(node)
            flatten = node.orders.orders[entry["sent"][0]]
            assert flatten.amount == D("0.0002"), (flatten.amount, copy, entry)
            assert entry["balance"].startswith("venue 0.0002 BTC"), entry
            await eventually(lambda: flatten.status is OrderStatus.FILLED, 30)
            assert node.orders.orders[listed].filled == D("0.0004")
            assert copy > D("0.0005")  # the stored copy still held the close's rest
            sells = alice_sells(ex)
            assert sells[-1] == D("0.0002") and sum(sells) <= D("0.002"), sells
            assert node.portfolio.positions[KEY].quantity > 0  # the rest left is named below
            await eventually(lambda: follow_up(node)[0]["status"] == "closed", 60)
            assert "sold outside the node" in follow_up(node)[0]["reason"]


async def test_a_resume_while_the_venue_is_asked_its_balance_sends_no_flatten(tmp_path):
    # The operator resumes trading (takes over) while the follow-up waits on the venue's
    # balance: the follow-up ends there, it does not sell the position after the resume.
    async with bot_coins_only() as ex:
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
            venue = node.venues["binance"]
            ask = venue.fetch_balances
            asked, answer = asyncio.Event(), asyncio.Event()

            async def slow_balances() -> list[Any]:
                if not asked.is_set():
                    asked.set()
                    await answer.wait()
                return await ask()

            venue.fetch_balances = slow_balances  # type: ignore[method-assign]
            sold = alice_sells(ex)
            expire_on_venue(ex, listed)
            await asyncio.wait_for(asked.wait(), 60)
            node.risk.resume("pytest", "the operator took over")
            answer.set()
            await eventually(lambda: follow_up(node)[0]["status"] != "waiting", 60)
            [entry] = follow_up(node)
            assert entry["status"] == "ended" and entry["sent"] == [], entry
            await asyncio.sleep(1)  # a flatten sent would have reached the venue by now
            assert alice_sells(ex) == sold, "a flatten was sent after the resume"
            assert node.portfolio.positions[KEY].quantity > D("0.0009")  # not sold

"""A bot's own close whose request is cancelled (the client went away) while the venue exits
are lifted: the position gets its exits back, as a refused close's does."""

from __future__ import annotations

import asyncio
import sys

import pytest

from native_exits_support import KEY, bot_qty, enter, live_alpha, sandbox_lists
from test_bot_close_oco import EXITS, _resting, _sell, bot_coins_only
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots import exits as exits_module
from tradeguard.sandbox.testing import ALICE_KEY, eventually

pytestmark = pytest.mark.usefixtures("vault_env")


async def test_a_close_cancelled_after_lifting_the_oco_gets_it_placed_again(tmp_path):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        legs = await _resting(node)
        exits, reached = node.bot_exits, asyncio.Event()

        async def hanging(venue, symbol, bot):  # the request is cancelled past the lift
            reached.set()
            await asyncio.Event().wait()

        exits.clear_closes = hanging
        close = asyncio.create_task(_sell(node))
        await asyncio.wait_for(reached.wait(), 10)
        close.cancel()
        await asyncio.gather(close, return_exceptions=True)
        del exits.clear_closes
        assert sandbox_lists(ex) == [["CANCELED", "CANCELED"]]
        # the OCO was cancelled on the venue and nothing sold: the stop must rest again
        await eventually(lambda: exits.plans[KEY].native_orders not in ([], legs), 5)
        assert not exits.plans[KEY].native_moving


async def test_a_close_cancelled_while_cancelling_the_oco_leaves_the_next_close_free(
    tmp_path, monkeypatch
):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        await _resting(node)
        reached, real = asyncio.Event(), exits_module.cancel_native

        async def hanging(host, plan):  # the venue cancel of the close's lift does not answer
            if sys._getframe(1).f_code.co_name != "lift":
                return await real(host, plan)
            reached.set()
            await asyncio.Event().wait()

        with monkeypatch.context() as m:
            m.setattr(exits_module, "cancel_native", hanging)
            close = asyncio.create_task(_sell(node))
            await asyncio.wait_for(reached.wait(), 10)
            close.cancel()
            await asyncio.gather(close, return_exceptions=True)
        # the exits were left marked as being changed: every later close was refused
        await eventually(lambda: not node.bot_exits.plans[KEY].native_moving, 5)
        out = await _sell(node)
        assert (out["status"], out["code"]) == ("submitted", "OK"), out


async def test_close_positions_cancelled_while_lifting_the_oco_gets_it_placed_again(
    tmp_path, monkeypatch
):
    # the close-all path (`POST /bots/{id}/close-positions`) lifts the venue exits as the bot's
    # own close does; its request cancelled mid-lift left the plan marked as being changed
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        legs = await _resting(node)
        reached, real = asyncio.Event(), exits_module.cancel_native

        async def cut(host, plan):  # the venue cancels the OCO; the request goes before it hears
            if sys._getframe(1).f_code.co_name != "lift":
                return await real(host, plan)
            await real(host, plan)
            reached.set()
            await asyncio.Event().wait()

        desk = BotDesk.for_node(node)
        with monkeypatch.context() as m:
            m.setattr(exits_module, "cancel_native", cut)
            close = asyncio.create_task(desk.close_positions("alpha"))
            await asyncio.wait_for(reached.wait(), 10)
            close.cancel()
            await asyncio.gather(close, return_exceptions=True)
        assert sandbox_lists(ex) == [["CANCELED", "CANCELED"]]
        plans = node.bot_exits.plans
        # nothing was sold: the position's stop and target rest on the venue again
        await eventually(lambda: plans[KEY].native_orders not in ([], legs), 5)
        assert not plans[KEY].native_moving
        [out] = await desk.close_positions("alpha")
        assert (out["status"], out["code"]) == ("submitted", "OK"), out


async def test_close_positions_cancelled_while_its_sell_is_on_the_wire_sells_once(tmp_path):
    # the venue executes the close at once and answers late; the request goes before the
    # answer: the close fills, and no exit may be placed again to sell a second time
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        await _resting(node)
        ex.faults.latency_after_ms_by_endpoint = {"/api/v3/order": 1_500}
        desk = BotDesk.for_node(node)

        alice = ex.account_id(ALICE_KEY)

        def sells() -> list[str]:  # the bot's sales (a market order goes as an IOC limit)
            return [o.status for o in ex.engine.orders.values()
                    if (o.account_id, o.side, o.type) == (alice, "SELL", "LIMIT")]  # fmt: skip

        close = asyncio.create_task(desk.close_positions("alpha"))
        await eventually(lambda: bool(sells()), 10)
        close.cancel()
        await asyncio.gather(close, return_exceptions=True)
        ex.faults.latency_after_ms_by_endpoint = {}
        await eventually(lambda: bot_qty(node) == 0, 10)
        await eventually(lambda: KEY not in node.bot_exits.plans, 10)
        assert [s for s in sandbox_lists(ex) if "NEW" in s] == []
        assert sells() == ["FILLED"]

"""The kill switch's flatten of a bot's position against the sandbox venue (real ccxt): the
bot's venue exits are cancelled with every order, the position is sold once, and no exit is
placed again to sell it a second time."""

from __future__ import annotations

import asyncio
import sys

import pytest

from native_exits_support import KEY, bot_qty, enter, live_alpha, sandbox_lists
from test_bot_close_oco import EXITS, _resting, bot_coins_only
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots import exits as exits_module
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, eventually

pytestmark = pytest.mark.usefixtures("vault_env")


def _sold_and_resting(ex: SandboxExchange) -> tuple[list[str], list[str]]:
    """The statuses of the account's sales (a market order goes as an IOC limit) and the ids
    of its orders still resting on the venue."""
    alice = ex.account_id(ALICE_KEY)
    mine = [o for o in ex.engine.orders.values() if o.account_id == alice]
    sold = [o.status for o in mine if (o.side, o.type) == ("SELL", "LIMIT")]
    return sold, [o.client_order_id for o in mine if o.status == "NEW"]


@pytest.mark.parametrize("native", [True, False], ids=["venue-exits", "engine-exits"])
async def test_kill_flatten_sells_a_bots_position_once(tmp_path, native):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex, native=native) as node:
        await enter(node, **EXITS)
        if native:
            await _resting(node)
        else:
            await eventually(lambda: KEY in node.bot_exits.plans and bot_qty(node) > 0)
        report = await node.kill(reason="flatten test", by="pytest", flatten=True)
        assert report["closed_positions"] == ["binance:BTC/USDT"], report
        await eventually(lambda: bot_qty(node) == 0, 10)
        await eventually(lambda: KEY not in node.bot_exits.plans, 10)
        assert [s for s in sandbox_lists(ex) if "NEW" in s] == [], report
        assert _sold_and_resting(ex) == (["FILLED"], []), report


async def test_kill_flatten_during_a_bots_close_positions_sells_once(tmp_path, monkeypatch):
    # the bot's close-all has lifted its venue exits when the kill flattens the node: the kill
    # sells the position, and the close-all, going on, neither sells it again nor places exits
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, **EXITS)
        await _resting(node)
        reached, go, real = asyncio.Event(), asyncio.Event(), exits_module.cancel_native

        async def held(host, plan):  # the venue cancels the OCO; the close waits past it
            done = await real(host, plan)
            if sys._getframe(1).f_code.co_name == "lift":
                reached.set()
                await go.wait()
            return done

        desk = BotDesk.for_node(node)
        with monkeypatch.context() as m:
            m.setattr(exits_module, "cancel_native", held)
            close = asyncio.create_task(desk.close_positions("alpha"))
            await asyncio.wait_for(reached.wait(), 10)
            report = await node.kill(reason="flatten test", by="pytest", flatten=True)
            go.set()
            outs = await close
        assert report["closed_positions"] == ["binance:BTC/USDT"], report
        await eventually(lambda: bot_qty(node) == 0, 10)
        await eventually(lambda: KEY not in node.bot_exits.plans, 10)
        assert _sold_and_resting(ex) == (["FILLED"], []), (report, outs)

"""A venue whose balance call hangs does not stall the live loop while the kill's follow-up
asks it: the heartbeat keeps beating within the health limit and the kill file is still read,
with two open spot positions each waiting on that venue's balance."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from kill_follow_support import expire_on_venue, follow_node, follow_up, held
from native_exits_support import native_config
from node_support import trading_live
from test_bot_close_oco import bot_coins_only
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.health import assess
from tradeguard.sandbox.testing import eventually

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STRATEGIES = ("manual", "desk")


def _config(tmp_path: Any, ex: Any) -> Config:
    cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
    doc = cfg.model_dump(mode="json")
    # each balance read gives up after 2 x 3 s: far over the 2 s heartbeat limit
    doc["reconcile"].update(call_timeout_s=3, call_attempts=2, balance_sync_interval_s=0)
    doc["health"]["heartbeat_max_age_s"] = 2
    doc["node"]["kill_poll_interval_s"] = 0.2
    return Config.model_validate(doc)


async def _two_positions_with_closes_resting(node: TradingNode) -> list[str]:
    """Buy 0.002 BTC for each strategy and rest a reduce-only sell of 0.001 for each; kill with
    flatten while cancels are refused. Return the resting closes' ids."""
    closes = []
    for strategy in STRATEGIES:
        buy = OrderIntent(strategy, "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        assert (await node.submit(buy)).ok
        key = ("binance", "BTC/USDT", strategy)
        await eventually(lambda k=key: node.portfolio.positions[k].quantity > D("0.0019"), 30)
        sell = OrderIntent(strategy, "binance", "BTC/USDT", Side.SELL, D("0.001"),
                           OrderType.LIMIT, D("50500"), reduce_only=True)  # fmt: skip
        close = await node.submit(sell)
        assert close.ok and close.order is not None, close.reason
        closes.append(close.order.client_order_id)
    venue = node.venues["binance"]

    async def refuse(order: object) -> None:
        raise RuntimeError("the venue is not answering cancels")

    venue.cancel = refuse  # type: ignore[method-assign]
    await node.kill(reason="hung venue test", by="pytest", flatten=True)
    del venue.cancel
    return closes


async def test_a_hung_balance_call_does_not_stall_the_heartbeat_or_the_kill_file(tmp_path):
    async with bot_coins_only() as ex:
        node = follow_node(_config(tmp_path, ex))
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            closes = await _two_positions_with_closes_resting(node)
            await eventually(lambda: held(node) < D("0.0011"), 30)
            assert len(follow_up(node)) == 2
            asked = 0

            async def hang() -> list[Any]:
                nonlocal asked
                asked += 1
                await asyncio.Event().wait()  # never answers: only the call's timeout ends it
                return []

            node.venues["binance"].fetch_balances = hang  # type: ignore[method-assign]
            polls = 0
            poll = node.kill_switch.poll

            def counted() -> Any:
                nonlocal polls
                polls += 1
                return poll()

            node.kill_switch.poll = counted  # type: ignore[method-assign]
            for coid in closes:
                expire_on_venue(ex, coid)
            await eventually(lambda: asked > 0, 30)
            polls_before, worst, until = polls, 0.0, time.monotonic() + 5
            while time.monotonic() < until:  # the follow-up is waiting on the hung venue
                beat = assess(node, None)["checks"]["heartbeat"]
                assert beat["status"] == "ok", beat
                worst = max(worst, beat["age_s"])
                await asyncio.sleep(0.1)
            assert worst < 1.0, worst
            assert polls - polls_before >= 10, (polls_before, polls)  # every 0.2 s, not stuck
            # the venue never answered: each position's sale is capped at the stored copy,
            # and the entry says so
            await eventually(lambda: all(e["sent"] for e in follow_up(node)), 60)
            for entry in follow_up(node):
                assert entry["balance"].startswith("stored copy"), entry
                assert "timed out after 2 attempt(s)" in entry["balance"], entry
            assert asked >= 2 * 2, asked  # each position asked, each retried once

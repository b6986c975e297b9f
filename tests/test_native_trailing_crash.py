"""A node SIGKILLed while its trailing stop moves the resting OCO (real ccxt, sandbox venue)
ends with exactly one pair on the venue, its stop at the moved level."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from native_exits_support import (
    KEY,
    bot_qty,
    native_config,
    sandbox_lists,
)
from node_support import trading_live
from tradeguard.model.enums import OrderStatus, OrderType
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
CHILD = Path(__file__).with_name("native_exits_crash_child.py")


async def _kill_while_moving(tmp_path: Path, ex: SandboxExchange, cfg, moment: str) -> list[str]:
    """Run the child until its first OCO rests, raise the price 2 % (a trade at 51,010: the
    trailing stop arms and moves the stop), and wait for its SIGKILL; return the first pair's
    client order ids."""
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(cfg.model_dump_json())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(cfg_file), moment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    first: list[str] = []
    async with asyncio.timeout(120):
        while line := await proc.stdout.readline():
            doc = json.loads(line) if line.startswith(b"{") else {}
            if len(doc.get("placed", [])) == 2 and not first:
                first = doc["placed"]
                ex.set_book("BTCUSDT", bids=[("51000", "5")], asks=[("51010", "5")])
                # Binance checks an OCO's stop against the last trade, as the sandbox does.
                ex.trade_through("BTCUSDT", "BUY", "51010", "0.001")
        _, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-3000:]
    return first


@pytest.mark.parametrize("moment", ["move_cancel", "move_place"])
async def test_a_node_killed_while_moving_its_stop_ends_with_one_pair_at_the_moved_level(
    tmp_path, moment: str
):
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        venues = [v.model_copy(update={"native_trailing_interval_s": 1}) for v in cfg.venues]
        cfg = cfg.model_copy(update={"venues": venues})
        first = await _kill_while_moving(tmp_path, ex, cfg, moment)
        # Killed before the cancel: the first pair still rests; after it: nothing rests.
        assert sandbox_lists(ex) == (
            [["NEW", "NEW"]] if moment == "move_cancel" else [["CANCELED", "CANCELED"]]
        )
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            await eventually(
                lambda: (
                    KEY in node.bot_exits.plans
                    and len(node.bot_exits.plans[KEY].native_orders) == 2
                    and node.bot_exits.plans[KEY].native_orders != first
                ),
                15,
            )
            plan = node.bot_exits.plans[KEY]
            assert not plan.native_moving and plan.native_stop is not None
            tp, sl = (node.storage.get_order(c) for c in plan.native_orders)
            assert (tp.type, sl.type) == (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS)
            # The best price seen was at most the 51,005 mid: 1 % below, rounded down.
            assert Decimal("50400") < sl.trigger_price == plan.native_stop <= Decimal("50494.95")
            assert all(node.storage.get_order(c).status is OrderStatus.CANCELLED for c in first)
            assert [s for s in sandbox_lists(ex) if "NEW" in s] == [["NEW", "NEW"]]

            # The price falls through the moved stop: the venue sells, above the entry.
            ex.set_book("BTCUSDT", bids=[("50300", "5")], asks=[("50310", "5")])
            ex.trade_through("BTCUSDT", "SELL", "50300", "0.001")
            await eventually(lambda: bot_qty(node) == 0, 10)
            await eventually(lambda: KEY not in node.bot_exits.plans, 10)
            assert node.storage.get_order(sl.client_order_id).status is OrderStatus.FILLED
            [trade] = node.portfolio.closed_trades
            assert trade.pnl > 0

"""A live node SIGKILLed between an order's journal commit and the venue's send, or between the
send and the answer, loses nothing at its next start: the journal's order is resolved with the
venue (never sent: ended, no fill; filled: its fill booked once), the balances and position are
the venue's. A live node commits each step on its own, so these kills land where they are
named (a paper replay commits whole candles: `test_paper_kill_steps`). Real child process,
sandbox venue (real ccxt)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from kill_follow_support import held
from native_exits_support import native_config
from rigs import killed_child
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
CHILD = Path(__file__).with_name("order_steps_child.py")


@pytest.mark.parametrize("step", ["journaled_not_sent", "sent_not_heard"])
async def test_a_node_killed_at_an_order_step_loses_nothing_at_its_next_start(
    tmp_path: Path, step: str
) -> None:
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        acct = ex.account_id(ALICE_KEY)
        [doc] = [d for d in await killed_child(CHILD, tmp_path, cfg, step) if "order" in d]
        cid = doc["order"]
        assert doc["journaled"] == "submitted", doc  # durable before the venue is asked
        sent = [o for o in ex.engine.orders.values() if o.account_id == acct]
        assert [o.client_order_id for o in sent] == ([cid] if step == "sent_not_heard" else [])
        await asyncio.sleep(2.1)  # past the grace an order the venue does not know is given
        node = TradingNode(cfg)
        await node.start()  # reconciles the journal with the venue
        try:
            order = node.storage.get_order(cid)
            assert order is not None
            resting = [o.client_order_id for o in ex.engine.open_orders(acct, "BTCUSDT")]
            if step == "sent_not_heard":  # resting on the venue: adopted as open, as it is
                assert order.status is OrderStatus.ACCEPTED and cid in node.orders.open, order
                assert resting == [cid]
            else:  # the venue never had it: ended, nothing held for it
                assert order.status.is_terminal and cid not in node.orders.open, order
                assert resting == []
            assert node.storage.load_fills() == [] and held(node) == 0
            book = node.portfolio.book("binance")
            stored = {b.asset: (b.free, b.locked) for b in node.storage.load_balances("binance")}
            venue = {
                b.asset: (b.free, b.locked) for b in await node.venues["binance"].fetch_balances()
            }
            for asset in ("BTC", "USDT"):
                mem = (book.get(asset).free, book.get(asset).locked)
                assert mem == venue[asset] == stored[asset], (asset, mem, venue, stored)
            assert node.storage.load_balance_adjustments("binance") == []  # nothing unexplained
        finally:
            await node.stop()
            node.close()

"""A bot trade whose order's send was cut (the client went away, the answer was lost) follows
its order once the node learns what the venue did: the record says so, not `submitted` for
ever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bots_support import SYMBOL, add_bot, mid, quote, rig
from native_exits_support import bot_qty, native_config
from node_support import trading_live
from rigs import killed_child
from tradeguard.api.bot_desk import BotDesk
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox.testing import seeded_exchange
from tradeguard.storage.bot_rows import BotRows

CRASH_CHILD = Path(__file__).with_name("native_exits_crash_child.py")

SIGNAL = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75",
          "idempotency_key": "cut-1"}  # fmt: skip


async def test_a_send_cut_before_the_venue_heard_of_it_is_recorded_rejected(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, cooldown_s=600)
    await quote(r.node, mid(r.node))
    venue = r.node.venues["paper"]
    real, reached = venue.submit, asyncio.Event()

    async def unheard(order):  # the request goes before the venue hears of the order
        reached.set()
        await asyncio.Event().wait()

    venue.submit = unheard
    try:
        cut = asyncio.create_task(r.http.post("/api/v1/trades/execute", json=SIGNAL,
                                              headers=r.trader))  # fmt: skip
        await asyncio.wait_for(reached.wait(), 10)
        cut.cancel()
        await asyncio.gather(cut, return_exceptions=True)
        venue.submit = real
        (trade,) = BotRows(r.node.db).trades("gamma")
        order = r.node.orders.orders[trade["client_order_id"]]
        await quote(r.node, mid(r.node))  # past the grace a "no such order" is an answer
        await r.node.orders.resolve(order)  # as the node's reconciliation asks the venue
        assert order.status.value == "rejected", order
        seen = await r.http.get(f"/api/v1/trades/status/{trade['trade_id']}", headers=r.trader)
        out = seen.json()
        assert (out["status"], out["order_status"]) == ("rejected", "rejected"), out
        assert out["code"] == "VENUE_REJECTED" and "no record" in out["reason"], out
        # nothing traded: no cooldown holds the next signal back
        other = await r.http.post("/api/v1/trades/execute", headers=r.trader,
                                  json={**SIGNAL, "idempotency_key": "cut-2"})  # fmt: skip
        assert other.status_code == 201, other.text
    finally:
        await r.http.aclose()
        r.node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_node_killed_mid_send_whose_venue_answers_late_records_the_rejection(tmp_path):
    # SIGKILLed with the entry journaled, never sent; the restarted node cannot ask the venue
    # at start (its order queries hang), so the trade is settled `submitted` at first; once the
    # venue answers that it never had the order, the record must say so
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        lines = await killed_child(CRASH_CHILD, tmp_path, cfg, "entry_journaled")
        entry = lines[0]["entry"]
        cfg.reconcile.call_attempts, cfg.reconcile.call_timeout_s = 1, 0.5
        ex.faults.latency_ms_by_endpoint = {"/api/v3/order": 3_000}
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            desk = BotDesk.for_node(node)  # as the API builds it once the node has started
            [trade] = desk.rows.trades("alpha", limit=10)
            assert trade["client_order_id"] == entry
            assert node.orders.orders[entry].status is OrderStatus.SUBMITTED
            ex.faults.latency_ms_by_endpoint = {}
            node.config.reconcile.call_timeout_s = 10  # the venue answers now, however loaded
            for _ in range(20):  # as the periodic reconciliation does: until the venue answers
                await reconcile_all(node, "periodic")  # ...that it has no such order
                if node.orders.orders[entry].status is not OrderStatus.SUBMITTED:
                    break
                await asyncio.sleep(0.25)
            assert node.orders.orders[entry].status is OrderStatus.REJECTED
            trade = desk.rows.trade(trade["trade_id"])
            assert (trade["status"], trade["code"]) == ("rejected", "VENUE_REJECTED"), trade
            assert bot_qty(node) == 0


async def test_a_trade_a_stopped_node_left_sending_is_settled_by_the_next_start_without_api(
    tmp_path, data_dir
):
    # a `bot = true` strategy's trade is stored `sending` before its order is journaled; a node
    # run without the API settled it never (only the API's bot desk did)
    r = await rig(tmp_path, data_dir)
    await r.http.aclose()
    rows = BotRows(r.node.db)
    now = r.node.clock.now_ms()
    rows.save_trade("bt_cut", "alpha", SYMBOL, "sending", "tg-never-journaled",
                    {"side": "buy", "venue": "paper", "by": "strategy:alpha"}, now)  # fmt: skip
    config = r.node.config
    r.node.close()
    node = build_node(config)  # a new process on the same database, no API
    try:
        trade = BotRows(node.db).trade("bt_cut")
        assert (trade["status"], trade["code"]) == ("not_sent", "NOT_SENT"), trade
    finally:
        node.close()

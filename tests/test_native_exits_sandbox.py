"""Bots' stop-loss and take-profit resting on the (sandbox) venue as an OCO, via the real ccxt."""

from __future__ import annotations

import asyncio
import sqlite3
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
from tradeguard.api.bot_desk import BotDesk
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import EventKind
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")


async def test_a_bot_entry_with_sl_and_tp_becomes_an_oco_that_the_sandbox_triggers(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        trade = await enter(node, stop_loss_pct="2", take_profit_pct="5")
        assert trade["status"] == "submitted", trade
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        plan = node.bot_exits.plans[KEY]
        tp, sl = (node.storage.get_order(cid) for cid in plan.native_orders)
        assert tp is not None and sl is not None
        assert (tp.type, sl.type) == (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS)
        assert tp.oco_group == sl.oco_group != ""
        entry = node.portfolio.positions[("binance", "BTC/USDT", "alpha")].avg_entry
        assert sl.trigger_price == (entry * Decimal("0.98")).quantize(Decimal("0.01"))
        assert tp.trigger_price == (entry * Decimal("1.05")).quantize(Decimal("0.01"))
        # The exits sell what the account holds (the entry less its fee in BTC), rounded
        # down to the lot step; the stop's fill then flattens the position.
        assert sl.reduce_only and sl.amount == sellable_qty(node) == tp.amount
        assert 0 < bot_qty(node) - sl.amount < Decimal("0.00001")
        assert sandbox_lists(ex) == [["NEW", "NEW"]]

        # The sandbox's own trades fall through the stop: it fires and sells on the venue.
        ex.set_book("BTCUSDT", bids=[("48500", "5")], asks=[("48510", "5")])
        ex.trade_through("BTCUSDT", "SELL", "48500", "0.001")
        await eventually(lambda: bot_qty(node) == 0)
        await eventually(lambda: KEY not in node.bot_exits.plans)
        assert [t.strategy_id for t in node.portfolio.closed_trades] == ["alpha"]
        assert node.orders.orders[sl.client_order_id].status is OrderStatus.FILLED
        await eventually(
            lambda: node.orders.orders[tp.client_order_id].status is OrderStatus.CANCELLED
        )
        assert node.storage.get_order(sl.client_order_id).status is OrderStatus.FILLED
        assert sandbox_lists(ex) == [["FILLED", "CANCELED"]]


async def _kill_child(tmp_path, cfg, moment: str) -> list[dict]:
    child = Path(__file__).with_name("native_exits_crash_child.py")
    return await killed_child(child, tmp_path, cfg, moment)


def _exit_orders(node: TradingNode) -> list[Order]:
    return [o for o in node.storage.load_orders() if o.signal.get("exit_plan") == KEY]


@pytest.mark.parametrize("moment", ["before_oco", "after_oco"])
async def test_a_node_killed_around_the_oco_placement_ends_with_exactly_one_oco(
    tmp_path, moment: str
):
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        lines = await _kill_child(tmp_path, cfg, moment)
        assert "entry" in lines[0], lines
        assert sandbox_lists(ex) == ([] if moment == "before_oco" else [["NEW", "NEW"]])
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            await eventually(lambda: bot_qty(node) > 0, 10)
            await eventually(
                lambda: (
                    KEY in node.bot_exits.plans
                    and len(node.bot_exits.plans[KEY].native_orders) == 2
                ),
                10,
            )
            assert sandbox_lists(ex) == [["NEW", "NEW"]]  # one OCO, never two
            assert len(_exit_orders(node)) == 2
            if moment == "after_oco":  # the placed pair was adopted, not replaced
                assert sorted(node.bot_exits.plans[KEY].native_orders) == sorted(lines[1]["placed"])
            ex.set_book("BTCUSDT", bids=[("52600", "5")], asks=[("52610", "5")])
            ex.trade_through("BTCUSDT", "BUY", "52610", "0.001")  # through the take-profit
            await eventually(lambda: bot_qty(node) == 0)
            await eventually(lambda: KEY not in node.bot_exits.plans)
            assert sandbox_lists(ex) == [["CANCELED", "FILLED"]]


async def test_a_node_killed_once_the_venue_took_the_entry_keeps_its_exits_and_record(tmp_path):
    # The exit plan and the bot trade were stored only after the venue answered: a node killed
    # in between came back holding the position with no stop-loss or take-profit at all, and
    # the trade missing from the bot's records.
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        lines = await _kill_child(tmp_path, cfg, "entry_sent")
        entry = lines[0]["entry"]
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            await eventually(lambda: bot_qty(node) > 0, 10)
            assert node.storage.get_order(entry).status is OrderStatus.FILLED
            await eventually(
                lambda: (
                    KEY in node.bot_exits.plans
                    and len(node.bot_exits.plans[KEY].native_orders) == 2
                ),
                10,
            )
            plan = node.bot_exits.plans[KEY]
            assert (plan.stop_loss_pct, plan.take_profit_pct) == (Decimal(2), Decimal(5))
            assert sandbox_lists(ex) == [["NEW", "NEW"]]
            [trade] = BotDesk.for_node(node).rows.trades("alpha", limit=10)
            assert trade["client_order_id"] == entry and trade["status"] == "submitted"
            assert trade["score"] == "0.5" and trade["exits"]["stop_loss_pct"] == "2"


async def test_a_stop_that_fires_while_the_node_is_down_is_a_fill_after_restart(tmp_path):
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        lines = await _kill_child(tmp_path, cfg, "after_oco")
        tp_id, sl_id = lines[1]["placed"]
        ex.set_book("BTCUSDT", bids=[("48500", "5")], asks=[("48510", "5")])
        ex.trade_through("BTCUSDT", "SELL", "48500", "0.001")  # the node is down
        assert sandbox_lists(ex) == [["FILLED", "CANCELED"]]
        node = TradingNode(cfg)
        await node.start()  # reconciliation: the stop's fill, the take-profit's cancel
        try:
            assert node.storage.get_order(sl_id).status is OrderStatus.FILLED
            assert node.storage.get_order(tp_id).status is OrderStatus.CANCELLED
            assert bot_qty(node) == 0
            [fill] = [f for f in node.storage.load_fills() if f.client_order_id == sl_id]
            assert fill.price == Decimal("48500")
            await node.bot_exits.on_price("BTC/USDT", Decimal("48505"))
            assert KEY not in node.bot_exits.plans
            assert sandbox_lists(ex) == [["FILLED", "CANCELED"]]
        finally:
            await node.stop()
            node.close()


async def test_the_kill_switch_cancels_a_resting_oco(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node, stop_loss_pct="2", take_profit_pct="5")
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        legs = list(node.bot_exits.plans[KEY].native_orders)
        report = await node.kill("test", by="test")
        assert sorted(report["cancelled"]) == sorted(legs), report
        assert sandbox_lists(ex) == [["CANCELED", "CANCELED"]]
        for cid in legs:
            assert node.storage.get_order(cid).status is OrderStatus.CANCELLED


def _pair(node: TradingNode, tp: str, sl: str) -> tuple[OrderIntent, OrderIntent]:
    qty = sellable_qty(node)
    return tuple(  # type: ignore[return-value]
        OrderIntent("alpha", "binance", "BTC/USDT", Side.SELL, qty, kind, reduce_only=True,
                    trigger_price=Decimal(price))
        for kind, price in ((OrderType.TAKE_PROFIT, tp), (OrderType.STOP_LOSS, sl))
    )  # fmt: skip


async def test_an_oco_the_venue_refuses_leaves_both_legs_rejected_in_the_journal(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node)  # no exit rules: a plain entry, bought at the ask (50,001)
        await eventually(lambda: bot_qty(node) > 0)
        # Both triggers sit on the right side of the mid (50,000), so risk passes; the
        # sandbox checks them against its last trade (50,001) and refuses the pair.
        tp, sl = await node.orders.submit_oco(*_pair(node, "50000.5", "49990"))
        assert (tp.status, sl.status) == ("rejected", "rejected"), (tp, sl)
        for r in (tp, sl):
            assert r.order is not None
            stored = node.storage.get_order(r.order.client_order_id)
            assert stored.status is OrderStatus.REJECTED and stored.oco_group != ""
            assert stored.trigger_price == r.order.trigger_price
        assert sandbox_lists(ex) == []

        node.venues["binance"].native_oco = False
        tp, sl = await node.orders.submit_oco(*_pair(node, "52000", "49000"))
        assert (tp.status, tp.code) == ("denied", "OCO_UNSUPPORTED")


async def test_an_oco_whose_answer_is_lost_is_audited_and_resolved_by_query_not_guessed(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        await enter(node)
        await eventually(lambda: bot_qty(node) > 0)
        ex.faults.drop_response_after_execute = 1  # the list is placed, the answer lost
        tp, sl = await node.orders.submit_oco(*_pair(node, "52000", "49000"))
        assert (tp.status, sl.status) == ("in_flight", "in_flight"), (tp, sl)
        assert tp.code == sl.code == "AMBIGUOUS"
        legs = [r.order for r in (tp, sl)]
        assert all(o is not None and o.status is OrderStatus.ACCEPTED for o in legs)
        assert sandbox_lists(ex) == [["NEW", "NEW"]]  # one list on the venue, not two

        def audited(kind: str) -> list:
            node.flush_audit()  # written with the next commit (a checkpoint at the latest)
            return node.storage.load_events(kind_prefix=kind)

        assert sorted(e.data["client_order_id"] for e in audited(EventKind.VENUE_ERROR)) == (
            sorted(o.client_order_id for o in legs if o is not None)
        )

        # An order in unknown state blocks its symbol: an OCO there is refused and audited.
        assert legs[0] is not None
        node.orders.unknown[legs[0].client_order_id] = legs[0]
        tp2, sl2 = await node.orders.submit_oco(*_pair(node, "53000", "48000"))
        assert (tp2.status, tp2.code) == (sl2.status, sl2.code) == (
            "denied", "ORDER_STATE_UNKNOWN"
        )  # fmt: skip
        [denied] = audited(EventKind.RISK_DENIED)
        assert denied.data["code"] == "ORDER_STATE_UNKNOWN"
        assert sandbox_lists(ex) == [["NEW", "NEW"]]


@pytest.mark.parametrize(
    ("moment", "status", "code"),
    [("entry_stored", "not_sent", "NOT_SENT"), ("entry_journaled", "rejected", "VENUE_REJECTED")],
)
async def test_a_node_killed_before_the_entry_reached_the_venue_settles_trade_and_plan(
    tmp_path, moment, status, code
):
    # The trade record and the exit plan are stored before the entry is journaled and sent: a
    # node killed in between comes back with neither a position nor an order on the venue. The
    # plan ended, but the trade read "sending" (code OK) for ever.
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        lines = await _kill_child(tmp_path, cfg, moment)
        entry = lines[0]["entry"]
        node = TradingNode(cfg)
        # the plan was stored for the entry, before it was journaled
        assert node.bot_exits.plans[KEY].entry_order == entry
        journaled = node.storage.get_order(entry)
        if journaled is not None:  # down past the not-found grace: the start's reconciliation
            # finds that the entry never reached the venue
            down_s = node.clock.now_ms() / 1000 - journaled.created_ts / 1000
            await asyncio.sleep(max(0.0, node.orders.not_found_grace_ms / 1000 + 0.2 - down_s))
        await node.start()
        async with trading_live(node):
            desk = BotDesk.for_node(node)
            [trade] = desk.rows.trades("alpha", limit=10)
            assert trade["client_order_id"] == entry
            assert (trade["status"], trade["code"]) == (status, code), trade
            assert trade["exits"]["stop_loss_pct"] == "2" and trade["score"] == "0.5"
            await eventually(lambda: KEY not in node.bot_exits.plans, 10)
            assert bot_qty(node) == 0 and sandbox_lists(ex) == []
            assert [o for o in ex.engine.orders.values() if o.client_order_id == entry] == []


async def test_two_closes_sent_at_once_sell_the_position_once(tmp_path):
    # Both closes were checked while the first one awaited the venue: each was reducing and
    # each sold the whole position, leaving the bot short on a spot account.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        trade = await enter(node)
        assert trade["status"] == "submitted", trade
        await eventually(lambda: bot_qty(node) > 0)
        desk = BotDesk.for_node(node)
        ask = {"symbol": "BTC/USDT", "side": "sell"}
        confs = [desk.validate("alpha", ask)["confirmation_id"] for _ in range(2)]
        outs = await asyncio.gather(
            *(desk.execute("alpha", {**ask, "confirmation_id": c}, by="test") for c in confs)
        )
        codes = sorted((o["status"], o["code"]) for o in outs)
        assert codes == [("denied", "BOT_CLOSE_WORKING"), ("submitted", "OK")], outs
        await eventually(lambda: bot_qty(node) == 0)
        await asyncio.sleep(0.5)  # a second sell would have filled by now
        assert bot_qty(node) == 0
        assert node.portfolio.positions[("binance", "BTC/USDT", "alpha")].quantity == 0


async def test_an_entry_the_venue_refuses_after_its_plan_was_stored_drops_the_plan(tmp_path):
    # The plan is stored before the entry is sent: a refusal by the venue must take it back.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free = Decimal(0)
        trade = await enter(node, stop_loss_pct="2", take_profit_pct="5")
        assert trade["status"] == "rejected", trade
        assert KEY not in node.bot_exits.plans
        assert node.bot_exits.host.store.exits() == []
        stored = BotDesk.for_node(node).rows.trade(trade["trade_id"])
        assert stored["status"] == "rejected" and stored["code"] != "OK", stored
        await asyncio.sleep(0.5)
        assert sandbox_lists(ex) == []


async def test_an_entry_whose_exit_plan_cannot_be_stored_is_not_sent_nor_left_sending(tmp_path):
    # before_send stores the trade, then the plan; the plan's write failing stopped the entry
    # before its journal row (nothing sent), but the trade read "sending", code OK, and the
    # plan of an order that never existed stayed in force.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        con = sqlite3.connect(tmp_path / "tg.db")
        con.execute(
            "CREATE TRIGGER full BEFORE INSERT ON bot_exits "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
        con.commit()
        with pytest.raises(Exception, match="disk full"):
            await enter(node, stop_loss_pct="2", take_profit_pct="5")
        desk = BotDesk.for_node(node)
        [trade] = desk.rows.trades("alpha")
        assert (trade["status"], trade["code"]) == ("not_sent", "NOT_SENT"), trade
        assert "disk full" in trade["reason"]
        assert trade["client_order_id"] not in node.orders.orders
        assert KEY not in node.bot_exits.plans
        assert [o for o in ex.engine.orders.values() if o.account_id != "__house__"] == []
        con.execute("DROP TRIGGER full")
        con.commit()
        con.close()
        again = await enter(node, stop_loss_pct="2", take_profit_pct="5")
        assert again["status"] == "submitted", again


async def test_two_entries_sent_at_once_trade_once(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        desk = BotDesk.for_node(node)
        ask = {"symbol": "BTC/USDT", "side": "buy", "score": "0.5"}
        confs = [desk.validate("alpha", ask)["confirmation_id"] for _ in range(2)]
        outs = await asyncio.gather(
            *(desk.execute("alpha", {**ask, "confirmation_id": c}, by="test") for c in confs)
        )
        codes = sorted((o["status"], o["code"]) for o in outs)
        assert codes == [("denied", "BOT_ONE_POSITION"), ("submitted", "OK")], outs
        await eventually(lambda: bot_qty(node) > 0)
        await asyncio.sleep(0.5)
        assert bot_qty(node) * 50_000 <= Decimal(21)  # one 20 USD entry

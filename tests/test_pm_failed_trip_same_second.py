"""Two round trips of one strategy closed in the same second at the same price (Polymarket
times are to the second): the sale of the first FAILED, and its own round trip is the one
taken out of the closed trades and the closed position rows, never the other."""

from __future__ import annotations

from decimal import Decimal

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent

D = Decimal


async def _sell(node, quantity: Decimal) -> None:
    quote = await node.venues["polymarket"].fetch_quote(POLY_YES)
    await node.on_quote(quote)
    placed = await node.submit(OrderIntent(
        "s1", "polymarket", POLY_YES, Side.SELL, quantity, OrderType.LIMIT, quote.bid
    ))  # fmt: skip
    assert placed.order is not None and placed.order.status is OrderStatus.FILLED


async def test_the_failed_sale_s_own_round_trip_is_dropped_not_a_later_one(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        risk = cfg.risk.model_copy(update={"cooldown_after_trade_s": 0, "cooldown_after_loss_s": 0})
        cfg = cfg.model_copy(update={"risk": risk})
        async with running(cfg) as node:
            await buy(node, POLY_YES, D(10))
            await _sell(node, D(10))
            await buy(node, POLY_YES, D(6))
            await _sell(node, D(6))
            sales = [f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL]
            assert [f.amount for f in sales] == [10, 6]
            first = sales[0]  # both closed in one second of the CLOB's, at its one bid
            assert [t.amount for t in node.portfolio.closed_trades] == [10, 6]
            server.set_trade_status(first.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [first.trade_id]
            # the 6 bought and sold did happen: their round trip stays, in memory and stored
            assert [t.amount for t in node.portfolio.closed_trades] == [6]
            rows = node.storage.load_position_rows(status="closed")
            assert [r["quantity"] for r in rows] == [6]

"""A Polymarket sell that reduced (or closed) a strategy's position and whose trade later
FAILED on chain: the reversal puts the position back as the sell found it, at its previous
average, and takes back exactly the P&L the sell realised (the local CLOB, a real node)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent

D = Decimal


async def _sell(node, symbol: str, quantity: Decimal) -> None:
    quote = await node.venues["polymarket"].fetch_quote(symbol)
    await node.on_quote(quote)
    placed = await node.submit(OrderIntent(
        "s1", "polymarket", symbol, Side.SELL, quantity, OrderType.LIMIT, quote.bid,
    ))  # fmt: skip
    assert placed.order is not None and placed.order.status is OrderStatus.FILLED, placed


@pytest.mark.parametrize("sold", [D(6), D(10)])  # part of the position, all of it
async def test_a_failed_sell_puts_the_position_back_at_its_average_and_its_pnl_back(
    tmp_path, monkeypatch, sold: Decimal
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            pos = node.portfolio.position("polymarket", POLY_YES, "s1")
            kept = (pos.quantity, pos.avg_entry, pos.realized_pnl, pos.fees, pos.trip_pnl)
            totals = (node.portfolio.realized_pnl, node.portfolio.fees_paid)
            await _sell(node, POLY_YES, sold)
            assert pos.quantity == 10 - sold
            sell = [f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL]
            [fill] = sell
            assert fill.price != pos.avg_entry or sold == 10  # the sell realised a P&L
            assert node.portfolio.realized_pnl != totals[0]
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            assert (pos.quantity, pos.avg_entry, pos.realized_pnl, pos.fees, pos.trip_pnl) == kept
            assert (node.portfolio.realized_pnl, node.portfolio.fees_paid) == totals
            assert report.position_mismatches == []
            [open_] = node.storage.load_open_positions()
            assert (open_.quantity, open_.avg_entry) == (D(10), kept[1])  # durably


async def test_a_closing_sell_failed_while_the_node_was_down_comes_back_at_its_average(
    tmp_path, monkeypatch
) -> None:
    """The sell closed the position, the node stopped, and its trade FAILED meanwhile: the
    start's reconciliation (no round trip in memory, the flat position read back from its
    closed row) still puts the position back at the average it had and takes back the P&L
    the sell realised."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            pos = node.portfolio.position("polymarket", POLY_YES, "s1")
            kept = (pos.quantity, pos.avg_entry, pos.realized_pnl, pos.fees)
            await _sell(node, POLY_YES, D(10))
            assert pos.quantity == 0 and pos.realized_pnl != kept[2]
            [fill] = [f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL]
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert [f["trade_id"] for f in report["fills_failed"]] == [fill.trade_id]
            pos = node.portfolio.position("polymarket", POLY_YES, "s1")
            assert (pos.quantity, pos.avg_entry, pos.realized_pnl, pos.fees) == kept
            [open_] = node.storage.load_open_positions()
            assert (open_.quantity, open_.avg_entry) == (D(10), kept[1])  # durably


async def test_a_buy_and_the_sell_of_part_of_it_both_failed_leave_the_position_as_before(
    tmp_path, monkeypatch
) -> None:
    """The buy and a sell of part of what it bought both FAILED (flagged by one
    reconciliation): reversed newest first, the position is flat again with no P&L left of
    either. Before, the reversals ran in trade id order: the buy's first left a short of 4,
    the sell's then took it back as an addition, and the sell's P&L stayed realised."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            pos = node.portfolio.position("polymarket", POLY_YES, "s1")
            kept = (pos.quantity, pos.realized_pnl, pos.fees)
            await buy(node, POLY_YES)
            await _sell(node, POLY_YES, D(6))
            fills = node.storage.load_fills(venue="polymarket")
            assert [f.side for f in fills] == [Side.BUY, Side.SELL]
            assert pos.realized_pnl != kept[1] - fills[0].fee_in_quote  # the sell realised
            for fill in fills:
                server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert {f["trade_id"] for f in report.fills_failed} == {f.trade_id for f in fills}
            assert (pos.quantity, pos.realized_pnl, pos.fees) == kept
            assert node.storage.load_open_positions() == []

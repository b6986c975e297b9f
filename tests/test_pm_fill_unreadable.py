"""A Kalshi order the venue reports filled whose fill row is priced where no contract trades
(1.5): the row is never booked, so the order cannot become filled through its fills. It must
not stay silently pending, holding that venue's balances back at every reconciliation: it is
escalated (a critical `order.fills_unreadable` event naming order, venue, field and value; its
symbol blocked) and the venue's balances are applied as the truth."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kalshi_node_support import TICKER, YES, kalshi_node, resting_sell, started_kalshi_node
from rigs import killed_child
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Outcome
from tradeguard.node import TradingNode

D = Decimal


def _lie(server, account: str, order_id: str) -> None:
    """The venue's fill rows of `order_id` now say 1.5 USD a contract."""
    for row in server.fills[account]:
        if row["order_id"] == order_id:
            row["yes_price_dollars"] = row["no_price_dollars"] = "1.5000"


async def test_a_filled_order_with_unreadable_fills_is_escalated_and_balances_apply(
    tmp_path: Path, monkeypatch
):
    async with started_kalshi_node(tmp_path, monkeypatch) as (server, node, keys):
        venue = node.venues["kalshi"]
        order, price = await resting_sell(node)
        ask = price + D("0.01")  # the ask the 10 YES were bought at
        await venue.balance_reader.idle()
        server.held_fills = []  # its fill is never streamed: only the REST row, which lies
        server.house_takes(TICKER, Outcome.YES, price, D(10))  # the venue: executed
        acct = server.account_of(keys["key_id"])
        _lie(server, acct.account_id, order.venue_order_id)
        alerts: list[dict] = []
        node.bus.subscribe(lambda e: alerts.append(e.data), "order.fills_unreadable")
        for _ in range(2):  # not once: every reconciliation
            report = await reconcile_and_gate(node)
            assert report.balances_deferred == [], report.to_json()
        assert order.status is not OrderStatus.FILLED  # never booked at a price not read
        book = node.portfolio.book("kalshi")
        assert book.total(f"{TICKER}:YES") == 0 and book.total("USD") == acct.cash
        assert alerts and alerts[0]["client_order_id"] == order.client_order_id
        assert "yes_price_dollars" in alerts[0]["reason"] and "1.5" in alerts[0]["reason"]
        again = await node.submit(
            OrderIntent("s1", "kalshi", YES, Side.BUY, D(1), OrderType.LIMIT, ask)
        )
        assert again.code == "ORDER_STATE_UNKNOWN", again


async def test_the_escalation_holds_after_a_sigkill_and_a_start(tmp_path: Path, monkeypatch):
    server, cfg, keys = await kalshi_node(tmp_path, monkeypatch)
    try:
        node = TradingNode(cfg)
        await node.start()
        venue = node.venues["kalshi"]
        sell, price = await resting_sell(node)
        cid, oid = sell.client_order_id, sell.venue_order_id
        await venue.balance_reader.idle()
        await node.stop()
        node.close()
        server.house_takes(TICKER, Outcome.YES, price, D(10))  # filled while the node is down
        acct = server.account_of(keys["key_id"])
        _lie(server, acct.account_id, oid)

        child = Path(__file__).with_name("pm_unreadable_child.py")
        docs = await killed_child(child, tmp_path, cfg, timeout_s=60)
        assert docs[-1] == {"unreadable": [cid]}, docs

        node = TradingNode(cfg)
        await node.start()  # killed in that state: the start escalates it again
        try:
            assert sorted(node.orders.unreadable) == [cid]
            assert node.orders.orders[cid].status is not OrderStatus.FILLED
            report = await reconcile_and_gate(node)
            assert report.ok and report.balances_deferred == [], report.to_json()
            assert report.fills_unreadable == [cid], report.to_json()
            book = node.portfolio.book("kalshi")
            assert book.total(f"{TICKER}:YES") == 0 and book.total("USD") == acct.cash
        finally:
            await node.stop()
            node.close()
    finally:
        await server.stop()

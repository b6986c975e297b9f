"""A resting order's fill booked while reconciliation's balance read is on its way: the figures
may predate it, so the balances wait instead of booking the fill again as an adjustment."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from node_support import node_for, paper_config, write_slice
from tradeguard.execution.reconcile import ReconcileReport, _reconcile_venue
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport

D = Decimal


async def test_a_fill_during_the_balance_read_is_not_booked_as_an_adjustment(
    tmp_path, data_dir, sqlite_url
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = node_for(paper_config(sqlite_url, data, tmp=tmp_path, strategies=False))
    try:
        book = node.portfolio.book("paper")
        usdt, btc = book.total("USDT"), book.total("BTC")
        order = Order("r1", "external", "paper", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"),
                      D("50000"), TimeInForce.GTC, status=OrderStatus.ACCEPTED, venue_order_id="v1",
                      created_ts=node.clock.now_ms())  # fmt: skip
        with node.storage.transaction():
            node.storage.upsert_order(order)
        node.orders.orders["r1"] = order
        node.orders.open["r1"] = order
        gate = asyncio.Event()
        fill = Fill("paper", "BTC/USDT", "r1", "v1", "t1", Side.BUY, D("50000"), D("0.01"),
                    D(0), "USDT", LiquiditySide.MAKER, node.clock.now_ms())  # fmt: skip

        class Venue:
            name = "paper"

            async def fetch_open_orders(self) -> list[OrderReport]:
                return [OrderReport("paper", "BTC/USDT", "r1", "v1", OrderStatus.ACCEPTED,
                                    amount=D("0.01"))]  # fmt: skip

            async def fetch_fills(self, symbol: str, since: int = 0) -> list[Fill]:
                return []

            async def fetch_balances(self) -> list[Balance]:
                seen = [Balance("paper", "USDT", usdt), Balance("paper", "BTC", btc)]
                await gate.wait()  # the resting order fills while the answer is on its way
                return seen

        report = ReconcileReport(trigger="periodic")
        task = asyncio.create_task(_reconcile_venue(node, "paper", Venue(), report, None))
        for _ in range(50):
            await asyncio.sleep(0)
        node.orders.on_fill(fill)  # the fill channel
        gate.set()
        await task
        adjustments = node.storage.load_balance_adjustments("paper")
        assert adjustments == []  # was: USDT +500 and BTC -0.01, the fill undone
        assert "t1" in report.balances_deferred[0]["reason"]
        assert book.total("BTC") == btc + D("0.01")  # the ledger keeps the fill
    finally:
        node.close()

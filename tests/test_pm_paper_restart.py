"""Paper prediction-market venues across a restart: the journal's open orders are taken back."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_paper import K_NO, paper_config
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.order import Order
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys

D = Decimal


async def test_a_restart_with_an_open_order_on_a_paper_outcome_venue(tmp_path):
    kalshi, pm = kalshi_demo(kalshi_keys(None)), polymarket_demo(polymarket_keys(None))
    await kalshi.start()
    await pm.start()
    try:
        cfg = paper_config(tmp_path, kalshi, pm, {}, {})
        node = TradingNode(cfg)
        await node.start()
        # a resting paper buy, journaled and acknowledged, when the node is killed
        now = node.clock.now_ms()
        order = Order("rest1", "pmarb", "kalshi", f"{K_NO}/USD", Side.BUY, OrderType.LIMIT,
                      D(5), D("0.10"), TimeInForce.GTC, created_ts=now, updated_ts=now)  # fmt: skip
        order.transition(OrderStatus.SUBMITTED, now)
        order.transition(OrderStatus.ACCEPTED, now)
        order.venue_order_id = "kalshi-o1"
        with node.storage.transaction():
            node.storage.upsert_order(order)
        await node.stop()
        node.close()  # the process is gone
        again = TradingNode(paper_config(tmp_path, kalshi, pm, {}, {}))
        try:
            await again.start()
            restored = await again.venues["kalshi"].fetch_open_orders()
            assert [r.client_order_id for r in restored] == ["rest1"]
            assert again.orders.open["rest1"].status is OrderStatus.ACCEPTED
        finally:
            await again.stop()
            again.close()
    finally:
        await pm.stop()
        await kalshi.stop()


def test_net_positions_wait_for_the_data_venue_markets():
    from tradeguard.clock import SimulatedClock
    from tradeguard.venues.outcome_paper import OutcomePaperVenue, paper_outcome_instruments

    venue = OutcomePaperVenue("k", {}, {"USD": D(100)}, SimulatedClock(0), dialect="kalshi")
    venue.restore_position("FED:YES/USD", D(7))  # the restart, before the markets are listed
    venue.add_instruments(paper_outcome_instruments("k", "kalshi", ["FED"]))
    assert venue.net_position("FED:YES/USD") == 7

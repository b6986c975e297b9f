"""The open orders Polymarket lists (`GET /data/orders`) count a match whose trade later
FAILED on chain in `size_matched`, as the order's own row does: the venue's listing takes the
FAILED sizes off, so a resting order partly met by a trade that never settled shows what is
truly filled and left. The local CLOB and the official py-clob-client."""

from __future__ import annotations

from decimal import Decimal

from test_pm_maker_fills import _hand_buys, _maker_and_hand
from test_pm_trade_status import hand_address
from test_polymarket_venue import NO, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue


async def test_open_orders_take_a_failed_trade_s_size_off() -> None:
    async with PolymarketExchange() as ex:
        venue, rec, hand = await _maker_and_hand(ex)
        try:
            report = await venue.submit(make_order("tg1-1", NO, Side.BUY, "20", "0.54"))
            assert report.filled == 0 and report.status.is_open
            await _hand_buys(hand, "1001", "0.46", size="5")  # settles
            await eventually(lambda: len(rec.fills) == 1)
            await _hand_buys(hand, "1001", "0.46", size="6")  # FAILS on chain
            await eventually(lambda: len(rec.fills) == 2)
            ex.set_trade_status(rec.fills[1].trade_id.rsplit("-", 1)[0], "FAILED")
            await eventually(lambda: rec.fills[1].trade_id in venue.failed_fills)
            (listed,) = await venue.fetch_open_orders(NO)
            assert listed.client_order_id == "tg1-1"
            assert (listed.status, listed.filled, listed.amount) == (
                OrderStatus.PARTIALLY_FILLED, Decimal(5), Decimal(20)
            )  # fmt: skip
            seen = await venue.fetch_order("tg1-1", NO)  # the order's own row reads the same
            assert seen is not None and (seen.status, seen.filled) == (listed.status, 5)
        finally:
            await venue.close()


async def test_open_orders_after_a_restart_take_a_failed_trade_s_size_off() -> None:
    # The node down while a resting order is partly met, one trade settling and one FAILING:
    # at the start, the listing (the reconciliation's first read) knows no FAILED trade yet.
    # It reads the order's trades first, as `fetch_order` does, so what it lists is true.
    async with PolymarketExchange() as ex:
        venue, _, hand = await _maker_and_hand(ex)
        try:
            order = make_order("tg1-1", NO, Side.BUY, "20", "0.54")
            await venue.submit(order)
            await venue.close()  # down: the matches and the failure go unread
            await _hand_buys(hand, "1001", "0.46", size="5")
            await _hand_buys(hand, "1001", "0.46", size="6")
            rows = ex.trades[hand_address(ex, venue)]
            (failing,) = {str(r["id"]).rsplit("-", 1)[0] for r in rows if Decimal(r["size"]) == 6}
            ex.set_trade_status(failing, "FAILED")
            venue = PolymarketVenue("polymarket", ex.url, venue._key, Clock())
            await venue.connect()
            venue.adopt(order)
            (listed,) = await venue.fetch_open_orders(NO)
            assert (listed.status, listed.filled) == (OrderStatus.PARTIALLY_FILLED, 5), listed
            (whole,) = await venue.fetch_open_orders()  # every market's listing reads the same
            assert whole.filled == 5
        finally:
            await venue.close()

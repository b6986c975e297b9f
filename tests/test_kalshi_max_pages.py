"""Kalshi's account listings (fills, orders, positions) are capped by the venue's `max_pages`
setting like its markets and settlements: a fills listing after a long stop longer than the
cap is refused (TOO_MANY_PAGES naming it), and raising the setting lets it be read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pm_support import TICKER, seeded_kalshi
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderType, Side, TimeInForce
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.venues.kalshi.venue import KalshiVenue

YES = f"{TICKER}:YES/USD"


def _order(cid: str, price: str) -> Order:
    return Order(cid, "s1", "kalshi", YES, Side.BUY, OrderType.LIMIT, Decimal(1),
                 Decimal(price), TimeInForce.GTC)  # fmt: skip


async def test_kalshi_fills_and_orders_listings_obey_the_venues_max_pages() -> None:
    async with KalshiExchange(page_size=1) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        await venue.connect()
        try:
            for n in range(2):  # two fills: two pages of one row
                await venue.submit(_order(f"tg-fill-{n}", "0.47"))
            for n in range(2):  # two resting orders: two pages of one row
                await venue.submit(_order(f"tg-rest-{n}", "0.01"))
            venue.max_pages = 1
            with pytest.raises(DefinitiveVenueError) as err:
                await venue.fetch_fills(YES, 0)
            assert err.value.code == "TOO_MANY_PAGES" and "max_pages=1" in str(err.value)
            with pytest.raises(DefinitiveVenueError) as err:
                await venue.fetch_open_orders(YES)
            assert err.value.code == "TOO_MANY_PAGES" and "max_pages=1" in str(err.value)
            venue.max_pages = 2
            fills = await venue.fetch_fills(YES, 0)
            assert sorted(f.client_order_id for f in fills) == ["tg-fill-0", "tg-fill-1"]
            assert len(await venue.fetch_open_orders(YES)) == 2
        finally:
            await venue.close()

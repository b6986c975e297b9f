"""Kalshi pages GET /portfolio/orders and /portfolio/fills with `limit` and `cursor`: the local
server pages them as Kalshi does and the venue follows the cursor to the listing's end."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pm_support import TICKER, seeded_kalshi
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderType, Side, TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.venues.kalshi.client import KalshiApiError, KalshiClient
from tradeguard.venues.kalshi.venue import KalshiVenue

D = Decimal
YES = f"{TICKER}:YES/USD"


def _order(cid: str, price: str) -> Order:
    gtc = TimeInForce.GTC
    return Order(cid, "s1", "kalshi", YES, Side.BUY, OrderType.LIMIT, D(1), D(price), gtc)


async def test_the_venue_reads_every_page_of_the_orders_and_fills():
    async with KalshiExchange(page_size=2) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        await venue.connect()
        try:
            resting = [f"tg1-{i}" for i in range(5)]  # 5 resting: 3 pages of 2
            for cid in resting:
                await venue.submit(_order(cid, "0.40"))
            for i in range(3):  # 3 that take the house's ask: 3 fills, 2 pages
                await venue.submit(_order(f"tg1-f{i}", "0.47"))
            before = len(ex.requests)
            open_orders = await venue.fetch_open_orders(YES)
            assert sorted(r.client_order_id for r in open_orders) == resting
            pages = [
                r for r in list(ex.requests)[before:]
                if r["path"].endswith("/portfolio/orders") and r["query"].get("ticker") == TICKER
            ]  # fmt: skip
            assert len(pages) == 3, pages
            # the first order placed and the last, on different pages of all 8
            for cid in ("tg1-0", "tg1-f2"):
                found = await venue.fetch_order(cid, YES)
                assert found is not None and found.client_order_id == cid
            fills = await venue.fetch_fills(YES)
            assert len(fills) == 3 and sum(f.amount for f in fills) == 3
        finally:
            await venue.close()


async def test_the_local_server_pages_orders_like_kalshi():
    async with KalshiExchange(page_size=1000) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        await venue.connect()
        try:
            for i in range(3):
                await venue.submit(_order(f"tg1-{i}", "0.40"))
        finally:
            await venue.close()
        client = KalshiClient(ex.rest_url, key_id, pem)
        try:
            first = await client.request("GET", "/portfolio/orders", {"limit": "2"})
            assert len(first["orders"]) == 2 and first["cursor"]
            rest = await client.request(
                "GET", "/portfolio/orders", {"limit": "2", "cursor": first["cursor"]}
            )
            assert len(rest["orders"]) == 1 and rest["cursor"] == ""
            seen = {o["client_order_id"] for o in first["orders"] + rest["orders"]}
            assert seen == {"tg1-0", "tg1-1", "tg1-2"}
            with pytest.raises(KalshiApiError, match="invalid cursor"):
                await client.request("GET", "/portfolio/orders", {"cursor": "bogus!"})
        finally:
            await client.close()


@pytest.mark.parametrize("limit", ["\u00b2", "\u0663", "\uff12"])
async def test_a_limit_in_digits_other_than_0_to_9_is_refused_naming_the_range(limit):
    # "²" passed isdigit and int() refused it with its own message; "٣" and "２" were read as
    # 3 and 2, where Kalshi takes 0-9 only
    async with KalshiExchange(page_size=1000) as ex:
        key_id, pem = seeded_kalshi(ex)
        client = KalshiClient(ex.rest_url, key_id, pem)
        try:
            with pytest.raises(KalshiApiError) as caught:
                await client.request("GET", "/portfolio/orders", {"limit": limit})
        finally:
            await client.close()
    message = str(caught.value)
    assert f"limit {limit!r} must be 1..1000" in message, message
    assert "invalid literal" not in message


async def test_an_order_leaving_a_status_listing_between_pages_hides_no_other():
    # the cursor was the offset in the filtered listing: an order of page one cancelled
    # before page two shifted every later row back by one, so the next one was never listed
    async with KalshiExchange(page_size=1000) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        await venue.connect()
        client = KalshiClient(ex.rest_url, key_id, pem)
        try:
            placed = [await venue.submit(_order(f"tg1-{i}", "0.40")) for i in range(5)]
            query = {"limit": "2", "status": "resting"}
            first = await client.request("GET", "/portfolio/orders", query)
            await client.cancel_order(placed[0].venue_order_id)
            seen = [o["client_order_id"] for o in first["orders"]]
            cursor = first["cursor"]
            while cursor:
                page = await client.request("GET", "/portfolio/orders", {**query, "cursor": cursor})
                seen += [o["client_order_id"] for o in page["orders"]]
                cursor = page["cursor"]
            assert seen == [f"tg1-{i}" for i in range(5)]
        finally:
            await client.close()
            await venue.close()


async def test_a_cursor_past_every_row_left_in_a_status_listing_is_an_empty_last_page():
    async with KalshiExchange(page_size=1000) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        await venue.connect()
        client = KalshiClient(ex.rest_url, key_id, pem)
        try:
            placed = [await venue.submit(_order(f"tg1-{i}", "0.40")) for i in range(4)]
            query = {"limit": "2", "status": "resting"}
            first = await client.request("GET", "/portfolio/orders", query)
            for report in placed[2:]:
                await client.cancel_order(report.venue_order_id)
            rest = await client.request(
                "GET", "/portfolio/orders", {**query, "cursor": first["cursor"]}
            )
            assert rest == {"orders": [], "cursor": ""}
        finally:
            await client.close()
            await venue.close()

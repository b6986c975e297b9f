"""A Kalshi order listing whose rows are not orders (a bare value, an order without its
fields, a count that is no number) leaves the order's state unknown: fetch_order and
fetch_open_orders are an ambiguous venue error naming the read, never a raw KeyError,
TypeError or decimal error escaping the venue."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pm_support import rsa_pem
from rigs import answering
from test_kalshi_venue import YES, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import Side
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.venues.kalshi.venue import KalshiVenue

GOOD = {
    "order_id": "o-1", "client_order_id": "tg-1", "ticker": "T", "side": "yes",
    "action": "buy", "status": "resting", "yes_price_dollars": "0.5000",
    "fill_count_fp": "0.00", "initial_count_fp": "1.00",
}  # fmt: skip
HOSTILE_ROWS: list[Any] = [
    5,
    None,
    {"client_order_id": "tg-1"},
    {**GOOD, "fill_count_fp": "lots"},
    {**GOOD, "side": "maybe"},
    {**GOOD, "status": ["resting"]},
]


@contextlib.asynccontextmanager
async def _listing(row: Any) -> AsyncIterator[KalshiVenue]:
    async def proxy(request: web.Request) -> web.Response:
        body = {"orders": [row], "cursor": ""}
        return web.Response(text=json.dumps(body), content_type="application/json")

    runner, base = await answering(proxy)
    pem, _ = rsa_pem()
    venue = KalshiVenue("kalshi", f"{base}/trade-api/v2", "k1", pem, Clock())
    try:
        yield venue
    finally:
        await venue.close()
        await runner.cleanup()


@pytest.mark.parametrize("row", HOSTILE_ROWS)
async def test_a_listing_row_that_is_no_order_is_ambiguous_for_fetch_order(row: Any) -> None:
    async with _listing(row) as venue:
        with pytest.raises(AmbiguousVenueError, match="fetch_order failed") as err:
            await venue.fetch_order("tg-1", YES)
    assert err.value.code == "BAD_BODY"


@pytest.mark.parametrize("row", HOSTILE_ROWS)
async def test_a_listing_row_that_is_no_order_is_ambiguous_for_open_orders(row: Any) -> None:
    async with _listing(row) as venue:
        with pytest.raises(AmbiguousVenueError, match="fetch_open_orders failed") as err:
            await venue.fetch_open_orders(YES)
    assert err.value.code == "BAD_BODY"


async def test_a_good_row_is_still_read() -> None:
    async with _listing(GOOD) as venue:
        found = await venue.fetch_order("tg-1", YES)
        assert found is not None and found.venue_order_id == "o-1"
        assert [r.client_order_id for r in await venue.fetch_open_orders()] == ["tg-1"]


@pytest.mark.parametrize(
    "change",
    [
        {"status": "executed", "fill_count_fp": "NaN"},
        {"fill_count_fp": "-1.00"},
        {"initial_count_fp": "Infinity"},
        {"taker_fill_cost_dollars": "NaN", "fill_count_fp": "1.00", "status": "executed"},
    ],
)
async def test_an_order_answer_with_a_count_no_venue_would_send_is_ambiguous(
    change: dict[str, str],
) -> None:
    async def proxy(request: web.Request) -> web.Response:
        body = {"order": {**GOOD, **change}}
        return web.Response(text=json.dumps(body), content_type="application/json")

    runner, base = await answering(proxy)
    pem, _ = rsa_pem()
    venue = KalshiVenue("kalshi", f"{base}/trade-api/v2", "k1", pem, Clock())
    try:
        with pytest.raises(AmbiguousVenueError, match="submit failed") as err:
            await venue.submit(make_order("tg-1", YES, Side.BUY, "1", "0.50"))
    finally:
        await venue.close()
        await runner.cleanup()
    assert err.value.code == "BAD_BODY"


@pytest.mark.parametrize("fee", ["NaN", "-0.01", "Infinity", "lots"])
def test_a_fill_row_with_a_fee_no_venue_would_send_is_unreadable(fee: str) -> None:
    pem, _ = rsa_pem()
    venue = KalshiVenue("kalshi", "http://127.0.0.1:9/trade-api/v2", "k1", pem, Clock())
    row = {
        "fill_id": "f-1", "order_id": "o-1", "ticker": "T", "side": "yes", "action": "buy",
        "yes_price_dollars": "0.5000", "count_fp": "1.00", "fee_cost": fee,
        "created_time": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    with pytest.raises(ValueError, match="fee_cost"):
        venue.fill_from(row)

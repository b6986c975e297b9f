"""An order answer from the CLOB that is JSON but not an object (a proxy's `[]`, `null`, a bare
string) leaves the order's fate unknown: the submit or cancel is an ambiguous venue error (the
order is resolved by query), never an AttributeError that leaves it neither rejected nor
resolved."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

from aiohttp import web

from pm_support import ambiguous_message
from rigs import answering
from test_polymarket_venue import YES, make_order, started
from tradeguard.model.enums import Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.venues.polymarket.venue import PolymarketVenue


@contextlib.asynccontextmanager
async def _behind(bodies: Iterator[str]) -> AsyncIterator[PolymarketVenue]:
    """A started Polymarket venue whose calls a proxy answers, each with the next of `bodies`."""

    async def proxy(request: web.Request) -> web.Response:
        return web.Response(text=next(bodies), content_type="application/json")

    runner, base = await answering(proxy)
    async with PolymarketExchange() as ex:
        venue, _, _ = await started(ex)
        venue.url = base  # a proxy now answers for the CLOB
        try:
            yield venue
        finally:
            await venue.close()
            await runner.cleanup()


async def test_an_order_answer_that_is_not_a_json_object_isambiguous_message() -> None:
    bodies = iter(["[1, 2]", "null", '"ok"', "[]"])
    errors = []
    async with _behind(bodies) as venue:
        for cid in ("tg1-1", "tg1-2", "tg1-3"):
            errors.append(
                await ambiguous_message(venue.submit(make_order(cid, YES, Side.BUY, "10", "0.40")))
            )
        errors.append(
            await ambiguous_message(venue.cancel(make_order("tg1-1", YES, Side.BUY, "10", "0.40")))
        )
    head = "polymarket: {} failed: {} /order answered with a body that is not a JSON object"
    assert errors == [
        head.format("submit", "POST") + ": '[1, 2]'",
        head.format("submit", "POST") + ": 'null'",
        head.format("submit", "POST") + ": '\"ok\"'",
        head.format("cancel", "DELETE") + ": '[]'",
    ]


async def test_an_order_answer_that_is_not_the_clobs_is_not_read_as_a_refusal() -> None:
    # The CLOB's order answer always says "success"; `{}` from a proxy is not a refusal (the
    # order may be live), and a placed order whose state cannot be read is not a traceback.
    bodies = iter(["{}", '{"success": true, "orderID": "0x1"}', '{"status": "MATCHED"}'])
    errors = []
    async with _behind(bodies) as venue:
        for cid in ("tg1-1", "tg1-2"):
            errors.append(
                await ambiguous_message(venue.submit(make_order(cid, YES, Side.BUY, "10", "0.40")))
            )
    assert errors == [
        "polymarket: submit failed: POST /order answered with no 'success' field, not the "
        "CLOB's order answer: '{}'",
        "polymarket: fetch_order failed: GET /data/order/*** answered with an order missing "
        "'size_matched': '{\"status\": \"MATCHED\"}'",
    ]


async def test_a_trades_or_orders_answer_without_its_list_isambiguous_message() -> None:
    # /data/trades serves the fills of a filled submit and reconciliation, /data/orders the
    # open orders: `{}` or a list from a proxy is a venue error, not a KeyError or TypeError.
    bodies = iter(["{}", "[1]", '{"data": null}'])
    errors = []
    async with _behind(bodies) as venue:
        for call in (venue.fetch_fills(YES), venue.fetch_fills(YES), venue.fetch_open_orders()):
            errors.append(await ambiguous_message(call))
    assert errors == [
        "polymarket: fetch_fills failed: GET /data/trades answered with no 'data' list: '{}'",
        "polymarket: fetch_fills failed: GET /data/trades answered with no 'data' list: '[1]'",
        "polymarket: fetch_open_orders failed: GET /data/orders answered with no 'data' list: "
        "'{\"data\": null}'",
    ]


async def test_an_open_orders_row_without_its_fields_names_the_listing() -> None:
    # A row of GET /data/orders lacking a field the report needs is an error of the listing
    # (its call and route), not of an order query the node never made.
    row = '{"data": [{"id": "0xab", "asset_id": "1", "status": "LIVE", "side": "BUY"}]}'
    async with _behind(iter([row])) as venue:
        error = await ambiguous_message(venue.fetch_open_orders())
    assert error.startswith(
        "polymarket: fetch_open_orders failed: GET /data/orders answered with an order missing "
        "'size_matched'"
    ), error

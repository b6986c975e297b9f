"""An order answer from Kalshi that is a JSON object but not an order (a proxy's `{}`, an
order without its fields) leaves the order's fate unknown: submit and cancel are an
ambiguous venue error (the order is resolved by query), never a KeyError or TypeError that
leaves it neither rejected nor resolved."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from pm_support import ambiguous_message, rsa_pem
from rigs import answering
from test_kalshi_venue import YES, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import Side
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.venues.kalshi.venue import KalshiVenue


@contextlib.asynccontextmanager
async def _behind(
    proxy: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[KalshiVenue]:
    """A Kalshi venue whose every call `proxy` answers (on loopback)."""
    runner, base = await answering(proxy)
    pem, _ = rsa_pem()
    venue = KalshiVenue("kalshi", f"{base}/trade-api/v2", "k1", pem, Clock())
    try:
        yield venue
    finally:
        await venue.close()
        await runner.cleanup()


async def test_an_order_answer_without_an_order_isambiguous_message() -> None:
    bodies = iter([{}, {"order": None}, {"order": {"status": "resting"}}, {"order": []}])

    async def proxy(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(next(bodies)), content_type="application/json")

    errors = []
    async with _behind(proxy) as venue:
        for cid in ("tg1-1", "tg1-2", "tg1-3"):
            errors.append(
                await ambiguous_message(venue.submit(make_order(cid, YES, Side.BUY, "1", "0.50")))
            )
        order = make_order("tg1-4", YES, Side.BUY, "1", "0.50")
        order.venue_order_id = "o-4"
        errors.append(await ambiguous_message(venue.cancel(order)))
    head = "kalshi: {} failed: {} /trade-api/v2/portfolio/orders{} answered an order without"
    post, delete = head.format("submit", "POST", ""), head.format("cancel", "DELETE", "/o-4")
    post = "kalshi: submit failed: POST /trade-api/v2/portfolio/orders answered no readable order"
    delete = "kalshi: cancel failed: DELETE /trade-api/v2/portfolio/orders/o-4 answered no readable"
    assert errors == [
        f"{post} (missing 'order'): '{{}}'",
        f"{post} ('NoneType' object is not subscriptable): '{{\"order\": null}}'",
        f'{post} (missing \'side\'): \'{{"order": {{"status": "resting"}}}}\'',
        f"{delete} order (list indices must be integers or slices, not str): '{{\"order\": []}}'",
    ]


async def test_an_answer_without_its_list_is_ambiguous_not_a_keyerror() -> None:
    # fetch_order serves the order manager's resolve of an in-flight order, fetch_fills the
    # fills of a submit: `{}` from a proxy must be a venue error like any other bad answer.
    bodies = iter([{}, {"fills": None}, {"orders": 3}])

    async def proxy(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(next(bodies)), content_type="application/json")

    errors = []
    async with _behind(proxy) as venue:
        for call in (venue.fetch_fills(YES), venue.fetch_fills(YES), venue.fetch_order("c", YES)):
            errors.append(await ambiguous_message(call))
    head = "kalshi: {} failed: the answer is not Kalshi's"
    assert errors == [
        f"{head.format('fetch_fills')} (no 'fills')",
        f"{head.format('fetch_fills')} (fills is NoneType, not a list)",
        f"{head.format('fetch_order')} (orders is int, not a list)",
    ]


async def test_an_account_listing_without_its_list_is_ambiguous_not_an_empty_listing() -> None:
    # a proxy's `{}` for the resting orders is no "nothing rests": read as that, reconciliation
    # would take every open order of the journal for ended and the balances for unlocked
    bodies = iter([{}, {"orders": None}, {"market_positions": 3}])

    async def proxy(request: web.Request) -> web.Response:
        if request.path.endswith("/portfolio/balance"):
            return web.json_response({"balance": 0, "balance_dollars": "10.00"})
        if request.path.endswith("/portfolio/orders") and request.query.get("cursor"):
            return web.json_response({"orders": [], "cursor": ""})
        return web.Response(text=json.dumps(next(bodies)), content_type="application/json")

    errors = []
    async with _behind(proxy) as venue:
        for call in (venue.fetch_open_orders(), venue.fetch_balances()):
            errors.append(await ambiguous_message(call))
        # orders answered, positions not: the balance read is refused too
        bodies = iter([{"orders": [], "cursor": ""}, {"market_positions": 3}])
        errors.append(await ambiguous_message(venue.fetch_balances()))
    head = "kalshi: {} failed: the answer is not Kalshi's"
    assert errors == [
        f"{head.format('fetch_open_orders')} (no 'orders')",
        f"{head.format('fetch_balances')} (orders is NoneType, not a list)",
        f"{head.format('fetch_balances')} (market_positions is int, not a list)",
    ]


_SELL = {
    "action": "sell", "status": "resting", "ticker": "KX-1", "side": "yes",
    "initial_count_fp": "10.00", "fill_count_fp": "0.00", "remaining_count_fp": "10.00",
}  # fmt: skip


@pytest.mark.parametrize(
    ("orders", "positions", "why"),
    [
        ([{**_SELL, "side": "maybe"}], [], "side 'maybe' is not yes or no"),
        ([{**_SELL, "remaining_count_fp": "NaN"}], [], "remaining_count_fp"),
        ([{**_SELL, "remaining_count_fp": "-3.00"}], [], "remaining_count_fp"),
        ([{k: v for k, v in _SELL.items() if k != "ticker"}], [], "no 'ticker'"),
        (["sell"], [], "an order row is str, not an object"),
        ([_SELL], [{"ticker": "KX-1", "position_fp": "Infinity"}], "position_fp"),
        ([], [{"position_fp": "1.00"}], "no 'ticker'"),
    ],
)
async def test_a_balance_read_with_a_row_no_venue_would_send_isambiguous_message(
    orders: list, positions: list, why: str
) -> None:
    # the locks of resting sells place the contracts behind each signed position: a row that
    # cannot be read refuses the whole read (one line naming it), never a ValueError or a
    # decimal.InvalidOperation out of reconciliation
    async def proxy(request: web.Request) -> web.Response:
        if request.path.endswith("/portfolio/balance"):
            return web.json_response({"balance": 1000, "balance_dollars": "10.00"})
        if request.path.endswith("/portfolio/orders"):
            return web.json_response({"orders": orders, "cursor": ""})
        return web.json_response({"market_positions": positions, "cursor": ""})

    async with _behind(proxy) as venue:
        with pytest.raises(AmbiguousVenueError) as err:
            await venue.fetch_balances()
    assert err.value.code == "BAD_BODY"
    assert str(err.value).startswith("kalshi: fetch_balances failed: the answer is not Kalshi's (")
    assert why in str(err.value) and "\n" not in str(err.value)


async def test_a_refusal_holding_half_a_utf16_pair_is_stored_as_the_order_s_reason(
    sqlite_url: str,
) -> None:
    """A venue's error text escaping a lone surrogate ("\\ud800") became the rejected order's
    reason, which no database could store: the commit of the refusal raised UnicodeEncodeError."""
    from decimal import Decimal

    from tradeguard.model.enums import OrderType
    from tradeguard.model.errors import DefinitiveVenueError
    from tradeguard.model.order import Order
    from tradeguard.storage import Database, Storage

    async def proxy(request: web.Request) -> web.Response:
        body = '{"error": {"code": "invalid_parameters", "message": "bad \\ud800 price"}}'
        return web.Response(status=400, text=body, content_type="application/json")

    async with _behind(proxy) as venue:
        with pytest.raises(DefinitiveVenueError) as refused:
            await venue.submit(make_order("tg1-1", YES, Side.BUY, "1", "0.50"))
    assert "bad \ufffd price" in str(refused.value), str(refused.value)
    db = Database(sqlite_url)
    db.migrate()
    storage = Storage(db)
    order = Order("tg1-1", "s", "kalshi", "M:YES/USD", Side.BUY, OrderType.LIMIT, Decimal(1))
    order.reason = str(refused.value)
    with storage.transaction():
        storage.upsert_order(order)
    assert storage.load_orders()[0].reason == str(refused.value)

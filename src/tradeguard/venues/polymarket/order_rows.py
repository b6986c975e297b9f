"""A Polymarket order row (`GET /data/order/{hash}`) as an `OrderReport`.

`size_matched` counts every match of the order, a trade that later FAILED on chain too (the
local CLOB's, as the CLOB keeps the match): what the venue read of those trades (`failed`) is
taken off, never below nothing, so the order reports what settled or is settling. An order the
CLOB reports `MATCHED` (no longer on the book) with less than its size left that way ended:
CANCELLED at what it filled, never an open order nor one waiting for fills no row will give."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.money import ZERO, dec
from tradeguard.model.reports import OrderReport
from tradeguard.venues.http_answer import not_object

_STATUS = {"LIVE": OrderStatus.ACCEPTED, "CANCELED": OrderStatus.CANCELLED}
LISTING = ("fetch_open_orders", "GET /data/orders")  # a row of the open orders' listing


def order_report(
    venue: str,
    ids: tuple[str, str, str],
    row: Any,
    failed: Decimal,
    now_ms: int,
    read: tuple[str, str] | None = None,
) -> OrderReport:
    """The report of order row `row` (`ids`: symbol, client order id, order hash) with the
    `failed` contracts of its trades taken off; an ambiguous venue error naming the field
    for a row no CLOB sends, and the call and route that read it (`read`, else the order's
    own query)."""
    symbol, cid, order_hash = ids
    try:
        matched, size = dec(row["size_matched"]), dec(row["original_size"])
        price = dec(row["price"])
        status = _STATUS.get(row["status"], OrderStatus.ACCEPTED)
        ended = row["status"] == "MATCHED"
        side = row["side"].lower()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        why = f"an order missing {exc}" if isinstance(exc, KeyError) else f"an order ({exc})"
        op, route = read or ("fetch_order", f"GET /data/order/{order_hash}")
        raise not_object(venue, op, route, row, why) from None
    filled = max(matched - failed, ZERO)
    if filled == size:
        status = OrderStatus.FILLED
    elif ended and failed > 0:  # off the book, part of it never settled
        status = OrderStatus.CANCELLED
    elif filled > 0 and status is OrderStatus.ACCEPTED:
        status = OrderStatus.PARTIALLY_FILLED
    return OrderReport(
        venue, symbol, cid, order_hash, status, filled=filled,
        avg_price=price if filled else ZERO, amount=size, ts=now_ms, side=side, price=price,
    )  # fmt: skip


def queried(
    venue: Any, ids: tuple[str, str, str], row: Any, read: tuple[str, str] | None = None
) -> OrderReport:
    """The report of the order row `row` (`ids`: symbol, client order id, hash; `read`: the
    call and route that read it, `LISTING`, else the order's own query) with the sizes of its
    FAILED trades taken off; an order found resting keeps them past the week (`kept_fills`),
    as its CLOB row counts them matched while it rests."""
    order_hash = ids[2]
    failed = sum(venue._failed_of.get(order_hash, {}).values(), ZERO)
    report = order_report(venue.name, ids, row, failed, venue.clock.now_ms(), read)
    (venue._resting.add if report.status.is_open else venue._resting.discard)(order_hash)
    return report


async def read_unread(venue: Any, listed: list[tuple[str, str, Any]]) -> None:
    """Read the trades of each order listed (`listed`: symbol, hash, row) adopted after a
    restart and never read here (`_unread`) whose row counts a match, before its report is
    made, as `fetch_order` does: a trade of it that FAILED while the node was down counts in
    `size_matched` until read. A listing of trades that fails leaves it counted."""
    since: dict[str, int] = {}
    for symbol, order_hash, row in listed:
        start = venue._unread.pop(order_hash, None)
        if start is None or not symbol:
            continue
        try:
            matched = dec(row["size_matched"]) > 0
        except (KeyError, TypeError, ValueError, ArithmeticError):  # its report names why
            matched = False
        if matched:
            since[symbol] = min(since.get(symbol, start), start)
    for symbol, start in sorted(since.items()):
        with contextlib.suppress(DefinitiveVenueError, AmbiguousVenueError):
            await venue.fetch_fills(symbol, start)

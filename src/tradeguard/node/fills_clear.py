"""Clear an order escalated for unreadable fills once the operator has checked the venue.

```python
done = await clear_unreadable_fills(node, "tg-1a2b", reason="10 YES bought at 0.46", by="ops")
```

A prediction-market order the venue reports filled beyond the fills booked, when a fill row of
it cannot be read, is escalated (`order.fills_unreadable`) and its symbol blocked while it
stays open in the journal; every start escalates it again. The operator reads the venue's own
pages, then this: with no node running on the database (the writer lock), it asks the venue
about the order and its fill rows and, only when the venue reports it ended, filled beyond what
was booked, with a fill row still unreadable, ends it in the journal at the venue's status. The
journal keeps the fills it could book (the rest is in the venue's balances, which
reconciliation applies as the truth, as it did while the order was escalated); the
transition's reason and an audit event (`order.fills_cleared`, warning) name the order, the
venue, the figures, who and why. The next start neither escalates nor blocks it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tradeguard.model.errors import ConfigError, TradeguardError
from tradeguard.model.events import Event
from tradeguard.model.money import plain
from tradeguard.model.order import Order, can_transition
from tradeguard.model.reports import OrderReport
from tradeguard.node.venue_read import read_venue

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode
    from tradeguard.venues.base import Venue

CLEARED_EVENT = "order.fills_cleared"
PM_KINDS = ("kalshi", "polymarket")


class FillsClearRefused(TradeguardError):
    """The order stays as it is: the venue disagrees, or cannot be read."""


def escalated_order(node: TradingNode, client_order_id: str) -> Order:
    """The journal's order of `client_order_id` on a prediction-market venue, not ended."""
    order = node.storage.get_order(client_order_id)
    if order is None:
        raise ConfigError(f"ORDER_ID {client_order_id}: no order of the journal has that id")
    kinds = {v.name: v.kind for v in node.config.venues}
    if kinds.get(order.venue) not in PM_KINDS or order.venue not in node.venues:
        raise ConfigError(
            f"ORDER_ID {client_order_id}: its venue {order.venue} is not a kalshi or "
            "polymarket trading venue of the config"
        )
    if not order.is_open:
        raise ConfigError(
            f"ORDER_ID {client_order_id}: the journal has it {order.status.value} on "
            f"{order.venue} ({plain(order.filled)} filled); nothing to clear"
        )
    return order


async def clear_unreadable_fills(
    node: TradingNode, client_order_id: str, reason: str, by: str
) -> dict[str, Any]:
    """End the escalated order in the journal at the venue's status; return what was done."""
    order = escalated_order(node, client_order_id)
    report, why = await _venue_view(node, order)
    where = f"{order.venue}: order {client_order_id} ({order.symbol})"
    if report is None:
        raise FillsClearRefused(f"{where}: the venue has no such order; start the node instead")
    if not report.status.is_terminal:
        raise FillsClearRefused(
            f"{where} is still {report.status.value} on the venue ({plain(report.filled)} "
            "filled); cancel it there first (the record is left as it is)"
        )
    if not can_transition(order.status, report.status):
        raise FillsClearRefused(
            f"{where}: the journal has it {order.status.value}, the venue "
            f"{report.status.value}; start the node to reconcile it"
        )
    if report.filled <= order.filled:
        raise FillsClearRefused(
            f"{where}: every fill the venue reports is booked ({plain(order.filled)} of "
            f"{plain(report.filled)}); start the node to reconcile it"
        )
    if why is None:
        raise FillsClearRefused(
            f"{where}: its fill rows can be read now; start the node to book them"
        )
    now = node.clock.now_ms()
    text = (
        f"fills cleared by {by}: {reason}; {order.venue} reports {report.status.value} "
        f"({plain(report.filled)} filled), {plain(order.filled)} booked; a fill row is "
        f"unreadable ({why}): the venue's balances hold the rest"
    )
    before = order.status
    order.transition(report.status, now, text)
    data = {
        "client_order_id": client_order_id, "venue_order_id": report.venue_order_id,
        "symbol": order.symbol, "status": report.status.value,
        "venue_filled": plain(report.filled), "booked": plain(order.filled),
        "unreadable": why, "by": by, "reason": reason,
    }  # fmt: skip
    storage = node.storage
    with storage.transaction():
        storage.upsert_order(order)
        storage.record_transition(client_order_id, before.value, order.status.value, now, text)
        storage.append_event(Event(CLEARED_EVENT, now, data, venue=order.venue, severity="warning"))
    return {**data, "venue": order.venue}


async def _venue_view(node: TradingNode, order: Order) -> tuple[OrderReport | None, str | None]:
    """The venue's report of `order` and why a fill row of it is unreadable (None: readable),
    read now within reconciliation's call timeout."""

    async def read(v: Venue, timeout: float) -> tuple[OrderReport | None, str]:
        adopt = getattr(v, "adopt", None)
        if adopt is not None:
            adopt(order)  # a journaled order: the venue learns its id to ask for it
        report = await asyncio.wait_for(v.fetch_order(order.client_order_id, order.symbol), timeout)
        oid = (report.venue_order_id if report else "") or order.venue_order_id or ""
        by_order = getattr(v, "fetch_order_fills", None)
        if by_order is not None and oid:
            await asyncio.wait_for(by_order(order.client_order_id, oid, order.symbol), timeout)
        else:
            since = max(order.created_ts - 60_000, 0)
            await asyncio.wait_for(v.fetch_fills(order.symbol, since), timeout)
        return report, oid

    what = f"order {order.client_order_id} on the venue"
    report, oid = await read_venue(node, order.venue, what, FillsClearRefused, read)
    return report, getattr(node.venues[order.venue], "unreadable_fills", {}).get(oid)


__all__ = ["CLEARED_EVENT", "FillsClearRefused", "clear_unreadable_fills", "escalated_order"]

"""Outcome paper venue: an order that may not rest ends at once when it cannot take liquidity."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from test_pm_paper import order, venue_for
from tradeguard.model.enums import OrderStatus
from tradeguard.model.market import Quote

D = Decimal


def book(symbol: str, ts: int, bid: str, ask: str) -> Quote:
    b, a = D(bid), D(ask)
    return Quote(symbol, ts, b, D(50), a, D(50), ((b, D(50)),), ((a, D(50)),))


async def test_an_ioc_order_on_a_stale_book_expires_at_once_and_never_fills_later():
    venue, rec, symbol = venue_for("polymarket")
    ts = venue.clock.now_ms()
    venue.on_quote(book(symbol, ts, "0.38", "0.40"))
    venue.clock.advance_to(ts + venue.config.stale_after_ms + 1)
    report = await venue.submit(order("p1", symbol, "10", "0.45"))
    assert report.status is OrderStatus.EXPIRED
    assert "stale_after_ms" in report.reason
    assert await venue.fetch_open_orders() == []
    venue.on_quote(book(symbol, venue.clock.now_ms(), "0.38", "0.40"))
    assert rec.fills == []
    final = await venue.fetch_order("p1", symbol)
    assert final is not None and final.status is OrderStatus.EXPIRED


async def test_an_ioc_order_restored_after_a_restart_is_reported_expired():
    venue, rec, symbol = venue_for("kalshi")
    ts = venue.clock.now_ms()
    journaled = replace(
        order("p1", symbol, "10", "0.45"),
        venue_order_id="paper-kalshi-o7", status=OrderStatus.ACCEPTED, created_ts=ts - 60_000,
    )  # fmt: skip
    venue.restore_order(journaled)
    assert await venue.fetch_open_orders() == []
    report = await venue.fetch_order("p1", symbol)
    assert report is not None and report.status is OrderStatus.EXPIRED
    venue.on_quote(book(symbol, ts, "0.38", "0.40"))
    assert rec.fills == []
    free = {b.asset: b.free for b in await venue.fetch_balances()}
    assert free["USD"] == D(1000)  # nothing left locked for it

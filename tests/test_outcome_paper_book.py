"""Outcome paper venue: a book the venue no longer shows is never filled against."""

from __future__ import annotations

from decimal import Decimal

from test_pm_paper import order, venue_for
from tradeguard.model.enums import OrderStatus, TimeInForce
from tradeguard.model.market import Quote
from tradeguard.venues.outcome_quotes import depth_quote

D = Decimal


async def test_an_emptied_book_leaves_no_liquidity_to_take():
    venue, rec, symbol = venue_for("kalshi")
    ts = venue.clock.now_ms()
    asks = ((D("0.40"), D(50)),)
    venue.on_quote(
        Quote(symbol, ts, D("0.38"), D(50), D("0.40"), D(50), ((D("0.38"), D(50)),), asks)
    )
    # every order is pulled: the stream sends the empty book (no bids, no asks)
    venue.on_quote(depth_quote(symbol, [], [], ts + 1))
    report = await venue.submit(order("p1", symbol, "10", "0.45"))
    assert rec.fills == [], [(f.price, f.amount) for f in rec.fills]
    assert report.status is OrderStatus.EXPIRED


async def test_a_crossed_book_is_never_filled_through_the_quote_fallback():
    venue, rec, symbol = venue_for("polymarket")
    ts = venue.clock.now_ms()
    # mid-update: best bid 0.50 above best ask 0.40
    crossed = ((D("0.50"), D(50)),), ((D("0.40"), D(50)),)
    venue.on_quote(Quote(symbol, ts, D("0.50"), D(50), D("0.40"), D(50), *crossed))
    report = await venue.submit(order("p1", symbol, "10", "0.45"))
    assert rec.fills == [], [(f.price, f.amount) for f in rec.fills]
    assert report.status is OrderStatus.EXPIRED


async def test_a_resting_order_waits_out_a_crossed_book_and_fills_once_it_uncrosses():
    venue, rec, symbol = venue_for("kalshi")
    ts = venue.clock.now_ms()
    resting = order("p1", symbol, "10", "0.45")
    resting.time_in_force = TimeInForce.GTC
    assert (await venue.submit(resting)).status is OrderStatus.ACCEPTED  # ask 0.46: rests
    crossed = ((D("0.50"), D(50)),), ((D("0.40"), D(50)),)
    venue.on_quote(Quote(symbol, ts + 1, D("0.50"), D(50), D("0.40"), D(50), *crossed))
    assert rec.fills == []
    sane = ((D("0.38"), D(50)),), ((D("0.40"), D(50)),)
    venue.on_quote(Quote(symbol, ts + 2, D("0.38"), D(50), D("0.40"), D(50), *sane))
    assert [(f.price, f.amount) for f in rec.fills] == [(D("0.45"), D(10))]

"""The spot paper venue never fills against a crossed quote (bid at or above ask)."""

from __future__ import annotations

from decimal import Decimal

from test_paper_venue import SPOT, make_venue, order
from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import OrderStatus, TimeInForce
from tradeguard.model.market import Quote

D = Decimal


def crossed(ts: int) -> Quote:
    return Quote("BTC/USDT", ts, D(101), D(1), D(99), D(1))


async def test_a_taker_never_fills_at_a_crossed_quote():
    clock = SimulatedClock(1_700_000_000_000)
    venue, rec = make_venue(SPOT, {"USDT": "100000"}, clock)
    venue.on_quote(crossed(clock.now_ms()))
    report = await venue.submit(order("c1", "buy", "0.5", "100", tif=TimeInForce.IOC))
    assert rec.fills == []
    assert report.status is not OrderStatus.FILLED


async def test_a_resting_order_is_not_filled_by_a_crossed_quote_but_by_the_next_sane_one():
    clock = SimulatedClock(1_700_000_000_000)
    venue, rec = make_venue(SPOT, {"USDT": "100000"}, clock)
    venue.on_quote(Quote("BTC/USDT", clock.now_ms(), D(98), D(1), D(102), D(1)))
    assert (await venue.submit(order("c1", "buy", "0.5", "100"))).status is OrderStatus.ACCEPTED
    venue.on_quote(crossed(clock.now_ms() + 1))
    assert rec.fills == []
    venue.on_quote(Quote("BTC/USDT", clock.now_ms() + 2, D(98), D(1), D(99), D(1)))
    assert [(f.price, f.amount) for f in rec.fills] == [(D(100), D("0.5"))]

"""An IOC or market order meeting a crossed book on the spot paper venue is not left open."""

from __future__ import annotations

from decimal import Decimal

from test_paper_venue import SPOT, make_venue, order
from tradeguard.clock import SimulatedClock
from tradeguard.marketdata.book import OrderBook
from tradeguard.model.enums import TimeInForce

D = Decimal
T = 1_700_000_000_000


def book(ts: int, bid: str, ask: str) -> OrderBook:
    b = OrderBook("BTC/USDT")
    b.apply_snapshot([(D(bid), D(1))], [(D(ask), D(1))], ts, 1)
    return b


async def test_an_ioc_on_a_one_update_crossed_book_does_not_stay_open_with_no_candles() -> None:
    clock = SimulatedClock(T)
    venue, rec = make_venue(SPOT, {"USDT": "100000"}, clock)
    venue.on_book(book(T, "100.5", "100"))  # a bid update applied before the ask's removal
    report = await venue.submit(order("c1", "buy", "0.5", "101", tif=TimeInForce.IOC))
    clock.advance_to(T + 50)
    venue.on_book(book(T + 50, "99", "100"))  # uncrossed at once
    clock.advance_to(T + 60_000)
    venue.on_book(book(T + 60_000, "99", "100"))
    live = await venue.fetch_order("c1", "BTC/USDT")
    assert live is not None
    # "fills what it can at once and EXPIRES the rest": never an IOC working a minute later
    assert not live.status.is_open, (report.status, live.status, rec.fills)

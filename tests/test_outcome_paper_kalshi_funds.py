"""Kalshi paper buys are checked and locked at the fee Kalshi charges: rounded up, once an order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from test_pm_paper import order
from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import OrderStatus, TimeInForce
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.market import Quote
from tradeguard.model.outcome import Outcome, outcome_instrument
from tradeguard.venues.outcome_paper import OutcomePaperVenue

D = Decimal


class Balances:
    """Every free USD figure the venue pushes."""

    def __init__(self) -> None:
        self.free: list[Decimal] = []

    def on_order_report(self, report) -> None: ...

    def on_fill(self, fill) -> None: ...

    def on_balances(self, venue, balances) -> None:
        self.free += [b.free for b in balances if b.asset == "USD"]


def kalshi(usd: str, asks: tuple[tuple[str, int], ...]) -> tuple[OutcomePaperVenue, Balances, str]:
    clock = SimulatedClock(1_700_000_000_000)
    # the instrument a data-only Kalshi venue lists: fee bound 0.07 of notional
    inst = outcome_instrument("k", "FED", Outcome.YES, "USD", D("0.01"), D(1), D(1), D("0.07"))
    venue = OutcomePaperVenue("k", {inst.symbol: inst}, {"USD": D(usd)}, clock, dialect="kalshi")
    seen = Balances()
    venue.set_listener(seen)
    levels = tuple((D(p), D(q)) for p, q in asks)
    bids = ((D("0.01"), D(50)),)
    venue.on_quote(Quote(inst.symbol, clock.now_ms(), D("0.01"), D(50), *levels[0], bids, levels))
    return venue, seen, inst.symbol


async def test_a_buy_whose_rounded_fee_exceeds_the_free_usd_is_refused():
    # 10 at 0.05: 0.50 + ceil(0.07 * 10 * 0.05 * 0.95 = 0.03325) = 0.54, more than 0.535
    venue, _, symbol = kalshi("0.535", (("0.05", 50),))
    gtc = order("p1", symbol, "10", "0.05")
    gtc.time_in_force = TimeInForce.GTC
    with pytest.raises(DefinitiveVenueError, match=r"needs 0\.54 USD") as err:
        await venue.submit(gtc)
    assert err.value.code == "INSUFFICIENT_BALANCE"
    assert {b.asset: b.free for b in await venue.fetch_balances()} == {"USD": D("0.535")}


async def test_a_buy_of_exactly_the_rounded_cost_leaves_zero_and_never_goes_below():
    venue, seen, symbol = kalshi("0.54", (("0.05", 50),))
    gtc = order("p1", symbol, "10", "0.05")
    gtc.time_in_force = TimeInForce.GTC
    assert (await venue.submit(gtc)).status is OrderStatus.FILLED
    balances = {b.asset: (b.free, b.locked) for b in await venue.fetch_balances()}
    assert balances["USD"] == (D(0), D(0))
    assert min(seen.free) >= 0


async def test_fills_over_two_levels_stay_inside_the_lock_and_free_the_rest():
    # 1 at 0.04 pays ceil(0.002688) = 0.01; 9 at 0.05 bring the order's fee to ceil(0.032613)
    venue, seen, symbol = kalshi("0.54", (("0.04", 1), ("0.05", 50)))
    assert (await venue.submit(order("p1", symbol, "10", "0.05"))).status is OrderStatus.FILLED
    balances = {b.asset: (b.free, b.locked) for b in await venue.fetch_balances()}
    assert balances["USD"] == (D("0.54") - D("0.04") - D("0.45") - D("0.04"), D(0))
    assert min(seen.free) >= 0


async def test_a_resting_buy_filled_in_pieces_never_takes_free_usd_below_zero():
    venue, seen, symbol = kalshi("0.54", (("0.06", 50),))
    venue.maker_rate = D("0.0175")  # a series with a maker fee: each piece's fee rounds up
    gtc = order("p1", symbol, "10", "0.05")
    gtc.time_in_force = TimeInForce.GTC
    assert (await venue.submit(gtc)).status is OrderStatus.ACCEPTED  # locks all 0.54
    ts = venue.clock.now_ms()
    bids = ((D("0.01"), D(50)),)
    for n, size in enumerate((1, 4, 5), start=1):  # the ask trades through the order in pieces
        asks = ((D("0.04"), D(size)),)
        venue.on_quote(Quote(symbol, ts + n, D("0.01"), D(50), *asks[0], bids, asks))
    report = await venue.fetch_order("p1", symbol)
    assert report is not None and report.status is OrderStatus.FILLED
    assert min(seen.free) >= 0, seen.free
    # 0.50 at 0.05 and the maker fee rounded up once: ceil(0.0175 * 10 * 0.05 * 0.95) = 0.01
    assert {b.asset: b.free for b in await venue.fetch_balances()}["USD"] == D("0.03")

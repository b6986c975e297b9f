"""The data-only Polymarket venue reads each market's fee where the CLOB publishes it."""

from __future__ import annotations

from decimal import Decimal

import httpx

from test_pm_paper import Recorder, order
from tradeguard.clock import SimulatedClock
from tradeguard.model.outcome import polymarket_fee
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.venues.outcome_paper import OutcomePaperVenue
from tradeguard.venues.pm_public import PolymarketPublicData

D = Decimal


async def test_fees_come_from_clob_markets_fd_and_the_paper_venue_charges_them():
    async with PolymarketExchange() as ex:
        ex.add_market("fed", "1001", "1002", fee_rate=D("0.03"), fee_exponent=D(2))
        ex.add_market("free", "2001", "2002")  # no fee on this market
        for slug in ("fed", "free"):
            ex.seed_book(slug, yes_bids=[("0.40", "100")], yes_asks=[("0.42", "100")])
        async with httpx.AsyncClient() as http:  # GET /markets carries no fee (nor does the CLOB's)
            listing = (await http.get(f"{ex.url}/markets")).json()["data"]
        assert all("fee_rate" not in m for m in listing)
        clock = SimulatedClock(1_700_000_000_000)
        data = PolymarketPublicData("pd", ex.url, clock, ex.url + "/ws/market")
        try:
            await data.load_instruments()
            paper = OutcomePaperVenue("paper", {}, {"PUSD": D(1000)}, clock, dialect="polymarket")
            paper.add_instruments(data.venue_instruments("paper"), data.fee_rates)
            stream = data.stream_quotes(["fed:YES/PUSD", "free:YES/PUSD"])
            quotes = [await anext(stream), await anext(stream)]
            await stream.aclose()
        finally:
            await data.close()
    assert data.fee_rates["fed:YES/PUSD"] == data.fee_rates["fed:NO/PUSD"] == (D("0.03"), D(2))
    assert data.fee_rates["free:YES/PUSD"][0] == 0
    rec = Recorder()
    paper.set_listener(rec)
    for quote in quotes:
        paper.on_quote(quote)
    await paper.submit(order("p1", "fed:YES/PUSD", "10", "0.42"))
    await paper.submit(order("p2", "free:YES/PUSD", "10", "0.42"))
    fees = {f.symbol: f.fee for f in rec.fills}
    assert fees == {
        "fed:YES/PUSD": polymarket_fee(D(10), D("0.42"), D("0.03"), D(2)),
        "free:YES/PUSD": D(0),
    }
    assert fees["fed:YES/PUSD"] > 0

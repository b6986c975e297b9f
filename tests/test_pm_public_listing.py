"""Data-only prediction-market venues read listings holding markets they cannot trade."""

from __future__ import annotations

from typing import Any

import httpx

from tradeguard.clock import SimulatedClock
from tradeguard.model.outcome import Resolution
from tradeguard.venues.pm_public import KalshiPublicData, PolymarketPublicData


def _served(venue: Any, answer: dict[str, Any]) -> Any:
    venue._http = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=answer)
    ))  # fmt: skip
    return venue


def _pm_market(slug: str, outcomes: tuple[str, str], closed: bool, winner: str = "") -> dict:
    return {
        "condition_id": slug, "market_slug": slug, "closed": closed,
        "minimum_tick_size": "0.01", "minimum_order_size": "5",
        "tokens": [{"token_id": f"{slug}-{o}", "outcome": o, "winner": o == winner}
                   for o in outcomes],
    }  # fmt: skip


async def test_polymarket_markets_of_named_outcomes_are_left_out():
    listing = {"data": [
        _pm_market("fed", ("Yes", "No"), False),
        _pm_market("lakers-celtics", ("Lakers", "Celtics"), False),
        _pm_market("old", ("Yes", "No"), True, "Yes"),
        _pm_market("game", ("Over", "Under"), True, "Over"),
    ]}  # fmt: skip
    venue = _served(PolymarketPublicData("pd", "http://x", SimulatedClock(0), "ws://x"), listing)
    assert sorted(await venue.load_instruments()) == ["fed:NO/PUSD", "fed:YES/PUSD"]
    assert await venue.fetch_resolutions() == {"old": Resolution.YES}


async def test_kalshi_settled_markets_without_a_yes_no_result_are_left_out():
    listing = {"markets": [
        {"ticker": "A", "result": "yes"}, {"ticker": "S", "result": "scalar"},
        {"ticker": "E", "result": ""},
    ]}  # fmt: skip
    venue = _served(KalshiPublicData("kd", "http://x", SimulatedClock(0)), listing)
    assert await venue.fetch_resolutions() == {"A": Resolution.YES}


async def test_the_signed_polymarket_venue_reads_the_same_listing_the_same_way():
    """Named-outcome markets are left out of the signed venue's instruments and settlements
    too (they were read as outcomes before, and 'lakers' is no outcome)."""
    from tradeguard.venues.polymarket.venue import PolymarketVenue

    listing = {"data": [
        {**_pm_market("fed", ("Yes", "No"), False), "neg_risk": False},
        {**_pm_market("lakers-celtics", ("Lakers", "Celtics"), False), "neg_risk": False},
        {**_pm_market("old", ("Yes", "No"), True, ""), "neg_risk": False},
        {**_pm_market("game", ("Over", "Under"), True, "Over"), "neg_risk": False},
    ]}  # fmt: skip
    venue = _served(PolymarketVenue("pm", "http://x", "0x" + "11" * 32, SimulatedClock(0)), listing)
    assert sorted(await venue.load_instruments()) == ["fed:NO/PUSD", "fed:YES/PUSD"]
    settled = await venue.fetch_settlements()
    assert [(s.market, s.resolution) for s in settled] == [("old", Resolution.VOID)]

"""A prediction-market venue nobody answers at: the error names the call, the cause and the URL."""

from __future__ import annotations

import pytest

from pm_support import rsa_pem
from tradeguard.clock import Clock
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.polymarket.venue import PolymarketVenue

_PM_KEY = "0x" + "11" * 32  # a throwaway wallet key


async def test_kalshi_and_polymarket_say_where_they_got_no_answer(closed_port: int) -> None:
    port = closed_port
    kalshi_url = f"http://127.0.0.1:{port}/trade-api/v2"
    kalshi = KalshiVenue("kalshi", kalshi_url, "key-1", rsa_pem()[0], Clock())
    pm = PolymarketVenue("polymarket", f"http://127.0.0.1:{port}", _PM_KEY, Clock())
    try:
        for venue, url in ((kalshi, kalshi_url), (pm, f"http://127.0.0.1:{port}")):
            with pytest.raises(AmbiguousVenueError) as caught:
                await venue.load_instruments()
            text = str(caught.value)
            assert "load_instruments failed: ConnectError" in text, text
            assert f"no answer from {url}" in text and "rest_url" in text, text
    finally:
        await kalshi.close()
        await pm.close()

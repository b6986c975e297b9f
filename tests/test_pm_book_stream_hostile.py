"""A hostile frame on a book stream (JSON nested thousands deep, a JSON list where an object
belongs) ends that session like any other failure: the stream falls back to REST polling and
reconnects, and later book changes still arrive (the quotes task does not die)."""

from __future__ import annotations

import sys

import pytest

from test_pm_book_streams import K_YES, Collector, _asks, _deep_kalshi, _subs
from tradeguard.clock import Clock
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.kalshi.venue import KalshiVenue


@pytest.fixture
def node_recursion_limit():
    """The limit a node runs with (tradeguard keeps it at 1,000 across the Ethereum imports;
    this test process imports eth_account directly, which raises it to 100,000)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    yield
    sys.setrecursionlimit(limit)


@pytest.mark.usefixtures("node_recursion_limit")
@pytest.mark.parametrize("frame", ["[" * 100_000, "[1, 2]"], ids=["deep", "list"])
async def test_a_hostile_book_frame_falls_back_and_later_quotes_arrive(frame: str) -> None:
    async with KalshiExchange() as ex:
        key_id, pem = _deep_kalshi(ex)
        venue = KalshiVenue(
            "kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, False, quote_poll_s=0.05
        )
        await venue.connect()
        got = Collector(venue.stream_quotes([K_YES]))
        try:
            await eventually(lambda: any(c[0] == "orderbook_delta" for c in _subs(ex)))
            for conn in ex.hub.conns:
                await conn.ws.send_str(frame)
            await eventually(lambda: venue.book_stats.fallbacks == 1)
            ex.seed_book(K_YES.split(":")[0], yes_bids=[], yes_asks=[("0.46", "7")])
            await eventually(lambda: _asks(got.latest.get(K_YES))[:1] == [("0.4600", "7.00")])
        finally:
            await got.stop()
            await venue.close()

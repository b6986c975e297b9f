"""Market listings over several pages: every venue follows the cursor to the listing's end."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from eth_account import Account
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.constants import END_CURSOR, INITIAL_CURSOR

from pm_support import seeded_kalshi
from tradeguard.clock import Clock, SimulatedClock
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.outcome import Outcome, Resolution
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.pm_public import KalshiPublicData, PolymarketPublicData
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal
MARKETS = [f"M{i}" for i in range(7)]  # 7 markets, 2 a page: 4 pages


def _kalshi_markets(ex: KalshiExchange) -> None:
    for t in MARKETS:
        ex.add_market(t, "EV", f"market {t}")


def _clob_markets(ex: PolymarketExchange) -> None:
    for i, slug in enumerate(MARKETS):
        ex.add_market(slug, str(1000 + 2 * i), str(1001 + 2 * i))


def _markets_of(instruments: dict) -> set[str]:
    return {s.split(":")[0] for s in instruments}


async def test_data_only_kalshi_reads_every_page_of_open_and_settled_markets():
    async with KalshiExchange(page_size=2) as ex:
        _kalshi_markets(ex)
        venue = KalshiPublicData("kd", ex.rest_url, SimulatedClock(0))
        try:
            assert _markets_of(await venue.load_instruments()) == set(MARKETS)
            for t in MARKETS[-3:]:  # the last page holds a result too
                ex.resolve(t, Resolution.NO)
            assert await venue.fetch_resolutions() == dict.fromkeys(MARKETS[-3:], Resolution.NO)
        finally:
            await venue.close()
        pages = [r for r in ex.requests if r["path"].endswith("/markets")]
        assert len(pages) == 4 + 2  # 7 open markets and 3 settled ones, 2 a page


async def test_data_only_polymarket_reads_every_page_of_the_clob_listing():
    async with PolymarketExchange(page_size=2) as ex:
        _clob_markets(ex)
        venue = PolymarketPublicData("pd", ex.url, SimulatedClock(0), ex.url + "/ws/market")
        try:
            assert _markets_of(await venue.load_instruments()) == set(MARKETS)
            last = next(c for c, m in ex.markets.items() if m.slug == MARKETS[-1])
            ex.resolve(last, Resolution.YES)
            assert await venue.fetch_resolutions() == {MARKETS[-1]: Resolution.YES}
        finally:
            await venue.close()


async def test_live_kalshi_lists_every_page():
    async with KalshiExchange(page_size=2) as ex:
        key_id, pem = seeded_kalshi(ex)
        _kalshi_markets(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        try:
            listed = _markets_of(await venue.load_instruments())
        finally:
            await venue.close()
        assert listed == set(MARKETS) | set(ex.markets)


async def test_live_kalshi_reads_every_page_of_the_account_settlements():
    async with KalshiExchange(page_size=2) as ex:
        key_id, pem = seeded_kalshi(ex)
        _kalshi_markets(ex)
        account = ex.account_of(key_id)
        for t in MARKETS:  # 3 YES contracts held in each market, all resolved YES
            account.tokens[(t, Outcome.YES)] = D(3)
            ex.resolve(t, Resolution.YES)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        try:
            settled = {s.market: s.cash for s in await venue.fetch_settlements()}
        finally:
            await venue.close()
        assert settled == dict.fromkeys(MARKETS, D(3))


async def test_live_polymarket_lists_and_settles_from_every_page():
    async with PolymarketExchange(page_size=2) as ex:
        _clob_markets(ex)
        wallet = Account.create()
        ex.add_account(wallet.address, D(100))
        venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock())
        try:
            assert _markets_of(await venue.load_instruments()) == set(MARKETS)
            last = next(c for c, m in ex.markets.items() if m.slug == MARKETS[-1])
            ex.resolve(last, Resolution.NO)
            settled = await venue.fetch_settlements()
        finally:
            await venue.close()
        assert [(s.market, s.resolution) for s in settled] == [(MARKETS[-1], Resolution.NO)]


async def test_a_listing_longer_than_the_page_cap_is_refused_not_read_in_part():
    async with KalshiExchange(page_size=2) as ex:
        _kalshi_markets(ex)
        venue = KalshiPublicData("kd", ex.rest_url, SimulatedClock(0))
        venue.max_pages = 3
        try:
            with pytest.raises(DefinitiveVenueError, match="past 3 pages") as err:
                await venue.load_instruments()
        finally:
            await venue.close()
        assert err.value.code == "TOO_MANY_PAGES"
        assert venue.instruments == {}


async def test_the_official_clob_client_walks_the_local_listing_to_its_end():
    async with PolymarketExchange(page_size=3) as ex:
        _clob_markets(ex)
        client = ClobClient(ex.url, chain_id=137)

        def walk() -> list[str]:
            slugs, cursor = [], INITIAL_CURSOR
            while cursor != END_CURSOR:
                page = client.get_markets(next_cursor=cursor)
                slugs += [m["market_slug"] for m in page["data"]]
                cursor = page["next_cursor"]
            return slugs

        assert await asyncio.to_thread(walk) == MARKETS


async def test_the_local_servers_refuse_a_cursor_they_never_handed_out():
    async with (
        KalshiExchange(page_size=2) as k,
        PolymarketExchange(page_size=2) as p,
        httpx.AsyncClient() as http,
    ):
        bad_k = await http.get(f"{k.rest_url}/markets", params={"cursor": "nope"})
        bad_p = await http.get(f"{p.url}/markets", params={"next_cursor": "nope"})
        big = await http.get(f"{k.rest_url}/markets", params={"limit": "1001"})
    assert (bad_k.status_code, bad_p.status_code, big.status_code) == (400, 400, 400)


async def test_live_kalshi_balances_read_every_page_of_resting_sells_and_positions():
    # Kalshi pages the account's orders and positions (100 a page unless asked): three
    # resting sells lock 30 YES beside 30 NO (signed position 0), positions held in 4 markets
    from tradeguard.venues.kalshi.client import KalshiClient

    async with KalshiExchange(page_size=2) as ex:
        key_id, pem = seeded_kalshi(ex)
        _kalshi_markets(ex)
        ticker = next(t for t in ex.markets if t not in MARKETS)
        account = ex.account_of(key_id)
        account.tokens[(ticker, Outcome.YES)] = D(30)
        for t in MARKETS[:3]:
            account.tokens[(t, Outcome.YES)] = D(3)
        client = KalshiClient(ex.rest_url, key_id, pem)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        try:
            for _ in range(3):
                await client.create_order({
                    "ticker": ticker, "side": "yes", "action": "sell", "count_fp": "10.00",
                    "yes_price_dollars": "0.6000", "time_in_force": "good_till_canceled",
                })  # fmt: skip
            account.tokens[(ticker, Outcome.NO)] = D(30)
            assert len(await client.orders(None, "resting")) == 3
            balances = {b.asset: b for b in await venue.fetch_balances()}
        finally:
            await client.close()
            await venue.close()
        yes, no = balances[f"{ticker}:YES"], balances[f"{ticker}:NO"]
        assert (yes.locked, yes.free, no.total) == (30, 0, 30)
        assert {a: b.total for a, b in balances.items() if a.startswith("M")} == {
            f"{t}:YES": 3 for t in MARKETS[:3]
        }

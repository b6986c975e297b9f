"""The real clients still work against sandboxes whose request deadlines are made small: each
one's kept-alive connections sit idle past the head deadline between calls (the deadline counts
from a request's first byte, not from the last answer), and a WebSocket stream outlives every
deadline."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
from eth_account import Account
from py_clob_client_v2.client import ClobClient

from kraken_support import carol_venue
from pm_support import seeded_kalshi
from test_ccxt_support import make_venue
from tradeguard.clock import Clock
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer
from tradeguard.sandbox.conn_guard import ConnLimits
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.kraken.testing import seeded_kraken
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import seeded_exchange
from tradeguard.venues.kalshi.venue import KalshiVenue

LIMITS = ConnLimits(head_timeout_s=0.5, body_timeout_s=0.5, idle_s=3.0, max_connections=64)
PAUSE_S = 0.8  # past the head deadline, within the idle one


async def test_ccxt_on_the_binance_sandbox_and_its_stream_outlive_the_deadlines():
    ex = seeded_exchange()
    ex.limits = LIMITS
    async with ex:
        venue = make_venue(ex)
        await venue.connect()
        try:
            first = await venue.fetch_balances()
            await asyncio.sleep(PAUSE_S)
            quote = await venue.fetch_reference_quote("BTC/USDT")
            await asyncio.sleep(PAUSE_S)
            assert await venue.fetch_balances() == first
        finally:
            await venue.close()
        async with aiohttp.ClientSession() as http, http.ws_connect(ex.ws_url) as ws:
            for n in (1, 2):
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": n})
                assert (await ws.receive_json(timeout=5))["id"] == n
                await asyncio.sleep(LIMITS.idle_s + LIMITS.head_timeout_s)
    assert {b.asset: b.total for b in first}["USDT"] == Decimal("100000")
    assert quote is not None and quote.bid == Decimal("49999")


async def test_ccxt_on_the_kraken_sandbox_is_served_across_pauses():
    kx = seeded_kraken()
    kx.limits = LIMITS
    async with kx, carol_venue(kx) as venue:
        first = await venue.fetch_balances()
        await asyncio.sleep(PAUSE_S)
        assert await venue.fetch_balances() == first
    assert {b.asset: b.total for b in first}["USD"] == Decimal("100000")


async def test_the_official_clob_client_is_served_across_pauses():
    ex = PolymarketExchange()
    ex.limits = LIMITS
    async with ex:
        wallet = Account.create()
        ex.add_account(wallet.address, Decimal("1000"))
        client = ClobClient(ex.url, chain_id=137, key=wallet.key.hex())
        client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
        await asyncio.sleep(PAUSE_S)
        assert await asyncio.to_thread(client.get_open_orders) == []
        await asyncio.sleep(PAUSE_S)
        assert await asyncio.to_thread(client.get_ok) == "OK"


async def test_the_kalshi_venue_is_served_across_pauses():
    ex = KalshiExchange()
    ex.limits = LIMITS
    async with ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, False)
        await venue.connect()
        try:
            first = await venue.fetch_balances()
            await asyncio.sleep(PAUSE_S)
            assert await venue.fetch_balances() == first
        finally:
            await venue.close()
    assert [b.total for b in first] == [Decimal("1000")]


async def test_web3_on_the_local_chain_is_served_across_pauses():
    from web3 import HTTPProvider, Web3

    server = RpcServer(LocalChain(), port=0)
    server.limits = LIMITS
    await server.start()
    try:
        w3 = Web3(HTTPProvider(server.url))
        before = await asyncio.to_thread(lambda: w3.eth.block_number)
        await asyncio.sleep(PAUSE_S)
        assert await asyncio.to_thread(lambda: w3.eth.chain_id) > 0
        await asyncio.sleep(PAUSE_S)
        assert await asyncio.to_thread(lambda: w3.eth.block_number) == before
    finally:
        await server.stop()

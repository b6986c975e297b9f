"""The keys a prediction-market socket subscribes to are bounded, not only its subscriptions.

A Polymarket `market` subscription sent again widens the socket's one subscription: before,
every asset id named was kept, known or not, so a client naming 5,000 new ids a frame grew the
server's memory without end (40 frames: 200,000 ids held for one socket). A Kalshi socket held at
most 256 subscriptions, each with as many tickers as a 4 MiB frame carries. Now a socket holds
at most 10,000 keys in all, each of at most 128 characters (a key of 1 MB was kept as well); a
subscription past that is answered with an error and not kept.
"""

from __future__ import annotations

import json

import aiohttp

from pm_support import kalshi_socket, seeded_kalshi
from rigs import handshake_status
from tradeguard.sandbox import ws_hub
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually

LIMIT = 10_000


def _held(conn) -> int:
    return sum(len(keys) for _, keys in conn.subs.values())


async def test_a_polymarket_socket_holds_at_most_10000_asset_ids() -> None:
    async with PolymarketExchange() as ex:
        url = ex.url.replace("http", "ws") + "/ws/market"
        answers = []
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            for frame in range(40):
                ids = [f"{frame}-{i}" for i in range(5_000)]
                await ws.send_str(json.dumps({"assets_ids": ids, "type": "market"}))
                answers.append(json.loads((await ws.receive(timeout=5)).data))
            (conn,) = ex.hub.conns
            assert _held(conn) <= LIMIT
    assert answers[1] == []  # 10,000 held: still taken (none of them a known asset)
    assert answers[2] == {"error": "at most 10000 asset ids a socket; this one named 5000 more"}


async def test_a_polymarket_asset_id_longer_than_128_characters_is_not_kept() -> None:
    async with PolymarketExchange() as ex:
        url = ex.url.replace("http", "ws") + "/ws/market"
        answers = []
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"assets_ids": ["1" * 77], "type": "market"}))
            answers.append(json.loads((await ws.receive(timeout=5)).data))
            for frame in range(20):  # ids of 1 or 2 MB each: all held before, 30 MB
                ids = [str(frame) * 1_000_000]
                await ws.send_str(json.dumps({"assets_ids": ids, "type": "market"}))
                answers.append(json.loads((await ws.receive(timeout=5)).data))
            (conn,) = ex.hub.conns
            assert sum(len(k) for _, keys in conn.subs.values() for k in keys) == 77
    assert answers[0] == []  # a token id's 77 digits are taken
    assert answers[-1] == {"error": "an asset id has at most 128 characters"}


async def test_a_kalshi_socket_holds_at_most_10000_tickers_in_all() -> None:
    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex)
        kinds = []
        async with kalshi_socket(ex, key_id, pem) as ws:
            for i in range(20):
                tickers = [f"T{i}-{n}" for n in range(4_000)]
                params = {"channels": ["ticker"], "market_tickers": tickers}
                await ws.send_str(json.dumps({"id": i, "cmd": "subscribe", "params": params}))
                kinds.append(json.loads((await ws.receive(timeout=5)).data))
            (conn,) = ex.hub.conns
            assert _held(conn) <= LIMIT
    assert [k["type"] for k in kinds[:3]] == ["subscribed", "subscribed", "error"]
    assert kinds[2]["msg"] == {
        "code": 1,
        "msg": "at most 10000 market tickers a socket; this one named 4000 more",
    }


async def test_polymarket_user_sockets_not_yet_authenticated_count_toward_the_cap(
    monkeypatch,
) -> None:
    """A `/ws/user` socket joined the count only once authenticated: sockets that never sent
    their `auth` were never refused, however many (3 of a cap of 2 were taken)."""
    monkeypatch.setattr(ws_hub, "MAX_CONNECTIONS", 2)
    async with PolymarketExchange() as ex, aiohttp.ClientSession() as http:
        url = ex.url.replace("http", "ws") + "/ws/user"
        held = [await http.ws_connect(url) for _ in range(2)]
        try:
            assert await handshake_status(http, url) == 429
        finally:
            for ws in held:
                await ws.close()
        await eventually(lambda: ex.hub.unbound == 0)
        again = await http.ws_connect(url)  # the count let go as they closed
        await again.close()

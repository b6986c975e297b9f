"""The prediction-market sandboxes' websockets are bounded.

A Polymarket `market` subscription sent again added a second subscription: 50 of the same made
every book change go out 50 times to that socket (each a task held until sent), and a client
that stopped reading made the server hold every message for it without end (5,000 published,
5,000 tasks held). Now a subscription sent again widens the one the socket has, a Kalshi socket
holds at most `MAX_SUBSCRIPTIONS`, a socket with `MAX_PENDING` unsent messages is cut, and
past `MAX_CONNECTIONS` open sockets a new one is refused (429).
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import aiohttp

from pm_support import TICKER, kalshi_socket, seeded_kalshi
from rigs import handshake_status
from tradeguard.sandbox import ws_hub
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually

YES, NO = "1111", "2222"


def _market(ex: PolymarketExchange) -> None:
    ex.add_market("fed-dec", YES, NO, fee_rate=D("0.02"))
    ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])


async def test_a_polymarket_subscription_sent_again_widens_the_one_the_socket_has() -> None:
    async with PolymarketExchange() as ex:
        _market(ex)
        url = ex.url.replace("http", "ws") + "/ws/market"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            for _ in range(50):
                await ws.send_str(json.dumps({"assets_ids": [YES], "type": "market"}))
                books = json.loads((await ws.receive(timeout=5)).data)
                assert [b["asset_id"] for b in books] == [YES]
            await ws.send_str(json.dumps({"assets_ids": [NO], "type": "market"}))
            await ws.receive(timeout=5)
            (conn,) = ex.hub.conns
            assert list(conn.subs.values()) == [("market", {YES, NO})]  # before: 51 of them
            sent: list[object] = []
            ex.hub.send = lambda c, payload: sent.append(payload)  # type: ignore[method-assign]
            ex.hub.publish("market", YES, lambda sid: {"sid": sid})
            assert len(sent) == 1, sent


async def test_a_socket_that_stops_reading_is_cut_at_the_pending_cap(monkeypatch) -> None:
    monkeypatch.setattr(ws_hub, "MAX_PENDING", 50)
    async with PolymarketExchange() as ex:
        _market(ex)
        url = ex.url.replace("http", "ws") + "/ws/market"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"assets_ids": [YES], "type": "market"}))
            await ws.receive(timeout=5)
            pad = "x" * 65_536
            peak = 0
            for _ in range(5_000):  # the client reads none of it
                ex.hub.publish("market", YES, lambda sid: {"pad": pad})
                peak = max(peak, len(ex.hub._tasks))
            assert peak <= 50, f"{peak} messages held for one socket"
            await eventually(lambda: not ex.hub.conns)


async def test_a_kalshi_socket_holds_at_most_max_subscriptions() -> None:
    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex)
        kinds = []
        async with kalshi_socket(ex, key_id, pem) as ws:
            for i in range(ws_hub.MAX_SUBSCRIPTIONS + 2):
                params = {"channels": ["ticker"], "market_tickers": [TICKER]}
                await ws.send_str(json.dumps({"id": i, "cmd": "subscribe", "params": params}))
                kinds.append(json.loads((await ws.receive(timeout=5)).data))
            (conn,) = ex.hub.conns
            assert len(conn.subs) == ws_hub.MAX_SUBSCRIPTIONS
    assert [k["type"] for k in kinds[-3:]] == ["subscribed", "error", "error"]
    assert kinds[-1]["msg"] == {"code": 1, "msg": "at most 256 subscriptions a socket"}


async def test_past_max_connections_a_new_polymarket_socket_is_refused_429(monkeypatch) -> None:
    monkeypatch.setattr(ws_hub, "MAX_CONNECTIONS", 2)
    async with PolymarketExchange() as ex, aiohttp.ClientSession() as http:
        _market(ex)
        url = ex.url.replace("http", "ws") + "/ws/market"
        held = [await http.ws_connect(url) for _ in range(2)]
        try:
            await eventually(lambda: len(ex.hub.conns) == 2)
            assert await handshake_status(http, url) == 429
        finally:
            for ws in held:
                await ws.close()

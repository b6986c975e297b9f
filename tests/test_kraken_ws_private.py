"""The Kraken sandbox's authenticated websocket v2 (`executions`, `balances`): the real
ccxt.pro.kraken client's watch_orders / watch_my_trades / watch_balance on 127.0.0.1, the token
from GetWebSocketsToken (expiry, another account's, none), snapshots, and hostile requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from tradeguard.sandbox.kraken import ws_conn, ws_private
from tradeguard.sandbox.kraken.client import make_kraken_client
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, DAVE_KEY, DAVE_SECRET
from tradeguard.sandbox.testing import eventually


@pytest.fixture
async def dave(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, DAVE_KEY, DAVE_SECRET)
    yield c
    await c.close()


@pytest.fixture
async def carol(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, CAROL_KEY, CAROL_SECRET)
    yield c
    await c.close()


async def _token(client: Any) -> str:
    answer = await client.privatePostGetWebSocketsToken()
    assert answer["error"] == [] and len(answer["result"]["token"]) >= 32
    return str(answer["result"]["token"])


async def _recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data.get("channel") != "heartbeat":
            return dict(data)


def _subs(kx: KrakenSandbox) -> list[str]:
    return sorted(ch for c in kx.kraken_ws_private.conns for ch in c.subs)


async def test_ccxt_watches_orders_fills_and_balance_of_its_own_account(
    kx: KrakenSandbox, dave: Any, carol: Any
) -> None:
    orders_task = asyncio.ensure_future(dave.watch_orders())
    await eventually(lambda: _subs(kx) == ["executions"])
    balance = await asyncio.wait_for(dave.watch_balance(), 5)  # the snapshot
    rest = await dave.fetch_balance()
    assert balance["USD"]["total"] == rest["USD"]["total"] > 0
    assert balance["BTC"]["total"] == rest["BTC"]["total"]
    # Carol's resting order is not Dave's business; Dave's own is.
    await carol.create_order("BTC/USD", "limit", "buy", 0.1, 48000)
    mine = await dave.create_order("BTC/USD", "limit", "buy", 0.1, 49000, {"cl_ord_id": "d-1"})
    orders = await asyncio.wait_for(orders_task, 5)
    assert [o["id"] for o in orders] == [mine["id"]]
    assert orders[0]["status"] == "open" and orders[0]["info"]["cl_ord_id"] == "d-1"
    trades_task = asyncio.ensure_future(dave.watch_my_trades())
    balance_task = asyncio.ensure_future(dave.watch_balance())
    await asyncio.sleep(0.05)
    await dave.create_order("BTC/USD", "market", "buy", 0.25)
    trades = await asyncio.wait_for(trades_task, 5)
    rest_trades = await dave.fetch_my_trades("BTC/USD")
    assert {t["id"] for t in trades} == {t["id"] for t in rest_trades}
    assert sum(t["amount"] for t in trades) == pytest.approx(0.25)
    assert all(t["fee"]["currency"] == "USD" and t["fee"]["cost"] > 0 for t in trades)
    moved = await asyncio.wait_for(balance_task, 5)
    after = await dave.fetch_balance()
    assert moved["BTC"]["total"] == after["BTC"]["total"] > balance["BTC"]["total"]
    await dave.cancel_order(mine["id"], "BTC/USD")
    ended = await asyncio.wait_for(dave.watch_orders(), 5)
    assert [o["status"] for o in ended if o["id"] == mine["id"]] == ["canceled"]


async def test_snapshots_hold_open_orders_last_fills_and_every_balance(
    kx: KrakenSandbox, dave: Any
) -> None:
    resting = await dave.create_order("BTC/USD", "limit", "sell", 0.2, 52000)
    await dave.create_order("BTC/USD", "market", "buy", 0.1)
    fills = await dave.fetch_my_trades("BTC/USD")
    token = await _token(dave)
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_auth_url) as ws:
        assert (await _recv(ws))["channel"] == "status"
        params = {"channel": "executions", "token": token, "snap_trades": True}
        await ws.send_json({"method": "subscribe", "params": params, "req_id": 7})
        ack = await _recv(ws)
        assert ack["success"] is True and ack["req_id"] == 7
        assert ack["result"]["channel"] == "executions" and ack["result"]["snapshot"] is True
        trades, orders = await _recv(ws), await _recv(ws)
        assert trades["type"] == orders["type"] == "snapshot"
        assert {r["exec_id"] for r in trades["data"]} == {f["id"] for f in fills}
        assert [r["order_id"] for r in orders["data"]] == [resting["id"]]
        assert orders["data"][0]["order_status"] == "new"
        await ws.send_json({"method": "subscribe", "params": {"channel": "balances",
                                                              "token": token}})  # fmt: skip
        await _recv(ws)
        snap = await _recv(ws)
        assert {r["asset"] for r in snap["data"]} == {"BTC", "USD"}
        assert [trades["sequence"], orders["sequence"], snap["sequence"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"channel": "executions"}, "ESession:Invalid session"),
        ({"channel": "executions", "token": "not-a-token"}, "ESession:Invalid session"),
        ({"channel": "executions", "token": ["x"]}, "ESession:Invalid session"),
        ({"channel": "executions", "token": "T", "snap_orders": "yes"},
         "Malformed request: snap_orders must be true or false"),
        ({"channel": "executions", "token": "T", "symbol": ["BTC/USD"]},
         "Subscription object unsupported field: symbol"),
        ({"channel": "ownTrades", "token": "T"}, "Subscription name invalid"),
        ({"channel": ["executions"], "token": "T"}, "Subscription name invalid"),
        ({"channel": {"executions": 1}}, "Subscription name invalid"),
        ("executions", "Subscription field must be an object"),
    ],
)  # fmt: skip
async def test_bad_tokens_and_hostile_requests_are_refused_in_krakens_shape(
    kx: KrakenSandbox, params: Any, error: str
) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_auth_url) as ws:
        await _recv(ws)
        await ws.send_json({"method": "subscribe", "params": params, "req_id": 3})
        answer = await _recv(ws)
        assert answer["error"] == error and answer["success"] is False
        assert answer["method"] == "subscribe" and answer["req_id"] == 3
        assert set(answer) >= {"time_in", "time_out"}
        assert not _subs(kx)


async def test_an_expired_token_or_another_accounts_token_is_refused(
    kx: KrakenSandbox, dave: Any, carol: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tokens' clock is the test's: a loaded machine cannot make a good token lapse.
    now = [1000.0]
    monkeypatch.setattr(ws_private, "time", SimpleNamespace(monotonic=lambda: now[0]))
    kx.kraken_ws_private.token_ttl_s = 0.2
    stale = await _token(dave)
    now[0] += 0.3
    short = await _token(dave)  # good for 0.2 s
    kx.kraken_ws_private.token_ttl_s = 900
    hers = await _token(carol)
    assert (await dave.privatePostGetWebSocketsToken())["result"]["expires"] == 900
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_auth_url) as ws:
        await _recv(ws)
        for req_id, token in ((1, stale), (2, short), (3, hers)):
            params = {"channel": "balances", "token": token, "snapshot": False}
            await ws.send_json({"method": "subscribe", "params": params, "req_id": req_id})
        first, second, third = await _recv(ws), await _recv(ws), await _recv(ws)
        assert (first["req_id"], first["error"]) == (1, "ESession:Invalid session")
        assert (second["req_id"], second["success"]) == (2, True)
        assert (third["req_id"], third["error"]) == (3, "ESession:Invalid session")
        now[0] += 0.3
        # the token has lapsed: a request with it is refused, the subscription stays
        params = {"channel": "balances", "token": short}
        await ws.send_json({"method": "unsubscribe", "params": params, "req_id": 4})
        assert (await _recv(ws))["error"] == "ESession:Invalid session"
        assert _subs(kx) == ["balances"]
        await dave.create_order("BTC/USD", "market", "buy", 0.01)
        update = await _recv(ws)
        assert update["channel"] == "balances" and update["type"] == "update"


async def test_the_private_socket_has_the_public_one_s_caps(kx: KrakenSandbox) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_auth_url) as ws:
        await _recv(ws)
        for i in range(ws_conn.MAX_REQUESTS + 3):
            await ws.send_json({"method": "ping", "req_id": i})
        answers = [await _recv(ws) for _ in range(ws_conn.MAX_REQUESTS + 3)]
        assert [a.get("error") for a in answers[-3:]] == ["Exceeded msg rate"] * 3
    kx.kraken_ws_private.idle_s = 0.2
    kx.kraken_ws_private.heartbeat_s = 0.05
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_auth_url) as ws:
        await _recv(ws)
        msg = await asyncio.wait_for(ws.receive(), 5)  # silent and unsubscribed: closed
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_get_websockets_token_is_signed_like_every_private_call(kx: KrakenSandbox) -> None:
    async with aiohttp.ClientSession() as s:
        url = f"{kx.base_url}/0/private/GetWebSocketsToken"
        async with s.post(url, data="nonce=1", headers={"API-Key": DAVE_KEY}) as r:
            assert (await r.json()) == {"error": ["EAPI:Invalid signature"]}
        async with s.post(url, data="nonce=1") as r:
            assert (await r.json()) == {"error": ["EAPI:Invalid key"]}
    assert not kx.kraken_ws_private._tokens

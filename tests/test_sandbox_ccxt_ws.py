"""ccxt.pro against the sandbox's market streams and user data stream on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp

from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, eventually


async def _collect(coro_factory: Any, out: list[Any]) -> None:
    # ccxt updates cached orders in place: keep copies to see every state.
    while True:
        out.extend(dict(item) for item in await coro_factory())


def _spawn(coro: Any) -> asyncio.Task[Any]:
    return asyncio.get_running_loop().create_task(coro)


async def test_watch_order_book_follows_depth_diffs(ex: SandboxExchange, client: Any) -> None:
    book = await client.watch_order_book("BTC/USDT")
    assert book["asks"][0] == [50001.0, 1.0]
    ex.set_book("BTCUSDT", bids=[("49990", "3")], asks=[("50010", "4")])
    book = await client.watch_order_book("BTC/USDT")
    assert book["bids"][:1] == [[49990.0, 3.0]]
    assert book["asks"][:1] == [[50010.0, 4.0]]
    assert len(book["asks"]) == 1


async def test_watch_bids_asks_and_ticker_stream_best_prices(
    ex: SandboxExchange, client: Any
) -> None:
    first = _spawn(client.watch_bids_asks(["BTC/USDT"]))
    ticker = _spawn(client.watch_ticker("BTC/USDT"))
    await eventually(lambda: len(ex.ws_subscriptions()) == 2)
    ex.set_book("BTCUSDT", bids=[("49995", "1")], asks=[("50005", "1")])
    bids_asks = await asyncio.wait_for(first, 5)
    assert bids_asks["BTC/USDT"]["bid"] == 49995.0
    assert (await asyncio.wait_for(ticker, 5))["last"] == 50000.0  # mid, no trade yet
    ticker = _spawn(client.watch_ticker("BTC/USDT"))
    ex.trade_through("BTCUSDT", "SELL", "49995", "0.5")
    assert (await asyncio.wait_for(ticker, 5))["last"] == 49995.0


async def test_partial_fills_arrive_on_user_stream(ex: SandboxExchange, client: Any) -> None:
    ex.set_book("BTCUSDT", bids=[], asks=[("50001", "1")])  # ours is the only bid
    placed = await client.create_order("BTC/USDT", "limit", "buy", 0.3, 49000)
    orders: list[Any] = []
    trades: list[Any] = []
    tasks = [
        _spawn(_collect(lambda: client.watch_orders("BTC/USDT"), orders)),
        _spawn(_collect(lambda: client.watch_my_trades("BTC/USDT"), trades)),
    ]
    try:
        await eventually(lambda: "user:acct-1" in ex.ws_subscriptions())
        ex.trade_through("BTCUSDT", "SELL", "49000", "0.1")
        await eventually(lambda: any(o["filled"] == 0.1 for o in orders))
        assert orders[-1]["status"] == "open"
        ex.trade_through("BTCUSDT", "SELL", "49000", "0.2")
        await eventually(lambda: any(o["status"] == "closed" for o in orders))
        await eventually(lambda: len(trades) == 2)
    finally:
        for t in tasks:
            t.cancel()
    assert {o["id"] for o in orders} == {placed["id"]}
    assert [t["amount"] for t in trades] == [0.1, 0.2]
    assert all(t["takerOrMaker"] == "maker" for t in trades)


async def test_watch_balance_sees_outbound_account_position(
    ex: SandboxExchange, client: Any
) -> None:
    seen: list[Any] = []
    task = _spawn(_collect(lambda: _as_list(client.watch_balance()), seen))
    try:
        await eventually(lambda: "user:acct-1" in ex.ws_subscriptions())
        await client.create_order("BTC/USDT", "limit", "buy", 0.1, 40000)
        await eventually(lambda: any(b.get("USDT", {}).get("used") == 4000.0 for b in seen))
    finally:
        task.cancel()


async def _as_list(coro: Any) -> list[Any]:
    return [await coro]


async def test_duplicate_ws_messages_are_delivered_twice(ex: SandboxExchange) -> None:
    ex.faults.update({"duplicate_ws_messages": True})
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{ex.ws_url}/btcusdt@bookTicker") as ws,
    ):
        await eventually(lambda: len(ex.ws_subscriptions()) == 1)
        ex.set_book("BTCUSDT", bids=[("49995", "1")], asks=[("50005", "1")])
        first = json.loads((await ws.receive(timeout=5)).data)
        second = json.loads((await ws.receive(timeout=5)).data)
    assert first == second
    assert first["b"] == "49995.00000000"


async def test_listen_key_stream_pushes_execution_reports(ex: SandboxExchange) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{ex.rest_url}/userDataStream", headers={"X-MBX-APIKEY": ALICE_KEY})
        listen_key = (await resp.json())["listenKey"]
        async with http.ws_connect(f"{ex.ws_url}/{listen_key}") as ws:
            await eventually(lambda: "user:acct-1" in ex.ws_subscriptions())
            ex.set_book("BTCUSDT", bids=[], asks=[])  # only alice's order will rest
            ex.engine.place(
                ex.account_id(ALICE_KEY),
                "BTCUSDT",
                "SELL",
                "LIMIT",
                ex.now_ms(),
                qty=Decimal("0.01"),
                price=Decimal("60000"),
            )
            ex.trade_through("BTCUSDT", "BUY", "60000", "0.01")
            events = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
    kinds = [(e["e"], e.get("x")) for e in events]
    assert ("executionReport", "TRADE") in kinds
    assert ("outboundAccountPosition", None) in kinds


async def test_ws_disconnect_then_next_watch_reconnects(ex: SandboxExchange, client: Any) -> None:
    await client.watch_order_book("BTC/USDT")
    assert ex.disconnect_websockets() >= 1
    await eventually(lambda: ex.ws_subscriptions() == [])
    ex.set_book("BTCUSDT", bids=[("49980", "1")], asks=[("50020", "1")])
    book = await _retry_watch(lambda: client.watch_order_book("BTC/USDT"))
    assert book["bids"][0] == [49980.0, 1.0]
    assert len(ex.ws_subscriptions()) == 1


async def _retry_watch(factory: Any) -> Any:
    # The first call after a drop may surface the close as a NetworkError; the next reconnects.
    import ccxt

    for _ in range(3):
        try:
            return await asyncio.wait_for(factory(), 5)
        except ccxt.NetworkError:
            continue
    raise AssertionError("ccxt.pro did not reconnect")


async def test_disconnect_every_n_messages_closes_the_socket(ex: SandboxExchange) -> None:
    ex.faults.update({"disconnect_ws_every_n": 2})
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{ex.ws_url}/btcusdt@bookTicker") as ws,
    ):
        await eventually(lambda: len(ex.ws_subscriptions()) == 1)
        for px in ("49990", "49991", "49992"):
            ex.set_book("BTCUSDT", bids=[(px, "1")], asks=[("50005", "1")])
        msgs = [await ws.receive(timeout=5) for _ in range(3)]
    assert [m.type for m in msgs[:2]] == [aiohttp.WSMsgType.TEXT] * 2
    assert msgs[2].type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

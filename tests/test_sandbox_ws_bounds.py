"""The Binance-compatible sandbox's websockets are bounded like its Kraken sibling's.

A client that sends requests and never reads the answers made the server queue them without
end (30,000 requests left 5,140 answers waiting, and growing with every request); one frame
could be 4 MiB. Now a socket whose unsent backlog passes `MAX_BACKLOG` messages or
`MAX_BACKLOG_BYTES` is cut, a frame over `MAX_FRAME_BYTES` closes the socket with 1009, and
past `MAX_CONNECTIONS` open sockets a new one is refused (429).
"""

from __future__ import annotations

import json

import aiohttp
from aiohttp import WSMsgType

from rigs import handshake_status
from tradeguard.sandbox import streams
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually

NAMES = ["btcusdt@trade", "btcusdt@depth", "btcusdt@bookTicker", "btcusdt@aggTrade"]


async def test_a_client_that_never_reads_is_cut_at_the_backlog_cap(
    ex: SandboxExchange, monkeypatch
) -> None:
    monkeypatch.setattr(streams, "MAX_BACKLOG", 300, raising=False)
    peak = 0
    async with aiohttp.ClientSession() as http, http.ws_connect(ex.ws_url) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": NAMES, "id": 1}))
        for i in range(20_000):
            try:
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i + 2}))
            except ConnectionError:
                break  # cut: what it sends goes nowhere
            if i % 100 == 0:
                peak = max([peak, *(c.queue.qsize() for c in ex.hub.conns)])
        await eventually(lambda: not ex.hub.conns)
    assert peak <= 300, f"{peak} answers were waiting for one socket"


async def test_a_reader_keeps_its_socket(ex: SandboxExchange, monkeypatch) -> None:
    monkeypatch.setattr(streams, "MAX_BACKLOG", 300, raising=False)
    async with aiohttp.ClientSession() as http, http.ws_connect(ex.ws_url) as ws:
        for i in range(1_000):
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            answer = json.loads((await ws.receive(timeout=5)).data)
            assert answer == {"result": [], "id": i}


async def test_an_oversized_frame_closes_the_socket_1009(ex: SandboxExchange) -> None:
    params = [f"btcusdt@kline_{i}" for i in range(20_000)]  # ~400 KB in one frame
    async with aiohttp.ClientSession() as http, http.ws_connect(ex.ws_url) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": params, "id": 1}))
        msg = await ws.receive(timeout=10)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED), msg
    assert ws.close_code == 1009, ws.close_code
    await eventually(lambda: not ex.hub.conns)


async def test_past_max_connections_a_new_socket_is_refused_429(
    ex: SandboxExchange, monkeypatch
) -> None:
    monkeypatch.setattr(streams, "MAX_CONNECTIONS", 3, raising=False)
    async with aiohttp.ClientSession() as http:
        held = [await http.ws_connect(ex.ws_url) for _ in range(3)]
        try:
            await eventually(lambda: len(ex.hub.conns) == 3)
            assert await handshake_status(http, ex.ws_url) == 429
        finally:
            for ws in held:
                await ws.close()


async def test_a_reader_is_never_cut_by_the_bytes_it_already_read(
    ex: SandboxExchange, monkeypatch
) -> None:
    # The byte cap counts what waits unsent, not what was ever sent: 1,000 answers of ~25
    # bytes each pass a 2,000-byte cap many times over, read one by one.
    monkeypatch.setattr(streams, "MAX_BACKLOG_BYTES", 2_000, raising=False)
    async with aiohttp.ClientSession() as http, http.ws_connect(ex.ws_url) as ws:
        for i in range(1_000):
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            answer = json.loads((await ws.receive(timeout=5)).data)
            assert answer == {"result": [], "id": i}
        [conn] = ex.hub.conns
        assert conn.queued_bytes == 0 and conn.queue.qsize() == 0

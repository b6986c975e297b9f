"""The Kraken sandbox's public websocket v2 through the real ccxt.pro.kraken client on 127.0.0.1:
ticker, book (with Kraken's checksum, checked against the book ccxt keeps), trades and candles
follow the engine that answers REST; the socket's own protocol (status, ping, heartbeat,
unsubscribe) and its refusals of hostile input, read raw."""

from __future__ import annotations

import asyncio
import json
import socket
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from ccxt.base.decimal_to_precision import PAD_WITH_ZERO, ROUND, TICK_SIZE, decimal_to_precision

from tradeguard.sandbox.kraken import ws as kws
from tradeguard.sandbox.kraken import ws_conn as kws_conn
from tradeguard.sandbox.kraken.client import make_kraken_client
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import DAVE_KEY, DAVE_SECRET
from tradeguard.sandbox.testing import eventually

D = Decimal


@pytest.fixture
async def watcher(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, "", "")
    yield c
    await c.close()


@pytest.fixture
async def dave(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, DAVE_KEY, DAVE_SECRET)
    yield c
    await c.close()


def _ladder(mid: int, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    bids = [(str(mid - 1 - i), f"0.{i + 1:02d}") for i in range(n)]
    asks = [(str(mid + 1 + i), f"1.{i:02d}5") for i in range(n)]
    return bids, asks


async def test_ticker_trades_and_candles_follow_a_rest_order(
    kx: KrakenSandbox, watcher: Any, dave: Any
) -> None:
    ticker = await watcher.watch_ticker("BTC/USD")
    assert (ticker["bid"], ticker["ask"]) == (49999.0, 50001.0)
    trades_task = asyncio.ensure_future(watcher.watch_trades("BTC/USD"))
    candles_task = asyncio.ensure_future(watcher.watch_ohlcv("BTC/USD", "1m"))
    await eventually(lambda: len(kx.kraken_ws.subscriptions()) == 3)
    await asyncio.sleep(0.05)  # the snapshots (no trades yet) are in
    await dave.create_order("BTC/USD", "market", "buy", 0.25)
    trades = await asyncio.wait_for(trades_task, 5)
    if not trades:  # the empty snapshot woke the watcher first
        trades = await asyncio.wait_for(watcher.watch_trades("BTC/USD"), 5)
    assert [(t["price"], t["amount"], t["side"]) for t in trades] == [(50001.0, 0.25, "buy")]
    engine_trade = kx.engine.trades["BTCUSD"][-1]
    assert trades[0]["id"] == str(engine_trade.trade_id)
    candles = await asyncio.wait_for(candles_task, 5)
    if not candles:
        candles = await asyncio.wait_for(watcher.watch_ohlcv("BTC/USD", "1m"), 5)
    assert candles[-1][1:] == [50001.0, 50001.0, 50001.0, 50001.0, 0.25]
    assert candles[-1][0] == engine_trade.time_ms // 60_000 * 60_000
    # The ticker's update came with the trade (nobody was waiting): it is in ccxt's cache.
    await eventually(lambda: watcher.tickers["BTC/USD"]["last"] == 50001.0)
    assert watcher.tickers["BTC/USD"]["baseVolume"] == 0.25


def _ccxt_checksum(client: Any, book: Any) -> int:
    """Kraken's checksum over the book as ccxt holds it, written with the market's precision
    (its tick and lot step as ccxt loaded them from AssetPairs), padded with zeros."""
    precision = client.market("BTC/USD")["precision"]
    parts = []
    for side in (book["asks"], book["bids"]):
        for price, amount in side[:10]:
            for value, step in ((price, precision["price"]), (amount, precision["amount"])):
                text = decimal_to_precision(value, ROUND, step, TICK_SIZE, PAD_WITH_ZERO)
                parts.append(client.format_number(text))
    return zlib.crc32("".join(parts).encode())


async def test_book_checksum_matches_the_book_ccxt_keeps_through_updates(
    kx: KrakenSandbox, watcher: Any, dave: Any
) -> None:
    bids, asks = _ladder(50_000, 15)
    kx.set_book("BTC/USD", bids=bids, asks=asks)
    sent: list[int] = []
    handle = watcher.handle_order_book

    def noting(client: Any, message: Any) -> Any:
        sent.append(int(message["data"][0]["checksum"]))
        return handle(client, message)

    watcher.handle_order_book = noting
    book = await watcher.watch_order_book("BTC/USD", 25)
    assert book["asks"][0] == [50001.0, 1.005] and len(book["bids"]) == 15
    assert _ccxt_checksum(watcher, book) == sent[-1]
    # Levels removed, added and changed, a taker eating into the asks: each update keeps the
    # checksum true to ccxt's book.
    kx.set_book("BTC/USD", bids=[*bids[2:], ("49900", "3")], asks=[("50000.5", "0.2"), *asks])
    await dave.create_order("BTC/USD", "market", "buy", 0.7)
    depth = kx.engine.depth("BTCUSD", 25)
    assert depth["asks"][0] == (D("50001"), D("0.505"))

    def level_rows(levels: list[tuple[Decimal, Decimal]]) -> list[list[float]]:
        return [[float(p), float(q)] for p, q in levels]

    # Updates that came while no watcher waited are applied to ccxt's cached book.
    book = watcher.orderbooks["BTC/USD"]
    await eventually(lambda: level_rows(depth["asks"]) == book["asks"] and len(sent) >= 3)
    assert level_rows(depth["bids"]) == book["bids"]
    assert _ccxt_checksum(watcher, book) == sent[-1]
    book["asks"][0][1] = 0.5  # a book that drifted would be caught
    assert _ccxt_checksum(watcher, book) != sent[-1]


async def _recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    out: dict[str, Any] = json.loads(msg.data)
    return out


async def _until(ws: aiohttp.ClientWebSocketResponse, pred: Any) -> dict[str, Any]:
    for _ in range(50):
        m = await _recv(ws)
        if pred(m):
            return m
    raise AssertionError("no such message")


async def test_status_ping_heartbeat_and_unsubscribe(kx: KrakenSandbox) -> None:
    kx.kraken_ws.heartbeat_s = 0.05
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_url) as ws:
        status = await _recv(ws)
        assert status["channel"] == "status" and status["data"][0]["system"] == "online"
        await ws.send_json({"method": "ping", "req_id": 7})
        pong = await _recv(ws)
        assert (pong["method"], pong["req_id"]) == ("pong", 7)
        sub = {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo"}
        await ws.send_json({"method": "subscribe", "params": sub, "req_id": 8})
        ack = await _recv(ws)
        assert ack["success"] is True and ack["req_id"] == 8
        assert ack["result"]["symbol"] == "BTC/USD"
        snap = await _recv(ws)
        assert (snap["channel"], snap["type"], snap["data"][0]["ask"]) == (
            "ticker", "snapshot", 50001.0,
        )  # fmt: skip
        await _until(ws, lambda m: m.get("channel") == "heartbeat")
        kx.set_book("BTC/USD", bids=[("49990", "1")], asks=[("50010", "1")])
        upd = await _until(ws, lambda m: m.get("channel") == "ticker")
        assert (upd["type"], upd["data"][0]["bid"]) == ("update", 49990.0)
        await ws.send_json({"method": "subscribe", "params": sub, "req_id": 9})
        again = await _until(ws, lambda m: m.get("req_id") == 9)
        assert again["success"] is False and again["error"] == "Already subscribed"
        await ws.send_json({"method": "unsubscribe", "params": sub, "req_id": 10})
        bye = await _until(ws, lambda m: m.get("req_id") == 10)
        assert bye["success"] is True and bye["method"] == "unsubscribe"
        assert kx.kraken_ws.subscriptions() == []
        kx.set_book("BTC/USD", bids=[("49980", "1")], asks=[("50020", "1")])
        await ws.send_json({"method": "ping", "req_id": 11})
        # Nothing but (perhaps a last heartbeat and) the pong: no ticker after unsubscribing.
        last = await _until(ws, lambda m: m.get("method") == "pong" or "channel" in m)
        while last.get("channel") == "heartbeat":
            last = await _recv(ws)
        assert last["method"] == "pong"


@pytest.mark.parametrize(
    ("request_text", "error"),
    [
        ("{not json", "Malformed request"),
        ("[1, 2]", "Malformed request"),
        ('{"method": "subscribe", "req_id": 3, "params": {"channel": "level3", '
         '"symbol": ["BTC/USD"]}}', "Subscription name invalid"),
        ('{"method": "subscribe", "req_id": 3, "params": {"channel": "ticker", '
         '"symbol": ["BTC/XYZ"]}}', "Currency pair not supported BTC/XYZ"),
        ('{"method": "subscribe", "req_id": 3, "params": {"channel": "book", '
         '"symbol": ["BTC/USD"], "depth": 7}}', "Subscription depth not supported"),
        ('{"method": "subscribe", "req_id": 3, "params": {"channel": "ohlc", '
         '"symbol": ["BTC/USD"]}}', "Subscription ohlc requires interval"),
        ('{"method": "subscribe", "req_id": 3, "params": {"channel": "trade", '
         '"symbol": "BTC/USD"}}', "Pair field must be an array"),
        ('{"method": "subscribe", "req_id": -1, "params": {}}', "Malformed request"),
        ('{"method": "explode", "req_id": 3}', "Method not found"),
    ],
)  # fmt: skip
async def test_bad_requests_get_krakens_error_shape(
    kx: KrakenSandbox, request_text: str, error: str
) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_url) as ws:
        await _recv(ws)  # status
        await ws.send_str(request_text)
        answer = await _recv(ws)
        assert answer["success"] is False and answer["error"].startswith(error)
        assert {"time_in", "time_out"} <= answer.keys()
        if '"req_id": 3' in request_text:
            assert answer["req_id"] == 3
        await ws.send_json({"method": "ping", "req_id": 4})  # the socket still answers
        assert (await _recv(ws))["method"] == "pong"


async def test_a_huge_frame_closes_the_socket_and_others_carry_on(kx: KrakenSandbox) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(kx.kraken_ws_url) as ws:
            await _recv(ws)
            await ws.send_str(json.dumps({"method": "ping", "pad": "x" * 1_000_000}))
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        async with s.ws_connect(kx.kraken_ws_url) as ws:
            await _recv(ws)
            await ws.send_json({"method": "ping", "req_id": 1})
            assert (await _recv(ws))["method"] == "pong"


async def test_a_flood_of_requests_is_refused_then_cut_off(kx: KrakenSandbox) -> None:
    flood = kws.MAX_REQUESTS + kws.MAX_REFUSALS + 100
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_url) as ws:
        await _recv(ws)
        sub = {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}
        await ws.send_json({"method": "subscribe", "params": sub, "req_id": 0})
        for i in range(1, flood):
            await ws.send_json({"method": "ping", "req_id": i})
        answers: list[dict[str, Any]] = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            answers.append(json.loads(msg.data))
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    pongs = [a["req_id"] for a in answers if a.get("method") == "pong"]
    assert pongs == list(range(1, kws.MAX_REQUESTS))
    errors = [a for a in answers if a.get("success") is False]
    assert [e["error"] for e in errors] == ["Exceeded msg rate"] * kws.MAX_REFUSALS
    assert [a["channel"] for a in answers if a.get("channel") == "book"] == ["book"]  # snapshot
    assert kx.kraken_ws.subscriptions() == []


async def test_repeated_bad_subscriptions_cut_the_socket_off(kx: KrakenSandbox) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_url) as ws:
        await _recv(ws)
        for i in range(kws.MAX_REFUSALS + 20):
            sub = {"channel": "ticker", "symbol": [f"X{i}/USD"]}
            await ws.send_json({"method": "subscribe", "params": sub, "req_id": i})
        answers = []
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            answers.append(json.loads(msg.data))
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert [a["req_id"] for a in answers] == list(range(kws.MAX_REFUSALS))
    assert all(a["error"].startswith("Currency pair not supported") for a in answers)


async def test_the_ticker_counts_the_last_24_hours_only(kx: KrakenSandbox) -> None:
    now = kx.now_ms()
    kx.trade_through("BTC/USD", "SELL", "49999", "0.3", at_ms=now - 25 * 3_600_000)
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_url) as ws:
        await _recv(ws)
        sub = {"channel": "ticker", "symbol": ["BTC/USD"]}
        await ws.send_json({"method": "subscribe", "params": sub, "req_id": 1})
        snap = await _until(ws, lambda m: m.get("channel") == "ticker")
        assert (snap["data"][0]["volume"], snap["data"][0]["last"]) == (0.0, 49999.0)
        kx.trade_through("BTC/USD", "SELL", "49998", "0.2")
        kx.trade_through("BTC/USD", "BUY", "50001", "0.1")
        upd = await _until(
            ws, lambda m: m.get("channel") == "ticker" and m["data"][0]["last"] > 5e4
        )
        row = upd["data"][0]
        assert (row["volume"], row["low"], row["high"]) == (0.3, 49999.0, 50001.0)
        assert row["vwap"] == pytest.approx((49999 * 0.2 + 50001 * 0.1) / 0.3)


async def test_a_reader_that_stops_reading_is_cut_off_by_the_bytes_it_holds(
    kx: KrakenSandbox,
) -> None:
    """Deep snapshots asked again and again (within the request rate) by a client that never
    reads pile up on the server: the backlog is bounded in bytes, not only in messages (10,000
    snapshots of a 1,000-level book would hold ~660 MB for one socket)."""
    names = ["BTC/USD", "ETH/USD", "LTC/USD"]
    for name in names[1:]:
        kx.add_market(name, name[:3], "USD", "0.01", "0.0001", "0.001", "0.5")
    for n, name in enumerate(names):
        kx.set_book(
            name,
            bids=[(str(10_000 * (n + 1) - 1 - i), "1.2345") for i in range(1000)],
            asks=[(str(10_000 * (n + 1) + 1 + i), "2.3456") for i in range(1000)],
        )
    async with aiohttp.ClientSession() as s, s.ws_connect(kx.kraken_ws_url) as ws:
        await _recv(ws)
        [conn] = kx.kraken_ws.conns
        sub = {"channel": "book", "symbol": names, "depth": 1000}
        for i in range(kws.MAX_REQUESTS - 1):
            method = "unsubscribe" if i % 2 else "subscribe"
            await ws.send_json({"method": method, "params": sub, "req_id": i})
        await eventually(lambda: conn not in kx.kraken_ws.conns, timeout_s=10)
        assert conn.queued_bytes <= kws.MAX_BACKLOG_BYTES
        while (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
            pass
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_sockets_past_the_connection_bound_are_refused_and_the_open_ones_answer(
    kx: KrakenSandbox,
) -> None:
    """Each socket may hold up to MAX_BACKLOG_BYTES: without a bound on their number, one client
    opening thousands would hold gigabytes."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as s:
        connects = (s.ws_connect(kx.kraken_ws_url) for _ in range(kws.MAX_CONNECTIONS))
        opened = list(await asyncio.gather(*connects))
        try:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.ws_connect(kx.kraken_ws_url)
            assert refused.value.status == 429
            assert len(kx.kraken_ws.conns) == kws.MAX_CONNECTIONS
            await _recv(opened[-1])  # status
            await opened[-1].send_json({"method": "ping", "req_id": 1})
            assert (await _recv(opened[-1]))["method"] == "pong"
        finally:
            await asyncio.gather(*(ws.close() for ws in opened))
        await eventually(lambda: not kx.kraken_ws.conns)
        async with s.ws_connect(kx.kraken_ws_url) as ws:  # room again once they closed
            assert (await _recv(ws))["channel"] == "status"


async def test_idle_sockets_and_a_half_sent_frame_do_not_hold_a_slot(kx: KrakenSandbox) -> None:
    """Slowloris: sockets that never finish a request (silent, or a frame announced and never
    sent) would keep the MAX_CONNECTIONS slots forever; without a subscription they are closed
    after `idle_s`. A subscribed reader stays."""
    kx.kraken_ws.heartbeat_s, kx.kraken_ws.idle_s = 0.05, 0.5
    async with aiohttp.ClientSession() as s:
        silent = await s.ws_connect(kx.kraken_ws_url)
        dribbling = await s.ws_connect(kx.kraken_ws_url)
        reader = await s.ws_connect(kx.kraken_ws_url)
        sub = {"channel": "ticker", "symbol": ["BTC/USD"]}
        await reader.send_json({"method": "subscribe", "params": sub, "req_id": 1})
        await _until(reader, lambda m: m.get("method") == "subscribe")
        # A masked text frame of 16,000 bytes announced, then 3 bytes of it, then nothing.
        transport = dribbling._writer.transport
        transport.write(b"\x81\xfe\x3e\x80" + b"\x00\x00\x00\x00" + b'{"m')
        assert len(kx.kraken_ws.conns) == 3
        await eventually(lambda: len(kx.kraken_ws.conns) == 1, timeout_s=5)
        [left] = kx.kraken_ws.conns
        assert left.subs  # the subscribed one
        while (await silent.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            pass
        assert silent.closed  # the server ended it
        await reader.send_json({"method": "ping", "req_id": 2})
        await _until(reader, lambda m: m.get("method") == "pong")
        for ws in (silent, dribbling, reader):
            await ws.close()


class _CountingTrades(list):  # type: ignore[type-arg]
    """The engine's trade list, counting the trades read through slices."""

    read = 0

    def __getitem__(self, key: Any) -> Any:
        got = super().__getitem__(key)
        if isinstance(key, slice):
            _CountingTrades.read += len(got)
        return got


async def test_an_ohlc_update_reads_the_new_trades_not_the_whole_open_candle(
    kx: KrakenSandbox,
) -> None:
    """Each trade sent every subscriber of a long interval its candle summed again over all of
    that candle's trades (a day-long or 15-day candle: every trade of the day, per trade, per
    subscriber). Two subscribers of one interval get the same, right candle."""
    now = kx.now_ms()
    kx.trade_through("BTC/USD", "SELL", "49999", "0.0001", at_ms=now)
    first = kx.engine.trades["BTCUSD"][0]
    history = [replace(first, trade_id=i, time_ms=now - 2_000 + i // 10) for i in range(2_000)]
    kx.engine.trades["BTCUSD"] = _CountingTrades(history)
    sub = {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 21600}
    async with aiohttp.ClientSession() as s:
        a = await s.ws_connect(kx.kraken_ws_url)
        b = await s.ws_connect(kx.kraken_ws_url)
        for ws in (a, b):
            await ws.send_json({"method": "subscribe", "params": sub, "req_id": 1})
            await _until(ws, lambda m: m.get("channel") == "ohlc")  # the snapshot
        kx.trade_through("BTC/USD", "SELL", "49999", "0.0002")  # reads the candle once
        for ws in (a, b):
            await _until(ws, lambda m: m.get("channel") == "ohlc")
        _CountingTrades.read = 0
        kx.trade_through("BTC/USD", "SELL", "49999", "0.0003")
        rows = [(await _until(ws, lambda m: m.get("channel") == "ohlc"))["data"] for ws in (a, b)]
        assert _CountingTrades.read <= 10  # the new trade, not 2,000 per subscriber
        assert rows[0] == rows[1] and len(rows[0]) == 1
        candle = rows[0][0]
        assert candle["trades"] == 2_002 and candle["close"] == 49999.0
        assert candle["volume"] == pytest.approx(2_000 * 0.0001 + 0.0002 + 0.0003)
        for ws in (a, b):
            await ws.close()


def _masked(obj: Any) -> bytes:
    data = json.dumps(obj).encode()
    size = bytes([0x80 | len(data)]) if len(data) < 126 else b"\xfe" + len(data).to_bytes(2)
    return b"\x81" + size + b"\x00\x00\x00\x00" + data


async def test_a_cut_off_reader_that_never_reads_lets_go_of_its_backlog_and_socket(
    kx: KrakenSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket cut off for its backlog left `conns` (and the MAX_CONNECTIONS count) while its
    writer waited forever on a peer that reads nothing, holding the backlog: dropped, it is
    closed within CLOSE_TIMEOUT_S and its messages let go."""
    monkeypatch.setattr(kws_conn, "MAX_BACKLOG_BYTES", 200_000)
    monkeypatch.setattr(kws_conn, "CLOSE_TIMEOUT_S", 0.5)
    kx.set_book(
        "BTC/USD",
        bids=[(str(9999 - i), "1.2345") for i in range(1000)],
        asks=[(str(10001 + i), "2.3456") for i in range(1000)],
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (kx.config.host, kx.port))
    try:
        await loop.sock_sendall(sock, (
            b"GET /kraken-ws/v2 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        ))  # fmt: skip
        await eventually(lambda: len(kx.kraken_ws.conns) == 1)
        [conn] = kx.kraken_ws.conns
        sub = {"channel": "book", "symbol": ["BTC/USD"], "depth": 1000}
        for i in range(kws.MAX_REQUESTS - 1):
            method = "unsubscribe" if i % 2 else "subscribe"
            await loop.sock_sendall(sock, _masked({"method": method, "params": sub, "req_id": i}))
            await asyncio.sleep(0.02)  # the writer fills the kernel's buffers before the backlog
        await eventually(lambda: not kx.kraken_ws.conns)  # cut off for its backlog
        assert conn.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        await eventually(lambda: not kx.kraken_ws._writers, timeout_s=5)
        assert conn.queue.empty() and conn.queued_bytes == 0
    finally:
        sock.close()

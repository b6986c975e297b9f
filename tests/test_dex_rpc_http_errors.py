"""The RPC's HTTP answers that are no JSON-RPC result, through the venue's real client against
the local chain: a rate limit (HTTP 429) is asked again after its `Retry-After`, a bounded
number of times, and a persistent one is a clear error that neither loses nor doubles a swap;
an over-size request is answered (413) and reported in the node's JSON-RPC words."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from test_dex_hostile_rpc import _through
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.sandbox.chain.rpc import MAX_BODY_BYTES, LocalChain, RpcServer
from tradeguard.venues.uniswap_v2 import rpc_http
from tradeguard.venues.uniswap_v2.rpc import ChainClient
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

_seq = iter(range(1, 10_000))


class _Limiting(RpcServer):
    """The local chain's server answering HTTP 429 to requests naming `method` (the first
    `times` of them; -1: all), with `retry_after` as their Retry-After when given."""

    def __init__(self, chain: LocalChain) -> None:
        super().__init__(chain, port=0)
        self.method, self.times, self.retry_after = "", 0, ""
        self.limited: list[float] = []  # when each 429 was answered (monotonic)
        self.passed: list[float] = []  # when each request naming `method` was let through

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()  # kept by aiohttp: the chain's handler reads it again
        if self.method and f'"{self.method}"'.encode() in raw:
            if self.times < 0 or len(self.limited) < self.times:
                self.limited.append(time.monotonic())
                headers = {"Retry-After": self.retry_after} if self.retry_after else {}
                return web.Response(status=429, text="Too Many Requests", headers=headers)
            self.passed.append(time.monotonic())
        return await super()._handle(request)


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


@pytest.fixture
def limiting(chain: ChainThread) -> Iterator[_Limiting]:
    server = _Limiting(chain.chain)
    asyncio.run_coroutine_threadsafe(server.start(), chain.loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), chain.loop).result(10)


def _mined_count(chain: ChainThread, address: str) -> int:
    return int(chain.rpc("eth_getTransactionCount", address, "latest")["result"], 16)


async def test_a_rate_limited_broadcast_waits_its_retry_after_and_swaps_once(
    chain: ChainThread, limiting: _Limiting
) -> None:
    # Before: web3 raised the 429 of eth_sendRawTransaction at once (it retries no broadcast,
    # and its reads on a fixed backoff whatever Retry-After says): the swap was left in flight.
    venue = await connected_venue(_through(chain.deployment, limiting), MemoryTxStore(),
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"limit-warm-{next(_seq)}", "0.01"))  # approvals
    seen = FillSink()
    venue.set_listener(seen)
    before = _mined_count(chain, venue.address)
    limiting.method, limiting.times, limiting.retry_after = "eth_sendRawTransaction", 2, "1"
    report = await venue.submit(dex_order(f"limit-{next(_seq)}", "0.01"))
    assert report.status is OrderStatus.FILLED, report
    assert len(limiting.limited) == 2 and len(limiting.passed) == 1
    asked = [*limiting.limited, limiting.passed[0]]
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # each waited the 1 s its 429 asked for
    assert len(seen.fills) == 1 and _mined_count(chain, venue.address) == before + 1
    await venue.close()


async def test_a_persistent_429_is_a_clear_error_and_the_swap_is_booked_once_later(
    chain: ChainThread, limiting: _Limiting
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, limiting), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"limit-warm-{next(_seq)}", "0.01"))
    seen = FillSink()
    venue.set_listener(seen)
    before = _mined_count(chain, venue.address)
    limiting.method, limiting.times, limiting.retry_after = "eth_sendRawTransaction", -1, "1"
    order = dex_order(f"limited-{next(_seq)}", "0.01")
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(order)
    text = str(exc.value)
    assert "HTTP 429" in text and "Retry-After 1 s" in text, text
    assert f"to {rpc_http.RATE_LIMIT_TRIES} requests" in text, text
    assert len(limiting.limited) == rpc_http.RATE_LIMIT_TRIES
    assert "Traceback" not in text and "/…" not in text.split("127.0.0.1")[0]
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.status != "dropped" and seen.fills == []
    limiting.times = 0  # the limit lifts: the journaled bytes go out, once
    report = None
    for _ in range(20):
        report = await venue.fetch_order(order.client_order_id, "WETH/USD")
        if report is not None and report.status is OrderStatus.FILLED:
            break
        await asyncio.sleep(0.1)
    assert report is not None and report.status is OrderStatus.FILLED, report
    assert await venue.fetch_order(order.client_order_id, "WETH/USD") == report
    assert len(seen.fills) == 1 and seen.fills[0].trade_id == swap.tx_hash
    assert _mined_count(chain, venue.address) == before + 1
    await venue.close()


async def test_a_persistent_429_before_the_swap_refuses_the_order_in_words(
    chain: ChainThread, limiting: _Limiting, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, limiting), store,
                                  approve_unlimited=True)  # fmt: skip
    monkeypatch.setattr(rpc_http, "_BACKOFF_S", 0.01)
    limiting.method, limiting.times = "eth_getBlockByNumber", -1  # no Retry-After: backoff
    order = dex_order(f"limited-early-{next(_seq)}", "0.01")
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(order)
    assert exc.value.code == "RPC_ANSWER" and "HTTP 429 (too many requests)" in str(exc.value)
    assert len(limiting.limited) == rpc_http.RATE_LIMIT_TRIES
    assert [r for r in store.rows.values() if r.client_order_id == order.client_order_id] == []
    await venue.close()


async def test_a_retry_after_past_the_wait_bound_is_not_waited_for(
    chain: ChainThread, limiting: _Limiting
) -> None:
    client = ChainClient(limiting.url)
    limiting.method, limiting.times, limiting.retry_after = "eth_blockNumber", -1, "3600"
    with pytest.raises(rpc_http.RpcRateLimited) as exc:
        await client.block_number()
    assert len(limiting.limited) == 1, limiting.limited
    assert "Retry-After 3600 s" in str(exc.value)
    await client.close()


async def test_an_over_size_request_is_answered_413_in_json_rpc_shape(
    chain: ChainThread,
) -> None:
    # Before: aiohttp's plain-text 413 ("Maximum request body size ... exceeded").
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{"data": "0x" + "00" * (MAX_BODY_BYTES // 2 + 1)}, "latest"]}  # fmt: skip
    async with aiohttp.ClientSession() as http, http.post(chain.server.url, json=call) as r:
        assert r.status == 413
        answer: Any = await r.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None
    assert answer["error"]["code"] == -32600
    assert str(MAX_BODY_BYTES) in answer["error"]["message"]


async def test_the_client_reports_an_over_size_request_in_the_nodes_words(
    chain: ChainThread,
) -> None:
    client = ChainClient(chain.server.url)
    data = "0x" + "00" * (MAX_BODY_BYTES // 2 + 1)
    with pytest.raises(rpc_http.RpcHttpError) as exc:
        await client.w3.eth.call({"to": chain.deployment.router, "data": data})
    text = str(exc.value)
    assert exc.value.status == 413 and "HTTP 413" in text, text
    assert f"larger than {MAX_BODY_BYTES} bytes" in text and "-32600" in text, text
    await client.close()


class _AcceptingThenLimiting(_Limiting):
    """A rate-limiting proxy that counts a request over its limit after forwarding it: the
    first request naming `method` reaches the chain, and its answer is replaced by a 429."""

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.method and f'"{self.method}"'.encode() in raw and not self.limited:
            await RpcServer._handle(self, request)  # the node takes it
            self.limited.append(time.monotonic())
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "0"})
        return await super()._handle(request)


async def test_a_broadcast_the_node_took_before_its_429_is_not_marked_dropped(
    chain: ChainThread,
) -> None:
    # Before: the first send mined (the chain mines each transaction at once), its answer a
    # 429; the same bytes asked again were refused "nonce too low": the record was marked
    # dropped and the order rejected, while the swap was on chain, never booked.
    limiting = _AcceptingThenLimiting(chain.chain)
    asyncio.run_coroutine_threadsafe(limiting.start(), chain.loop).result(10)
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, limiting), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"took-warm-{next(_seq)}", "0.01"))
    seen = FillSink()
    venue.set_listener(seen)
    before = _mined_count(chain, venue.address)
    limiting.method = "eth_sendRawTransaction"
    order = dex_order(f"took-{next(_seq)}", "0.01")
    report = await venue.submit(order)
    assert len(limiting.limited) == 1
    assert _mined_count(chain, venue.address) == before + 1  # it swapped, once
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.status == "mined", swap.status
    assert report.status is OrderStatus.FILLED, report
    assert len(seen.fills) == 1 and seen.fills[0].trade_id == swap.tx_hash
    await venue.close()
    asyncio.run_coroutine_threadsafe(limiting.stop(), chain.loop).result(10)

"""Blocks past the chain's head. eth_getLogs over a range reaching past it answers as geth does
(and the execution-apis conformance tests `filter-error-future-block-range` pin): -32602 "block
range extends beyond current head block" for a `toBlock` beyond it, -32602 "invalid block range
params" for a `fromBlock` beyond where the range ends; a node does not cut the range back to its
head nor answer a partial record as if it were whole. The local chain walked every block up to
the head, then failed on the first one past it and answered -32603 "internal error" (and logged
a warning). A state read (balance, code, call) at a block past the head answered the same
internal error, where a node answers -32000 "header not found"."""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio

from tradeguard.sandbox.chain.deploy import deploy_demo
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chain_url():
    """A local chain with the demo's pools deployed (its logs in its blocks), served for the
    module: deploying takes seconds, and the tests only read its logs."""
    chain = LocalChain()
    server = RpcServer(chain, port=0)
    await server.start()
    deploy_demo(chain.w3, rpc_url=server.url)  # pools created and funded: logs in its blocks
    try:
        yield server.url
    finally:
        await server.stop()


@pytest.fixture
async def bare_url():
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


async def _logs(url: str, where: dict[str, str]) -> object:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [where]}
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as r:
        assert r.status == 200
        return await r.json()


BEYOND = {"code": -32602, "message": "block range extends beyond current head block"}
REVERSED = {"code": -32602, "message": "invalid block range params"}


@pytest.mark.asyncio(loop_scope="module")  # the loop chain_url serves in
async def test_a_to_block_past_the_head_is_refused_as_geth_does(chain_url, caplog):
    latest = await _logs(chain_url, {"fromBlock": "0x0", "toBlock": "latest"})
    assert len(latest["result"]) > 3, latest
    head = max(int(entry["blockNumber"], 16) for entry in latest["result"])
    assert await _logs(chain_url, {"fromBlock": "0x0", "toBlock": hex(head)}) == latest
    for far in (hex(head + 1), "0x100000", "0xffffffffffffffff"):
        answer = await _logs(chain_url, {"fromBlock": "0x0", "toBlock": far})
        assert answer == {"jsonrpc": "2.0", "id": 1, "error": BEYOND}, (far, answer)
    answer = await _logs(chain_url, {"fromBlock": hex(head), "toBlock": hex(head + 1)})
    assert answer == {"jsonrpc": "2.0", "id": 1, "error": BEYOND}, answer
    assert "failed" not in caplog.text


@pytest.mark.asyncio(loop_scope="module")  # the loop chain_url serves in
async def test_a_range_that_starts_past_its_end_is_refused_as_geth_does(chain_url):
    for start in ("0x100000", "0xffffffffffffffff"):
        answer = await _logs(chain_url, {"fromBlock": start, "toBlock": "latest"})
        assert answer == {"jsonrpc": "2.0", "id": 1, "error": REVERSED}, (start, answer)
        answer = await _logs(chain_url, {"fromBlock": start})
        assert answer == {"jsonrpc": "2.0", "id": 1, "error": REVERSED}, (start, answer)
    answer = await _logs(chain_url, {"fromBlock": "0x3", "toBlock": "0x2"})
    assert answer == {"jsonrpc": "2.0", "id": 1, "error": REVERSED}, answer


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("eth_getBalance", ["0x" + "11" * 20, "0xffff"]),
        ("eth_getCode", ["0x" + "11" * 20, "0xffff"]),
        ("eth_call", [{"to": "0x" + "11" * 20, "data": "0x"}, "0xffff"]),
        ("eth_getStorageAt", ["0x" + "11" * 20, "0x0", "0xffff"]),
        ("eth_estimateGas", [{"to": "0x" + "11" * 20}, "0xffff"]),
        ("eth_getTransactionCount", ["0x" + "11" * 20, "0xffff"]),
    ],
)
async def test_a_state_read_at_a_block_past_the_head_is_header_not_found(
    bare_url, method, params, caplog
):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with aiohttp.ClientSession() as http, http.post(bare_url, json=body) as r:
        answer = await r.json()
    # a node's words and code for a block it does not have; not an internal error
    assert answer == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32000, "message": "header not found"},
    }, answer
    assert "failed" not in caplog.text


@pytest.mark.parametrize(
    ("method", "params", "result"),
    [
        ("eth_getStorageAt", ["0x" + "11" * 20, "0x0", "0x0"], "0x" + "0" * 64),
        ("eth_estimateGas", [{"to": "0x" + "11" * 20}, "0x0"], "0x5208"),
    ],
)
async def test_a_state_read_at_a_block_number_in_hex_is_answered(bare_url, method, params, result):
    """A node takes a block as a hex number: the local chain refused one with -32602 'Block
    number must be a positive integer' for eth_getStorageAt and eth_estimateGas."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with aiohttp.ClientSession() as http, http.post(bare_url, json=body) as r:
        answer = await r.json()
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": result}, answer

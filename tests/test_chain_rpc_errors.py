"""The local chain answers JSON-RPC 2.0 error objects in words (no Python exception names) and
takes only a string, a number or null as a request id."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer

PYTHON_NAMES = re.compile(r"\b\w*(Error|Exception|Failed)\b:|Traceback|object has no attribute")


@pytest.fixture
async def chain_url():
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


async def _post(url: str, body: object) -> object:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as r:
        assert r.status == 200
        return await r.json()


@pytest.mark.parametrize("rid", [{"a": 1}, [1, 2], True], ids=["object", "array", "boolean"])
async def test_an_id_that_is_not_a_string_number_or_null_is_an_invalid_request(chain_url, rid):
    answer = await _post(chain_url, {"jsonrpc": "2.0", "id": rid, "method": "eth_blockNumber"})
    assert answer == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": "invalid request: id must be a string, a number or null",
        },
    }


@pytest.mark.parametrize("rid", ["x-1", 7, 2.5, None])
async def test_a_string_number_or_null_id_is_echoed(chain_url, rid):
    answer = await _post(chain_url, {"jsonrpc": "2.0", "id": rid, "method": "eth_blockNumber"})
    assert answer == {"jsonrpc": "2.0", "id": rid, "result": "0x0"}


async def test_an_empty_batch_is_an_invalid_request(chain_url):
    answer = await _post(chain_url, [])
    assert answer["error"]["code"] == -32600 and answer["id"] is None


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("eth_getBalance", [["0x1"], "latest"], -32602),
        ("eth_getBalance", ["0x1"], -32602),
        ("eth_getBalance", [{"a": 1}, "latest"], -32602),
        ("eth_call", [{"data": "0x"}], -32602),
        ("eth_getTransactionReceipt", ["0x12"], -32602),
        ("eth_sendRawTransaction", ["0x1234"], -32602),
    ],
    ids=["address-list", "missing-block", "address-object", "call-short", "hash-short", "raw"],
)
async def test_bad_params_are_32602_in_words(chain_url, method, params, code):
    answer = await _post(chain_url, {"jsonrpc": "2.0", "id": 3, "method": method, "params": params})
    error = answer["error"]
    assert error["code"] == code and error["message"].startswith(f"invalid params for {method}")
    assert not PYTHON_NAMES.search(error["message"]), error["message"]


async def test_a_transaction_the_chain_state_refuses_is_32000_in_words(chain_url):
    accounts = await _post(chain_url, {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"})
    sender = accounts["result"][0]
    tx = {"from": sender, "to": sender, "value": "0x1", "nonce": "0x99"}
    answer = await _post(
        chain_url, {"jsonrpc": "2.0", "id": 2, "method": "eth_sendTransaction", "params": [tx]}
    )
    assert answer["error"]["code"] == -32000
    assert "nonce" in answer["error"]["message"] and not PYTHON_NAMES.search(
        answer["error"]["message"]
    )

"""The local chain answers transactions, blocks and receipts in the JSON-RPC shapes a real node
does (camelCase keys, a transaction's calldata as `input`), whichever call returns them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tradeguard.sandbox.chain.rpc import LocalChain


@pytest.fixture(scope="module")
def mined() -> Iterator[tuple[LocalChain, str]]:
    chain = LocalChain()
    accounts = chain.w3.eth.accounts
    tx_hash = chain.w3.eth.send_transaction({"from": accounts[0], "to": accounts[1], "value": 1})
    yield chain, "0x" + bytes(tx_hash).hex()


def _answer(chain: LocalChain, method: str, *params: Any) -> Any:
    answer = chain.call(method, list(params))
    assert "result" in answer, answer
    return answer["result"]


def _snake(keys: Any) -> list[str]:
    return sorted(k for k in keys if "_" in k)


def test_a_full_block_holds_each_transaction_as_asked_by_its_hash(
    mined: tuple[LocalChain, str],
) -> None:
    chain, tx_hash = mined
    by_hash = _answer(chain, "eth_getTransactionByHash", tx_hash)
    block = _answer(chain, "eth_getBlockByNumber", by_hash["blockNumber"], True)
    by_hash_block = _answer(chain, "eth_getBlockByHash", by_hash["blockHash"], True)
    assert block["transactions"] == [by_hash] and by_hash_block["transactions"] == [by_hash]
    assert _snake(by_hash) == [] and "input" in by_hash and "yParity" in by_hash
    assert _snake(block) == []


def test_a_receipt_speaks_camel_case(mined: tuple[LocalChain, str]) -> None:
    chain, tx_hash = mined
    receipt = _answer(chain, "eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and _snake(receipt) == []

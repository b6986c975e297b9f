"""The local chain's JSON-RPC server bounds a batch: at most `MAX_BATCH` calls, and all of its
`evm_mine` calls together at most `MAX_MINE_BLOCKS` blocks. Each call is answered on the
server's event loop: a batch of 1,000 `evm_mine 0x2710` was about 28 hours of it. A batch over
either is refused whole, nothing run."""

from __future__ import annotations

import aiohttp

from tradeguard.sandbox.chain import rpc
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer


async def _post(url: str, body: object) -> object:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as r:
        assert r.status == 200
        return await r.json()


def _call(n: int, method: str, *params: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": n, "method": method, "params": list(params)}


async def test_a_batch_over_the_cap_is_refused_whole() -> None:
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        over = [_call(n, "evm_mine", "0x1") for n in range(rpc.MAX_BATCH + 1)]
        answer = await _post(server.url, over)
        assert answer == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": (
            f"invalid request: a batch of {rpc.MAX_BATCH + 1} calls; at most {rpc.MAX_BATCH}"
        )}}  # fmt: skip
        block = await _post(server.url, _call(1, "eth_blockNumber"))
        assert block == {"jsonrpc": "2.0", "id": 1, "result": "0x0"}  # nothing was mined
        full = await _post(server.url, [_call(n, "eth_chainId") for n in range(rpc.MAX_BATCH)])
        assert isinstance(full, list) and len(full) == rpc.MAX_BATCH
    finally:
        await server.stop()


async def test_a_batch_mining_more_than_the_cap_together_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(rpc, "MAX_MINE_BLOCKS", 10)
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        answer = await _post(server.url, [_call(1, "evm_mine", "0x6"), _call(2, "evm_mine", "0x6")])
        assert answer == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": (
            "invalid request: the batch mines 12 blocks in all; at most 10"
        )}}  # fmt: skip
        block = await _post(server.url, _call(3, "eth_blockNumber"))
        assert block == {"jsonrpc": "2.0", "id": 3, "result": "0x0"}
        within = await _post(server.url, [_call(4, "evm_mine", "0x5"), _call(5, "evm_mine")])
        assert [a["id"] for a in within] == [4, 5] and all("result" in a for a in within)
    finally:
        await server.stop()


async def test_one_evm_mine_is_bounded_naming_the_count_and_the_limit() -> None:
    # before: up to 10,000 blocks a call at 100 blocks a second at best (2.3 s under load),
    # every other client of the chain waiting for all of it; the refusal named no count
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        for count in ("0xffffffff", hex(rpc.MAX_MINE_BLOCKS + 1)):
            answer = await _post(server.url, _call(1, "evm_mine", count))
            error = answer["error"]
            assert error["code"] == -32602, answer
            assert f"{int(count, 16)} blocks" in error["message"], answer
            assert f"at most {rpc.MAX_MINE_BLOCKS} ({hex(rpc.MAX_MINE_BLOCKS)})" in error["message"]
        assert rpc.MAX_MINE_BLOCKS <= 1_000
        block = await _post(server.url, _call(2, "eth_blockNumber"))
        assert block["result"] == "0x0"
        bad = await _post(server.url, _call(3, "evm_mine", "many"))
        assert "one hex block count" in bad["error"]["message"], bad
    finally:
        await server.stop()


def test_the_evm_mine_refusal_cuts_a_count_of_any_length_short() -> None:
    raw = "0x" + "f" * 5000
    message = rpc._mine_refusal([raw])
    assert "over 10**30 blocks" in message and f"evm_mine {raw[:40]}..." in message, message
    assert len(message) < 300, len(message)

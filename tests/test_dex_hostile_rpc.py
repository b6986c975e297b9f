"""A JSON-RPC endpoint that lies: receipts of other transactions, absurd gas, a chain id that
changed. The venue talks to the real Uniswap V2 contracts through a server that rewrites some
answers; what it books must still be what the chain did."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.chain.deploy import Deployment
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

Rewrite = Callable[[list[Any], Any], Any]
_seq = iter(range(1, 10_000))


class HostileServer(RpcServer):
    """The local chain's JSON-RPC server, with the results of chosen methods rewritten."""

    def __init__(self, chain: LocalChain) -> None:
        super().__init__(chain, port=0)
        self.rewrites: dict[str, Rewrite] = {}

    def _one(self, item: Any) -> dict[str, Any]:
        answer = super()._one(item)
        method = item.get("method") if isinstance(item, dict) else None
        rewrite = self.rewrites.get(str(method))
        if rewrite is not None and "result" in answer:
            answer = {**answer, "result": rewrite(item.get("params") or [], answer["result"])}
        return answer


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def serving_hostile(chain: ChainThread) -> Iterator[HostileServer]:
    """A lying JSON-RPC server in front of the local chain, for one test."""
    server = HostileServer(chain.chain)
    asyncio.run_coroutine_threadsafe(server.start(), chain.loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), chain.loop).result(10)


@pytest.fixture
def hostile(chain: ChainThread) -> Iterator[HostileServer]:
    yield from serving_hostile(chain)


def _through(d: Deployment, server: HostileServer) -> Deployment:
    from dataclasses import replace

    return replace(d, rpc_url=server.url)


def _order(amount: str = "0.1") -> Order:
    return dex_order(f"hostile-{next(_seq)}", amount)


async def test_a_receipt_for_another_transaction_is_never_booked_as_ours(
    chain: ChainThread, hostile: HostileServer
) -> None:
    d = chain.deployment
    honest = await connected_venue(d, approve_unlimited=True)
    first = await honest.submit(_order("0.01"))
    assert first.status is OrderStatus.FILLED
    old_receipt = chain.rpc("eth_getTransactionReceipt", first.venue_order_id)["result"]
    await honest.close()

    def other_receipt(params: list[Any], result: Any) -> Any:
        return old_receipt if params and params[0] != first.venue_order_id else result

    hostile.rewrites["eth_getTransactionReceipt"] = other_receipt
    store = MemoryTxStore()
    venue = await connected_venue(_through(d, hostile), store, approve_unlimited=True)
    seen = FillSink()
    venue.set_listener(seen)
    order = _order("0.02")
    with pytest.raises(AmbiguousVenueError, match="receipt of another transaction") as exc:
        await venue.submit(order)
    (swap,) = [r for r in store.rows.values() if r.kind == "swap"]
    assert swap.tx_hash in str(exc.value) and first.venue_order_id in str(exc.value)
    assert seen.fills == []  # neither the old swap's amounts nor its hash booked for this order
    assert swap.status == "sent"  # still open: an honest answer later resolves it
    hostile.rewrites.clear()
    resolved = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(swap.tx_hash, Decimal("0.02"))]
    await venue.close()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gasUsed", hex(2**200), "gasUsed=.* the signed gas limit is"),
        ("effectiveGasPrice", hex(10**40), "effectiveGasPrice=.* the signed cap is"),
        ("status", "0x7", "status=7, not 0 or 1"),
        ("gasUsed", "0xzz", "malformed receipt"),
    ],
)
async def test_a_receipt_with_gas_the_signed_transaction_cannot_pay_books_no_fee(
    chain: ChainThread, hostile: HostileServer, field: str, value: str, message: str
) -> None:
    def absurd(params: list[Any], result: Any) -> Any:
        return {**result, field: value} if isinstance(result, dict) else result

    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(_order("0.01"))  # the approval, if one is needed, before the lies
    seen = FillSink()
    venue.set_listener(seen)
    hostile.rewrites["eth_getTransactionReceipt"] = absurd
    order = _order("0.01")
    with pytest.raises(AmbiguousVenueError, match=message):
        await venue.submit(order)
    assert seen.fills == []
    hostile.rewrites.clear()
    resolved = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED
    (fill,) = seen.fills
    assert Decimal(0) < fill.fee < Decimal("0.01")  # what the chain charged, in ETH
    await venue.close()


async def test_a_chain_id_that_changed_after_start_refuses_the_swap_before_signing(
    chain: ChainThread, hostile: HostileServer
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store)
    hostile.rewrites["eth_chainId"] = lambda params, result: hex(int(result, 16) + 4)
    with pytest.raises(DefinitiveVenueError, match="eth_chainId") as exc:
        await venue.submit(_order())
    assert exc.value.code == "CHAIN_ID" and store.rows == {}
    await venue.close()


def _book_of(seen: FillSink, cid: str) -> list[tuple[str, Decimal]]:
    return [(f.trade_id, f.amount) for f in seen.fills if f.client_order_id == cid]


async def test_a_swap_reorged_out_before_its_confirmations_is_sent_again_and_booked_once(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store, approve_unlimited=True, confirmations=3,
                                  receipt_timeout_s=0.3)  # fmt: skip
    seen = FillSink()
    venue.set_listener(seen)
    warm = _order("0.01")  # the approval, and a swap that waits for its confirmations
    assert (await venue.submit(warm)).status is OrderStatus.ACCEPTED
    chain.rpc("evm_mine", "0x2")
    assert (await venue.fetch_order(warm.client_order_id, "WETH/USD")).status.is_open is False
    weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    balances_before = {b.asset: b.free for b in await venue.fetch_balances()}
    snapshot = chain.rpc("evm_snapshot")["result"]

    order = _order("0.1")
    report = await venue.submit(order)  # mined in one block: 1 confirmation of 3
    assert report.status is OrderStatus.ACCEPTED and _book_of(seen, order.client_order_id) == []
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    # balances are read at the last confirmed block: the unconfirmed swap is not in them yet
    assert {b.asset: b.free for b in await venue.fetch_balances()} == balances_before

    chain.rpc("evm_revert", snapshot)  # the block holding the swap is reorged out
    chain.mine()
    again = await venue.fetch_order(order.client_order_id, "WETH/USD")  # the same bytes resent
    assert again is not None and again.status is OrderStatus.ACCEPTED
    assert _book_of(seen, order.client_order_id) == []
    chain.rpc("evm_mine", "0x2")
    done = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED
    assert _book_of(seen, order.client_order_id) == [(swap.tx_hash, Decimal("0.1"))]
    weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17  # swapped once
    await venue.close()


@pytest.mark.parametrize("answer", ["banana", ["0x1"], hex(2**300), "0x0"])
async def test_a_chain_id_that_is_no_chain_id_refuses_to_connect_in_words(
    chain: ChainThread, hostile: HostileServer, answer: Any
) -> None:
    hostile.rewrites["eth_chainId"] = lambda params, result: answer
    with pytest.raises(DefinitiveVenueError, match="eth_chainId") as exc:
        await connected_venue(_through(chain.deployment, hostile))
    assert exc.value.code == "RPC_ANSWER" and "http://127.0.0.1:" in str(exc.value)


def _block_at_2_256(params: list[Any], result: Any) -> Any:
    return {**result, "timestamp": hex(2**256)} if isinstance(result, dict) else result


def _reserves_garbage(params: list[Any], result: Any) -> Any:
    return "0x" + "ff" * 96


def _base_fee_text(params: list[Any], result: Any) -> Any:
    return {**result, "baseFeePerGas": "zz"} if isinstance(result, dict) else result


@pytest.mark.parametrize(
    ("method", "rewrite"),
    [
        ("eth_getBlockByNumber", _block_at_2_256),
        ("eth_call", _reserves_garbage),
        ("eth_getBlockByNumber", _base_fee_text),
    ],
)
async def test_an_unreadable_answer_before_the_swap_is_sent_rejects_the_order_in_words(
    chain: ChainThread, hostile: HostileServer, method: str, rewrite: Rewrite
) -> None:
    # Before: the web3 error escaped submit, the API answered 500 and the order stayed
    # submitted with nothing sent.
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store)
    hostile.rewrites[method] = rewrite
    with pytest.raises(DefinitiveVenueError, match="the RPC's answer could not be read") as exc:
        await venue.submit(_order("0.01"))
    assert exc.value.code == "RPC_ANSWER"
    assert not [r for r in store.rows.values() if r.kind == "swap"]
    hostile.rewrites.clear()
    await venue.close()


@pytest.mark.parametrize("answer", ["zz", None])
async def test_balances_and_order_lookups_the_rpc_cannot_answer_are_unanswered_not_crashes(
    chain: ChainThread, hostile: HostileServer, answer: Any
) -> None:
    # Before: the balance sync logged a traceback each pass and an order lookup raised web3's
    # own error past the reconciliation, which only retries venue errors.
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store)
    order = _order("0.01")
    await venue.submit(order)
    hostile.rewrites["eth_blockNumber"] = lambda params, result: answer
    hostile.rewrites["eth_getTransactionReceipt"] = lambda params, result: {"blockNumber": []}
    with pytest.raises(AmbiguousVenueError, match="balances not read"):
        await venue.fetch_balances()
    with pytest.raises(AmbiguousVenueError):
        await venue.fetch_order(order.client_order_id, "WETH/USD")
    hostile.rewrites.clear()
    assert await venue.fetch_balances()
    await venue.close()

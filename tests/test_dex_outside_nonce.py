"""A swap's nonce as the chain knows it: judged by the address that signed it (the configured
wallet may have changed since), and taken by a transaction signed outside the node (another
tool on the same wallet speeding it up, or replacing it with something else)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from test_dex_hostile_rpc import _through, serving_hostile
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.venues.uniswap_v2 import abi, crashpoints
from tradeguard.venues.uniswap_v2.rpc import TxLookup
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore, TxRecord
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue
from tradeguard.venues.uniswap_v2.waiting import unsigned_tx


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _owner_key(chain: ChainThread) -> str:
    """The key of the chain's first account: it deployed everything, so its nonce is high."""
    return str(chain.chain.tester.backend.account_keys[0])


async def _pending_swap(
    chain: ChainThread, cid: str, store: MemoryTxStore, **overrides: Any
) -> tuple[UniswapV2Venue, TxRecord, str]:
    """A venue on the demo wallet whose swap for `cid` waits in the pool (automine is left
    off: the caller turns it back on), and a snapshot of the chain from before the swap."""
    venue = await connected_venue(chain.deployment, store, receipt_timeout_s=0.2,
                                  approve_unlimited=True, **overrides)  # fmt: skip
    await venue.submit(dex_order(f"{cid}-warm", "0.01"))  # the approval, out of the way
    snapshot = str(chain.rpc("evm_snapshot")["result"])
    chain.automine(False)
    assert (await venue.submit(dex_order(cid))).status is OrderStatus.ACCEPTED
    (swap,) = store.for_order("dex", cid)
    return venue, swap, snapshot


async def _journaled_not_sent(
    chain: ChainThread, cid: str, store: MemoryTxStore, tmp_path: Path, monkeypatch: Any
) -> TxRecord:
    """A swap for `cid` signed and journaled by the demo wallet, the process stopped before
    its broadcast (the swap never reaches the node)."""
    venue = await connected_venue(chain.deployment, store, approve_unlimited=True)
    await venue.submit(dex_order(f"{cid}-warm", "0.01"))  # the approval, out of the way
    paused = tmp_path / "paused"
    monkeypatch.setenv(crashpoints.BEFORE_BROADCAST, str(paused))
    task = asyncio.ensure_future(venue.submit(dex_order(cid)))
    while not paused.exists() and not task.done():
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    monkeypatch.delenv(crashpoints.BEFORE_BROADCAST)
    await venue.close()
    (swap,) = store.for_order("dex", cid)
    assert swap.tx_hash == paused.read_text() and swap.status == "signed"
    return swap


async def test_a_swap_from_the_wallet_before_a_change_is_judged_by_its_own_nonce(
    chain: ChainThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap was signed by the old wallet and never broadcast (the process died); its
    nonce is still unused on that address. A node restarted on another wallet (whose own nonce
    is far past it) broadcasts the same bytes again instead of calling it dropped."""
    d = chain.deployment
    store = MemoryTxStore()
    swap = await _journaled_not_sent(chain, "moved-1", store, tmp_path, monkeypatch)
    new = await connected_venue(replace(d, wallet_private_key=_owner_key(chain)), store)
    assert new.address != swap.sender
    assert await new.chain.nonce(new.address, pending=False) > swap.nonce
    weth_before = await new.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    seen = FillSink()
    new.set_listener(seen)
    again = await new.fetch_order("moved-1", "WETH/USD")  # the same bytes, sent again
    assert again is not None and again.status is OrderStatus.ACCEPTED, again
    done = await new.fetch_order("moved-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED, done
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(swap.tx_hash, Decimal("0.1"))]
    weth_after = await new.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17
    await new.close()


def _sign_outside(chain: ChainThread, tx: dict[str, Any]) -> str:
    """Sign `tx` with the demo wallet's key, as another tool would, and send it; its hash."""
    signed = Account.from_key(chain.deployment.wallet_private_key).sign_transaction(tx)
    sent = chain.rpc("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
    assert "result" in sent, sent
    return "0x" + bytes(signed.hash).hex()


async def test_a_pending_swap_of_the_wallet_before_a_change_is_never_replaced_by_the_new_one(
    chain: ChainThread,
) -> None:
    """A swap of the old wallet still waits in the pool: the new wallet's key cannot replace
    it (its nonce is the old address's), so a stuck one is left to mine and a cancel is
    refused in words; the swap is booked once it mines."""
    d = chain.deployment
    store = MemoryTxStore()
    old = await connected_venue(d, store, receipt_timeout_s=0.2, approve_unlimited=True)
    await old.submit(dex_order("moved-2-warm", "0.01"))
    chain.automine(False)
    try:
        assert (await old.submit(dex_order("moved-2"))).status is OrderStatus.ACCEPTED
        await old.close()
        new = await connected_venue(replace(d, wallet_private_key=_owner_key(chain)), store,
                                    stuck_after_s=0.01)  # fmt: skip
        stuck = await new.fetch_order("moved-2", "WETH/USD")  # past stuck_after_s: left alone
        assert stuck is not None and stuck.status is OrderStatus.ACCEPTED, stuck
        with pytest.raises(DefinitiveVenueError, match="signed by") as refused:
            await new.cancel(dex_order("moved-2"))
        assert refused.value.code == "WALLET_CHANGED"
        (swap,) = store.for_order("dex", "moved-2")  # nothing re-signed, nothing replaced
        assert swap.status == "sent"
    finally:
        chain.automine(True)
    chain.mine()
    done = await new.fetch_order("moved-2", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED, done
    await new.close()


def _faster(swap: TxRecord, **changes: Any) -> dict[str, Any]:
    """`swap`'s transaction (or with `changes`) with its fees doubled: a node takes it as the
    replacement of its nonce."""
    tx = {k: v for k, v in unsigned_tx(swap).items() if k != "from"}
    fee, tip = 2 * tx["maxFeePerGas"], 2 * tx["maxPriorityFeePerGas"]
    return {**tx, "maxFeePerGas": fee, "maxPriorityFeePerGas": tip, **changes}


async def test_a_swap_sped_up_outside_the_node_is_booked_from_the_replacement_once(
    chain: ChainThread,
) -> None:
    """Another tool on the wallet re-signs the pending swap with a higher fee (its calldata
    unchanged): our hash never mines, but the replacement made the very swap, so the order is
    filled from the replacement's receipt (its tokens and gas), once, and the balances agree."""
    d = chain.deployment
    store = MemoryTxStore()
    try:
        venue, swap, _ = await _pending_swap(chain, "sped-1", store)
        weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
        eth_before = await venue.chain.eth_balance(d.wallet_address)
        outside = _sign_outside(chain, _faster(swap))
    finally:
        chain.automine(True)
    chain.mine()
    chain.rpc("evm_mine", "0x9")  # blocks on top: the replacement is searched for back in time
    assert chain.rpc("eth_getTransactionByHash", swap.tx_hash)["result"] is None
    seen = FillSink()
    venue.set_listener(seen)
    for _ in range(2):  # the same end each time asked, booked once
        done = await venue.fetch_order("sped-1", "WETH/USD")
        assert done is not None and done.status is OrderStatus.FILLED, done
        assert done.venue_order_id == outside and done.filled == Decimal("0.1")
    (fill,) = seen.fills
    assert (fill.trade_id, fill.amount, fill.client_order_id) == (outside, Decimal("0.1"), "sped-1")
    weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17  # swapped once, by the replacement
    spent = eth_before - await venue.chain.eth_balance(d.wallet_address)
    assert Decimal(spent).scaleb(-18) == fill.fee  # the replacement's gas is the fill's fee
    assert store.open_records("dex") == []
    assert [r.tx_hash for r in store.for_order("dex", "sped-1")] == [swap.tx_hash, outside]
    await venue.close()


@pytest.mark.parametrize("what", ["transfer", "other amount"])
async def test_a_swap_replaced_outside_the_node_by_another_transaction_books_nothing(
    chain: ChainThread, what: str
) -> None:
    """Another tool on the wallet uses the pending swap's nonce for something else (a plain
    transfer, or a swap of another amount): the order's swap can never mine, so it ends
    rejected as replaced, naming the transaction that took its nonce, with nothing booked on
    it; what that transaction moved is the balance sync's to account for."""
    d = chain.deployment
    store = MemoryTxStore()
    try:
        venue, swap, _ = await _pending_swap(chain, f"taken-{what}", store)
        weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
        if what == "transfer":
            tx = _faster(swap, to=d.wallet_address, data="0x", gas=21_000)
        else:
            router = venue.chain.contract(venue.settings.router, abi.ROUTER).functions
            args = router.swapExactTokensForTokens(
                2 * 10**17, 0, [d.tokens["WETH"], d.tokens["USD"]], d.wallet_address, 2**40
            )
            tx = _faster(swap, data=args._encode_transaction_data())
        outside = _sign_outside(chain, tx)
    finally:
        chain.automine(True)
    chain.mine()
    seen = FillSink()
    venue.set_listener(seen)
    for _ in range(2):
        done = await venue.fetch_order(f"taken-{what}", "WETH/USD")
        assert done is not None and done.status is OrderStatus.REJECTED, done
        assert "replaced" in done.reason and outside in done.reason, done.reason
    assert seen.fills == []
    moved = weth_before - await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert moved == (0 if what == "transfer" else 2 * 10**17)
    assert store.open_records("dex") == []
    await venue.close()


async def test_a_replacement_not_yet_confirmed_leaves_the_order_in_flight(
    chain: ChainThread,
) -> None:
    """With `confirmations = 3` the transaction that took the nonce is judged only once its
    block has them: before, a reorg could still take it out, so the order stays in flight."""
    d = chain.deployment
    store = MemoryTxStore()
    try:
        venue, swap, _ = await _pending_swap(chain, "taken-deep", store, confirmations=3)
        outside = _sign_outside(chain, _faster(swap, to=d.wallet_address, data="0x", gas=21_000))
    finally:
        chain.automine(True)
    chain.mine()  # one confirmation of three
    early = await venue.fetch_order("taken-deep", "WETH/USD")
    assert early is not None and early.status is OrderStatus.ACCEPTED, early
    chain.rpc("evm_mine", "0x2")
    done = await venue.fetch_order("taken-deep", "WETH/USD")
    assert done is not None and done.status is OrderStatus.REJECTED, done
    assert outside in done.reason
    await venue.close()


async def test_a_held_swap_of_the_wallet_before_a_change_is_dropped_by_its_own_nonce(
    chain: ChainThread,
) -> None:
    """A swap held unbooked (the RPC answers another transaction's receipt for it) whose nonce
    a transaction outside the journal used: judged by the old address's nonce, past it, the
    order ends rejected as replaced by that transaction, though the wallet now configured (a
    fresh one, nonce 0) has a nonce below the swap's."""
    d = chain.deployment
    hostile = serving_hostile(chain)
    server = next(hostile)
    try:
        store = MemoryTxStore()
        old = await connected_venue(_through(d, server), store, receipt_timeout_s=0.2,
                                    approve_unlimited=True)  # fmt: skip
        warm = await old.submit(dex_order("moved-held-warm", "0.01"))
        receipt = chain.rpc("eth_getTransactionReceipt", warm.venue_order_id)["result"]
        server.rewrites["eth_getTransactionReceipt"] = lambda p, r: r if r else receipt
        chain.automine(False)
        try:
            with pytest.raises(AmbiguousVenueError, match="receipt of another transaction"):
                await old.submit(dex_order("moved-held-1"))
            (swap,) = store.for_order("dex", "moved-held-1")
            outside = _sign_outside(chain, _faster(swap, to=d.wallet_address, data="0x",
                                                   gas=21_000))  # fmt: skip
        finally:
            chain.automine(True)
        chain.mine()
        await old.close()
        fresh = "0x" + "11" * 32
        new = await connected_venue(_through(replace(d, wallet_private_key=fresh), server),
                                    store, receipt_timeout_s=0.2)  # fmt: skip
        assert await new.chain.nonce(new.address, pending=False) <= swap.nonce
        done = await new.fetch_order("moved-held-1", "WETH/USD")
        assert done is not None and done.status is OrderStatus.REJECTED, done
        assert "replaced" in done.reason and outside in done.reason, done.reason
        assert new.held.listed() == []
        await new.close()
    finally:
        next(hostile, None)


async def test_its_own_swap_mined_after_an_unknown_lookup_is_booked_as_its_own(
    chain: ChainThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The node answers the swap unknown, and the swap mines just before the nonce is read:
    the transaction that used the nonce is the journaled one itself, booked as the node's own
    (its signed bytes and journal record kept), never taken for one signed outside."""
    store = MemoryTxStore()
    try:
        venue, swap, _ = await _pending_swap(chain, "own-race", store)
    finally:
        chain.automine(True)
    chain.mine()  # the swap mines
    looked = venue.chain.lookup
    late = {swap.tx_hash}  # the node's answer from before the swap's block came

    async def lookup(tx_hash: str) -> TxLookup:
        if tx_hash in late:
            late.discard(tx_hash)
            return TxLookup("unknown")
        return await looked(tx_hash)

    monkeypatch.setattr(venue.chain, "lookup", lookup)
    done = await venue.fetch_order("own-race", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED, done
    assert done.venue_order_id == swap.tx_hash and not late
    (record,) = store.for_order("dex", "own-race")
    assert record.status == "mined" and record.raw_tx == swap.raw_tx
    assert "signed_outside" not in record.detail and record.detail["tx"] == swap.detail["tx"]
    assert "signed outside" not in caplog.text
    await venue.close()


async def test_a_held_swap_sped_up_outside_the_node_is_booked_from_the_replacement(
    chain: ChainThread,
) -> None:
    """A swap held unbooked (the RPC answers another transaction's receipt for it) that another
    tool on the wallet re-signed with a higher fee: the replacement made the very swap, so the
    order is filled from its receipt, not dropped with the swap's tokens gone unbooked."""
    d = chain.deployment
    hostile = serving_hostile(chain)
    server = next(hostile)
    try:
        store = MemoryTxStore()
        venue = await connected_venue(_through(d, server), store, receipt_timeout_s=0.2,
                                      approve_unlimited=True)  # fmt: skip
        warm = await venue.submit(dex_order("held-sped-warm", "0.01"))
        receipt = chain.rpc("eth_getTransactionReceipt", warm.venue_order_id)["result"]
        server.rewrites["eth_getTransactionReceipt"] = lambda p, r: r if r else receipt
        chain.automine(False)
        try:
            with pytest.raises(AmbiguousVenueError, match="receipt of another transaction"):
                await venue.submit(dex_order("held-sped-1"))
            (swap,) = store.for_order("dex", "held-sped-1")
            outside = _sign_outside(chain, _faster(swap))
        finally:
            chain.automine(True)
        chain.mine()
        seen = FillSink()
        venue.set_listener(seen)
        done = await venue.fetch_order("held-sped-1", "WETH/USD")
        assert done is not None and done.status is OrderStatus.FILLED, done
        assert done.venue_order_id == outside and done.filled == Decimal("0.1")
        assert [f.trade_id for f in seen.fills] == [outside] and venue.held.listed() == []
        await venue.close()
    finally:
        next(hostile, None)


async def test_a_search_for_the_taken_nonce_not_answered_leaves_the_swap_in_the_balance_reads_sight(
    chain: ChainThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node stops answering while the transaction that took the swap's nonce is searched
    for: the order stays in flight with its swap journaled open, so the next balance read books
    the replacement that made the very swap before it reads balances holding it."""
    store = MemoryTxStore()
    try:
        venue, swap, _ = await _pending_swap(chain, "sped-outage", store)
        outside = _sign_outside(chain, _faster(swap))
    finally:
        chain.automine(True)
    chain.mine()
    searched = venue.chain.tx_by_nonce
    calls: list[int] = []

    async def unanswered(sender: str, nonce: int) -> Any:
        calls.append(nonce)
        if len(calls) == 1:
            raise ConnectionError("the node did not answer")
        return await searched(sender, nonce)

    monkeypatch.setattr(venue.chain, "tx_by_nonce", unanswered)
    with pytest.raises(AmbiguousVenueError):
        await venue.fetch_order("sped-outage", "WETH/USD")
    assert [r.tx_hash for r in store.open_records("dex")] == [swap.tx_hash]
    seen = FillSink()
    venue.set_listener(seen)
    await venue.fetch_balances()
    assert [f.trade_id for f in seen.fills] == [outside] and calls == [swap.nonce] * 2
    await venue.close()


async def test_a_balance_read_books_a_swap_sped_up_outside_the_node_before_reading(
    chain: ChainThread,
) -> None:
    """The replacement that made the very swap mined before anyone asked for the order: the
    balance read books it first, so balances never show the swap without its fill."""
    d = chain.deployment
    store = MemoryTxStore()
    try:
        venue, swap, _ = await _pending_swap(chain, "sped-read", store)
        weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
        outside = _sign_outside(chain, _faster(swap))
    finally:
        chain.automine(True)
    chain.mine()
    seen = FillSink()
    venue.set_listener(seen)
    balances = {b.asset: b.free for b in await venue.fetch_balances()}
    assert balances["WETH"] == Decimal(weth_before - 10**17).scaleb(-18)
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(outside, Decimal("0.1"))]
    assert store.open_records("dex") == []
    await venue.close()

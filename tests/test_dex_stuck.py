"""A swap stuck in the mempool: replaced with a bumped fee under the cap, or cancelled by a
zero-value self-transfer with its nonce; either way the chain moves the order's amount at most
once and the ledger gets what was mined."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from test_dex_hostile_rpc import _through, serving_hostile
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


async def _warmed(
    chain: ChainThread, warm_cid: str, **overrides: Any
) -> tuple[UniswapV2Venue, MemoryTxStore, FillSink, int]:
    """A venue (0.2 s receipt wait, unlimited approval, `overrides`) that has sent its approval
    with a small swap, a listener keeping its fills, and the wallet's WETH after them."""
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store, receipt_timeout_s=0.2, approve_unlimited=True,
                                  **overrides)  # fmt: skip
    await venue.submit(dex_order(warm_cid, "0.01"))  # the approval
    seen = FillSink()
    venue.set_listener(seen)
    weth = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    return venue, store, seen, weth


async def test_a_stuck_swap_is_replaced_with_a_bumped_fee_and_swaps_once(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    venue, store, seen, weth_before = await _warmed(
        chain, "stuck-warm", stuck_after_s=0.01, fee_bump_pct=Decimal(20)
    )
    chain.automine(False)
    try:
        report = await venue.submit(dex_order("stuck-1"))  # not mined: re-signed once stuck
        assert report.status is OrderStatus.ACCEPTED
        again = await venue.fetch_order("stuck-1", "WETH/USD")
        assert again is not None and again.status is OrderStatus.ACCEPTED
    finally:
        chain.automine(True)
    swaps = sorted(store.for_order("dex", "stuck-1"), key=lambda r: r.created_ts)
    assert len(swaps) >= 2 and len({r.nonce for r in swaps}) == 1  # one nonce, fees raised
    for old, new in itertools.pairwise(swaps):
        assert new.max_fee_per_gas >= old.max_fee_per_gas * Decimal("1.2")
        assert old.status == "replaced"
    chain.mine()
    done = await venue.fetch_order("stuck-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED
    assert done.venue_order_id == swaps[-1].tx_hash
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(swaps[-1].tx_hash, Decimal("0.1"))]
    weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17  # one swap, not one per copy
    await venue.close()


async def test_a_pending_swap_is_cancelled_by_a_self_transfer_with_its_nonce(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    venue, store, seen, weth_before = await _warmed(chain, "cancel-warm")
    eth_before = await venue.chain.eth_balance(d.wallet_address)
    order = dex_order("cancel-1")
    chain.automine(False)
    try:
        assert (await venue.submit(order)).status is OrderStatus.ACCEPTED
        await venue.cancel(order)
    finally:
        chain.automine(True)
    chain.mine()
    done = await venue.fetch_order("cancel-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.CANCELLED
    records = store.for_order("dex", "cancel-1")
    (cancel,) = [r for r in records if r.kind == "cancel"]
    (swap,) = [r for r in records if r.kind == "swap"]
    assert cancel.nonce == swap.nonce and swap.status == "replaced"
    assert await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address) == weth_before
    (gas,) = seen.fills  # the self-transfer's gas, booked as a fee-only fill
    assert gas.trade_id == cancel.tx_hash and gas.amount == 0 and gas.fee > 0
    spent = eth_before - await venue.chain.eth_balance(d.wallet_address)
    assert Decimal(spent).scaleb(-18) == gas.fee
    await venue.close()


async def test_a_stuck_swap_whose_bump_passes_the_cap_is_cancelled_under_the_cap(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    warm = await connected_venue(d, store, approve_unlimited=True)
    await warm.submit(dex_order("capped-warm", "0.01"))
    base = await warm.chain.base_fee()
    await warm.close()
    tip = 10**9
    first = 2 * base + tip  # the swap's max fee per gas
    cap = first * 3 // 2  # a 10 % bump fits under it, a 200 % one does not
    venue = await connected_venue(
        d, store, receipt_timeout_s=0.2, approve_unlimited=True, stuck_after_s=0.01,
        fee_bump_pct=Decimal(200), priority_fee_gwei=Decimal(1),
        max_fee_per_gas_gwei=Decimal(cap).scaleb(-9),
    )  # fmt: skip
    weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    chain.automine(False)
    try:
        report = await venue.submit(dex_order("capped-1"))
        assert report.status is OrderStatus.ACCEPTED
    finally:
        chain.automine(True)
    chain.mine()
    done = await venue.fetch_order("capped-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.CANCELLED
    (cancel,) = [r for r in store.for_order("dex", "capped-1") if r.kind == "cancel"]
    assert first < cancel.max_fee_per_gas <= cap
    assert await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address) == weth_before
    await venue.close()


async def test_a_sent_swap_that_cannot_be_replaced_under_the_cap_is_in_flight_not_rejected(
    chain: ChainThread,
) -> None:
    """Once the swap is broadcast, a fee bump refused under the cap must not reject the order:
    the swap is still pending and may mine, so the order stays in flight and is booked once."""
    d = chain.deployment
    store = MemoryTxStore()
    warm = await connected_venue(d, store, approve_unlimited=True)
    await warm.submit(dex_order("nobump-warm", "0.01"))
    base = await warm.chain.base_fee()
    await warm.close()
    cap, tip = 4 * base, 2 * base  # the swap's max fee is the cap: no raise fits under it
    venue = await connected_venue(
        d, store, receipt_timeout_s=0.2, approve_unlimited=True, stuck_after_s=0.01,
        priority_fee_gwei=Decimal(tip).scaleb(-9), max_fee_per_gas_gwei=Decimal(cap).scaleb(-9),
    )  # fmt: skip
    seen = FillSink()
    venue.set_listener(seen)
    weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    chain.automine(False)
    try:
        # a definitive refusal here would have the engine book the order as rejected
        with pytest.raises(AmbiguousVenueError) as refused:
            await venue.submit(dex_order("nobump-1"))
        assert refused.value.code == "FEE_CAP" and "still pending" in str(refused.value)
    finally:
        chain.automine(True)
    (swap,) = store.for_order("dex", "nobump-1")
    assert swap.status == "sent"
    chain.mine()
    done = await venue.fetch_order("nobump-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(swap.tx_hash, Decimal("0.1"))]
    weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17
    await venue.close()


async def test_the_original_mined_instead_of_its_replacement_is_booked_by_a_balance_read(
    chain: ChainThread,
) -> None:
    """A fee bump races its original: when the original is the one mined, the balances read at
    or after its block hold its fill, and no copy is left open."""
    d = chain.deployment
    venue, store, seen, weth_before = await _warmed(
        chain, "race-warm", stuck_after_s=0.01, fee_bump_pct=Decimal(20)
    )
    snapshot = chain.rpc("evm_snapshot")["result"]
    chain.automine(False)
    try:
        assert (await venue.submit(dex_order("race-1"))).status is OrderStatus.ACCEPTED
        original, bumped = sorted(store.for_order("dex", "race-1"), key=lambda r: r.created_ts)
        assert (original.status, bumped.status) == ("replaced", "sent")
        chain.rpc("evm_revert", snapshot)  # the bump never reached the block producer ...
        chain.rpc("eth_sendRawTransaction", original.raw_tx)  # ... the original did
    finally:
        chain.automine(True)
    chain.mine()
    weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17
    balances = {b.asset: b.free for b in await venue.fetch_balances()}
    assert balances["WETH"] == Decimal(weth_after).scaleb(-18)
    # the balances show the swap: its fill is booked with them, from the original's receipt
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(original.tx_hash, Decimal("0.1"))]
    done = await venue.fetch_order("race-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED
    assert done.venue_order_id == original.tx_hash
    assert [r.tx_hash for r in store.open_records("dex")] == []  # the bump is not left open
    await venue.close()


async def test_a_held_swap_whose_nonce_another_transaction_used_ends_rejected_as_dropped(
    chain: ChainThread,
) -> None:
    """A swap held unbooked (the RPC answers another transaction's receipt for it) whose
    nonce a transaction outside the journal then used can never mine: the chain knows none of
    the order's copies and the wallet's nonce is past them, so the order ends rejected as
    dropped, with nothing booked, instead of being held for good."""
    d = chain.deployment
    hostile = serving_hostile(chain)
    server = next(hostile)
    try:
        store = MemoryTxStore()
        venue = await connected_venue(_through(d, server), store, receipt_timeout_s=0.2,
                                      approve_unlimited=True)  # fmt: skip
        warm = await venue.submit(dex_order("dropheld-warm", "0.01"))
        seen = FillSink()
        venue.set_listener(seen)
        old = chain.rpc("eth_getTransactionReceipt", warm.venue_order_id)["result"]
        # a receipt for every hash with none: the pending swap looks mined, with a receipt
        # that is not its own
        server.rewrites["eth_getTransactionReceipt"] = lambda p, r: r if r else old
        weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
        chain.automine(False)
        try:
            with pytest.raises(AmbiguousVenueError, match="receipt of another transaction"):
                await venue.submit(dex_order("dropheld-1"))
            (swap,) = store.for_order("dex", "dropheld-1")
            with pytest.raises(AmbiguousVenueError):  # looked up again: held
                await venue.fetch_order("dropheld-1", "WETH/USD")
            assert [x["tx_hash"] for x in venue.held.listed()] == [swap.tx_hash]
            # a transfer outside the journal takes the swap's nonce, with a higher fee
            own = Account.from_key(d.wallet_private_key)
            other = own.sign_transaction({
                "to": own.address, "value": 0, "gas": 21_000, "nonce": swap.nonce,
                "chainId": 131277322940537, "maxFeePerGas": 4 * swap.max_fee_per_gas,
                "maxPriorityFeePerGas": 4 * swap.max_fee_per_gas,
            })  # fmt: skip
            chain.rpc("eth_sendRawTransaction", "0x" + bytes(other.raw_transaction).hex())
        finally:
            chain.automine(True)
        chain.mine()
        assert chain.rpc("eth_getTransactionByHash", swap.tx_hash)["result"] is None
        for _ in range(2):  # the same end each time asked
            done = await venue.fetch_order("dropheld-1", "WETH/USD")
            assert done is not None and done.status is OrderStatus.REJECTED, done
            assert "replaced" in done.reason and "0x" + bytes(other.hash).hex() in done.reason
        assert venue.held.listed() == [] and store.open_records("dex") == []
        assert seen.fills == []  # nothing of the order moved: nothing booked
        weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
        assert weth_after == weth_before
        await venue.close()
    finally:
        next(hostile, None)

"""Journaled transactions survive a restart: no second swap, nonces kept, lost bytes resent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


async def test_a_restart_after_broadcast_finds_the_swap_and_never_signs_another(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    first = await connected_venue(d, store, receipt_timeout_s=0.2, approve_unlimited=True)
    await first.submit(dex_order("crash-1", "0.01"))  # the approval, mined before the crash
    weth_before = await first.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    chain.automine(False)
    try:
        report = await first.submit(dex_order("crash-2"))
        assert report.status is OrderStatus.ACCEPTED  # broadcast, no receipt yet
        await first.close()
        signed = dict(store.rows)

        second = await connected_venue(d, store, approve_unlimited=True)  # after the restart
        again = await second.submit(dex_order("crash-2"))
        assert again.status is OrderStatus.ACCEPTED
        assert store.rows.keys() == signed.keys()  # nothing new was signed
    finally:
        chain.automine(True)
    chain.mine()
    resolved = await second.fetch_order("crash-2", "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED
    weth_after = await second.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17  # one swap of 0.1, not two
    await second.close()


async def test_bytes_journaled_but_never_broadcast_are_sent_once_after_a_restart(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store)
    await venue.submit(dex_order("lost-0", "0.01"))
    sender = venue.sender
    assert sender is not None

    async def no_network(record: object) -> object:  # the process died right after saving
        raise SystemExit

    sender.broadcast = no_network  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await venue.submit(dex_order("lost-1"))
    (journaled,) = [r for r in store.rows.values() if r.client_order_id == "lost-1"]
    assert journaled.status == "signed"
    assert (await venue.chain.lookup(journaled.tx_hash)).state == "unknown"
    await venue.close()

    restarted = await connected_venue(d, store)
    report = await restarted.fetch_order("lost-1", "WETH/USD")
    assert report is not None
    assert report.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED)
    lookup = await restarted.chain.lookup(journaled.tx_hash)
    assert lookup.state == "mined"  # the very bytes journaled, not a new signature
    await restarted.close()


async def test_the_nonce_manager_keeps_journaled_nonces_across_restarts(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    chain.automine(False)
    try:
        first = await connected_venue(d, store)
        await first.submit(dex_order("nonce-1", "0.01"))  # approval pending: no receipt
    except Exception:
        pass
    finally:
        chain.automine(True)
    journaled = max(r.nonce for r in store.rows.values())
    second = await connected_venue(d, store)
    assert second.sender is not None
    assert await second.sender.next_nonce() >= journaled + 1
    await first.close()
    await second.close()


async def test_gas_of_an_approval_mined_after_the_process_stopped_waiting_is_booked_once(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    first = await connected_venue(d, store, receipt_timeout_s=0.2)
    order = dex_order("approve-gas-1", "5")
    order.symbol = "TKA/USD"
    have = await first.chain.allowance(d.tokens["TKA"], d.wallet_address, d.router)
    assert have < 5 * 10**18  # an approval is needed first
    chain.automine(False)
    try:
        with pytest.raises(DefinitiveVenueError, match="not mined within"):
            await first.submit(order)  # broadcast; the node stops waiting (or dies) here
        await first.close()
    finally:
        chain.automine(True)
    chain.mine()
    [approval] = [r for r in store.rows.values() if r.kind == "approve"]
    receipt = chain.rpc("eth_getTransactionReceipt", approval.tx_hash)["result"]
    spent = Decimal(int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16))

    second = await connected_venue(d, store)  # after the restart
    seen = FillSink()
    second.set_listener(seen)
    assert await second.fetch_order("approve-gas-1", "TKA/USD") is None  # no swap was sent
    await second.fetch_fills("TKA/USD")

    [gas] = seen.fills
    assert (gas.trade_id, gas.client_order_id, gas.amount) == (
        approval.tx_hash,
        "approve-gas-1",
        Decimal(0),
    )
    assert (gas.fee, gas.fee_asset) == (spent.scaleb(-18), "ETH")
    assert store.rows[approval.tx_hash].status == "mined"
    await second.close()


async def _read_as_the_next_block_lands(chain: ChainThread, venue: UniswapV2Venue) -> list[Balance]:
    """The venue's balances, read with the next block mined just after the read fixes its
    block."""
    fixed = venue.chain.block_number

    async def then_a_block_lands() -> int:
        block = await fixed()
        chain.mine()
        return block

    venue.chain.block_number = then_a_block_lands  # type: ignore[method-assign]
    try:
        return await venue.fetch_balances()
    finally:
        venue.chain.block_number = fixed  # type: ignore[method-assign]


async def test_a_balance_read_books_no_swap_mined_after_the_block_it_reads_at(
    chain: ChainThread,
) -> None:
    """On a busy chain a block lands between the read fixing its block and its receipt
    lookups: a swap mined in that later block must not be booked by this read, whose balances
    (at the earlier block) do not hold it yet; ledger and balances would differ by the swap."""
    d = chain.deployment
    venue = await connected_venue(d, MemoryTxStore(), receipt_timeout_s=0.2, approve_unlimited=True)
    await venue.submit(dex_order("fixed-1", "0.01"))  # the approval, mined
    weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    chain.automine(False)
    try:
        report = await venue.submit(dex_order("fixed-2"))
        assert report.status is OrderStatus.ACCEPTED  # in the mempool
        # the next block, holding the swap, arrives just after the read fixes its block
        balances = await _read_as_the_next_block_lands(chain, venue)
    finally:
        chain.automine(True)
    weth = next(b.free for b in balances if b.asset == "WETH")
    booked = report.venue_order_id in venue.fills
    assert weth == (weth_before - 10**17 if booked else weth_before) / Decimal(10**18), booked
    # the next read fixes a block holding the swap: it is booked then, once
    balances = await venue.fetch_balances()
    weth = next(b.free for b in balances if b.asset == "WETH")
    assert report.venue_order_id in venue.fills
    assert weth == (weth_before - 10**17) / Decimal(10**18)
    await venue.close()


async def test_a_balance_read_books_no_approval_gas_mined_after_the_block_it_reads_at(
    chain: ChainThread,
) -> None:
    """The gas of an approval nobody waited for, mined in a block after the one a balance read
    fixed, is left for the next read: booked now, the ETH read at the earlier block lacks it."""
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store, receipt_timeout_s=0.2)
    have = await venue.chain.allowance(d.tokens["TKA"], d.wallet_address, d.router)
    order = dex_order("fixed-approve-1", str(have // 10**18 + 1))
    order.symbol = "TKA/USD"
    eth_before = await venue.chain.eth_balance(d.wallet_address)
    chain.automine(False)
    try:
        with pytest.raises(DefinitiveVenueError, match="not mined within"):
            await venue.submit(order)  # the approval is broadcast, its receipt not awaited
        # the next block, holding the approval, arrives just after the read fixes its block
        balances = await _read_as_the_next_block_lands(chain, venue)
    finally:
        chain.automine(True)
    [approval] = [r for r in store.rows.values() if r.kind == "approve"]
    receipt = chain.rpc("eth_getTransactionReceipt", approval.tx_hash)["result"]
    spent = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    eth = next(b.free for b in balances if b.asset == "ETH")
    booked = approval.tx_hash in venue.fills
    assert eth == Decimal(eth_before - spent if booked else eth_before).scaleb(-18), booked
    balances = await venue.fetch_balances()  # the next read: the gas booked, and in the ETH
    eth = next(b.free for b in balances if b.asset == "ETH")
    assert approval.tx_hash in venue.fills
    assert eth == Decimal(eth_before - spent).scaleb(-18)
    await venue.close()


async def test_an_approval_journaled_but_never_broadcast_leaves_no_nonce_gap_after_a_restart(
    chain: ChainThread,
) -> None:
    """Killed between journaling an approval and broadcasting it: its nonce is journaled, the
    chain never heard of it. After the restart the next transaction must not take the nonce
    after it (a gap no node mines past): the journaled bytes go out first."""
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store)
    sender = venue.sender
    assert sender is not None
    have = await venue.chain.allowance(d.tokens["TKA"], d.wallet_address, d.router)
    order = dex_order("gap-1", str(have // 10**18 + 1))
    order.symbol = "TKA/USD"

    async def no_network(record: object) -> object:  # the process died right after saving
        raise SystemExit

    sender.broadcast = no_network  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await venue.submit(order)
    [approval] = [r for r in store.rows.values() if r.client_order_id == "gap-1:approve"]
    assert (await venue.chain.lookup(approval.tx_hash)).state == "unknown"
    await venue.close()

    restarted = await connected_venue(d, store)  # start-up: the balance read reconciles
    await restarted.fetch_balances()
    report = await restarted.submit(dex_order("gap-2", "0.01"))
    assert report.status is OrderStatus.FILLED, report
    assert (await restarted.chain.lookup(approval.tx_hash)).state == "mined"
    assert await restarted.chain.nonce(d.wallet_address, pending=False) == (
        max(r.nonce for r in store.rows.values()) + 1
    )  # every journaled nonce mined: no gap
    await restarted.close()

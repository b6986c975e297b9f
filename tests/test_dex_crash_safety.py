"""Journaled transactions survive a restart: no second swap, nonces kept, lost bytes resent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, running_chain
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _order(cid: str, amount: str = "0.1") -> Order:
    return Order(
        client_order_id=cid, strategy_id="t", venue="dex", symbol="WETH/USD", side=Side.SELL,
        type=OrderType.MARKET, amount=Decimal(amount), status=OrderStatus.SUBMITTED,
    )  # fmt: skip


async def test_a_restart_after_broadcast_finds_the_swap_and_never_signs_another(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    first = await connected_venue(d, store, receipt_timeout_s=0.2, approve_unlimited=True)
    await first.submit(_order("crash-1", "0.01"))  # the approval, mined before the crash
    weth_before = await first.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    chain.automine(False)
    try:
        report = await first.submit(_order("crash-2"))
        assert report.status is OrderStatus.ACCEPTED  # broadcast, no receipt yet
        await first.close()
        signed = dict(store.rows)

        second = await connected_venue(d, store, approve_unlimited=True)  # after the restart
        again = await second.submit(_order("crash-2"))
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
    await venue.submit(_order("lost-0", "0.01"))
    sender = venue.sender
    assert sender is not None

    async def no_network(record: object) -> object:  # the process died right after saving
        raise SystemExit

    sender.broadcast = no_network  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await venue.submit(_order("lost-1"))
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
        await first.submit(_order("nonce-1", "0.01"))  # approval pending: no receipt
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

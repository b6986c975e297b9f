"""A swap journaled for a market the venue no longer lists (the operator took the symbol out of
`symbols` while it was in flight, then restarted): its tokens are still configured, so its
receipt is still proved and booked, once, and the venue's balance reads go on."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.enums import OrderStatus
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


async def test_a_swap_of_a_symbol_no_longer_listed_is_booked_after_a_restart(
    chain: ChainThread,
) -> None:
    # Before: the receipt's proof looked the pair up among the listed symbols only, found
    # none, and refused the receipt for ever: the order in flight and every balance read of
    # the venue refused ("no pair of TKA/USD is configured").
    d = chain.deployment
    store = MemoryTxStore()
    first = await connected_venue(
        d, store, approve_unlimited=True, receipt_timeout_s=0.3, stuck_after_s=3600.0
    )
    await first.submit(dex_order("unlisted-warm", "0.01", symbol="TKA/USD"))  # approval
    chain.automine(False)
    try:
        report = await first.submit(dex_order("unlisted-1", "0.01", symbol="TKA/USD"))
        assert report.status is OrderStatus.ACCEPTED, report  # in flight: not mined yet
    finally:
        chain.automine(True)
    await first.close()
    chain.mine()
    second = await connected_venue(d, store, symbols=["WETH/USD"], stuck_after_s=3600.0)
    seen = FillSink()
    second.set_listener(seen)
    balances = {b.asset: b.free for b in await second.fetch_balances()}
    assert "TKA" in balances
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "unlisted-1"]
    assert swap.status == "mined"
    assert [(f.trade_id, f.amount) for f in seen.fills if f.client_order_id == "unlisted-1"] == [
        (swap.tx_hash, Decimal("0.01"))
    ]
    await second.close()

"""A node from before London answers receipts without `effectiveGasPrice`: the swap is still
booked once, with the gas the chain charged, taken from the transaction's `gasPrice`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.enums import OrderStatus
from tradeguard.venues.uniswap_v2 import amm


@pytest.fixture
def chain() -> Iterator[ChainThread]:
    chain = next(running := running_chain())
    chain.rpc("tg_setLegacyReceipts", True)
    yield chain
    next(running, None)


async def test_a_receipt_without_effective_gas_price_books_the_gas_at_the_tx_price(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    venue = await connected_venue(d)
    seen = FillSink()
    venue.set_listener(seen)
    eth_before = await venue.chain.eth_balance(d.wallet_address)
    report = await venue.submit(dex_order("legacy-1", "0.1"))
    assert report.status is OrderStatus.FILLED
    swap = next(f for f in seen.fills if f.amount > 0)
    raw = chain.rpc("eth_getTransactionReceipt", swap.trade_id)["result"]
    assert "effectiveGasPrice" not in raw  # the chain answers as an old node does
    tx = chain.rpc("eth_getTransactionByHash", swap.trade_id)["result"]
    charged = int(raw["gasUsed"], 16) * int(tx["gasPrice"], 16)
    assert charged > 0 and swap.fee == amm.from_units(charged, 18)
    assert swap.amount == Decimal("0.1") and swap.fee_asset == "ETH"
    # every fee (the approval's too) is what the chain took in ETH, to the wei
    spent = sum((f.fee for f in seen.fills), Decimal(0))
    assert amm.to_units(spent, 18) == eth_before - await venue.chain.eth_balance(d.wallet_address)
    await venue.close()

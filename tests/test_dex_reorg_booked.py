"""A swap booked at inclusion (`confirmations = 1`) that a reorg then takes out of the chain:
its fill is handed to the reconciliation as failed (its position move reversed, the balances'
difference explained), the order ends rejected, and the same bytes are never sent again."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.config import Config
from tradeguard.execution.failed_fills import FAILED_ON_CHAIN, FILL_FAILED
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, Side, TradingState
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


async def test_a_booked_swap_reorged_out_is_flagged_failed_and_never_sent_again(
    chain: ChainThread,
) -> None:
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store, approve_unlimited=True)
    await venue.submit(dex_order("reorg-warm", "0.01"))  # the approval, out of the way
    weth_before = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    snapshot = chain.rpc("evm_snapshot")["result"]
    seen = FillSink()
    venue.set_listener(seen)
    done = await venue.submit(dex_order("reorg-1"))
    assert done.status is OrderStatus.FILLED  # booked at inclusion
    (fill,) = seen.fills
    assert fill.amount == Decimal("0.1") and venue.failed_fills == {}

    chain.rpc("evm_revert", snapshot)  # the block holding the swap is reorged out
    chain.mine()
    balances = {b.asset: b.free for b in await venue.fetch_balances()}
    assert balances["WETH"] == Decimal(weth_before).scaleb(-18)  # the chain holds no swap
    assert venue.failed_fills == {fill.trade_id: fill}  # told to the reconciliation
    again = await venue.fetch_order("reorg-1", "WETH/USD")
    assert again is not None and again.status is OrderStatus.REJECTED, again
    assert "reorg" in again.reason and fill.trade_id in again.reason
    chain.mine()
    assert chain.rpc("eth_getTransactionByHash", fill.trade_id)["result"] is None  # not resent
    weth_after = await venue.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_after == weth_before
    assert store.open_records("dex") == [] and seen.fills == [fill]  # nothing booked again
    await venue.close()


def _config(tmp_path: Path) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}", "valuation_asset": "USD",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "reconcile": {"balance_sync_interval_s": 0},
        "venues": [],
        "strategies": [],
    })  # fmt: skip


async def test_the_reconciliation_takes_back_a_booked_swap_a_reorg_took_out(
    chain: ChainThread, tmp_path: Path
) -> None:
    """Through the node: the swap's fill is flagged failed, the strategy's position move is
    reversed, and the ledger takes the chain's balances as that fill's difference (no halt,
    no unexplained adjustment)."""
    d = chain.deployment
    venue = await connected_venue(d, MemoryTxStore(), approve_unlimited=True)
    node: Any = None
    try:
        await venue.submit(dex_order("reorg-node-warm", "0.01"))  # the approval
        node = TradingNode(_config(tmp_path), venues={"dex": venue})
        for inst in (await venue.load_instruments()).values():
            node.market.add_instrument(inst)
        assert (await reconcile_and_gate(node, "periodic")).ok
        ledger = {a: node.portfolio.book("dex").total(a) for a in ("WETH", "USD")}
        snapshot = chain.rpc("evm_snapshot")["result"]
        quote = await venue.fetch_reference_quote("WETH/USD")
        assert quote is not None
        await node.on_quote(quote)
        intent = OrderIntent("s1", "dex", "WETH/USD", Side.SELL, Decimal("0.04"))
        placed = await node.submit(intent)
        assert placed.order is not None and placed.order.status is OrderStatus.FILLED, placed
        (fill,) = [f for f in node.storage.load_fills(venue="dex") if f.amount > 0
                   and f.client_order_id == placed.order.client_order_id]  # fmt: skip
        assert node.portfolio.book("dex").total("WETH") == ledger["WETH"] - Decimal("0.04")

        chain.rpc("evm_revert", snapshot)  # the swap's block is reorged out
        chain.mine()
        report = await reconcile_and_gate(node, "periodic")
        assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id], report
        assert report.ok and report.ledger_differences == [], report
        assert node.risk.state is not TradingState.HALTED
        assert node.portfolio.book("dex").total("WETH") == ledger["WETH"]
        assert FILL_FAILED in [e.kind for e in node.storage.load_events(limit=500)]
    finally:
        if node is not None:
            node.close()
        await venue.close()


async def test_an_approval_reorged_out_with_its_swap_has_its_gas_taken_back_too(
    chain: ChainThread, tmp_path: Path
) -> None:
    """The approval an order sent before its swap is booked as a fee-only fill: a reorg taking
    both out flags both failed, so the ledger takes the chain's balances (the gas never spent
    included) as their difference, with no unexplained adjustment."""
    d = chain.deployment
    venue = await connected_venue(d, MemoryTxStore(), approve_unlimited=True)
    node: Any = None
    try:
        node = TradingNode(_config(tmp_path), venues={"dex": venue})
        for inst in (await venue.load_instruments()).values():
            node.market.add_instrument(inst)
        assert (await reconcile_and_gate(node, "periodic")).ok
        ledger = {a: node.portfolio.book("dex").total(a) for a in ("ETH", "WETH", "USD")}
        snapshot = chain.rpc("evm_snapshot")["result"]
        quote = await venue.fetch_reference_quote("TKA/USD")
        assert quote is not None
        await node.on_quote(quote)
        intent = OrderIntent("s1", "dex", "TKA/USD", Side.SELL, Decimal("20"))
        placed = await node.submit(intent)
        assert placed.order is not None and placed.order.status is OrderStatus.FILLED, placed
        cid = placed.order.client_order_id
        fills = [f for f in node.storage.load_fills(venue="dex") if f.client_order_id == cid]
        gas_only = [f.trade_id for f in fills if f.amount == 0]
        assert len(fills) == 2 and len(gas_only) == 1, fills  # the approval's gas, the swap

        chain.rpc("evm_revert", snapshot)  # the approval's and the swap's blocks reorged out
        chain.mine()
        report = await reconcile_and_gate(node, "periodic")
        assert sorted(f["trade_id"] for f in report.fills_failed) == sorted(
            f.trade_id for f in fills
        ), report
        assert report.ok and report.ledger_differences == [], report
        assert {a: node.portfolio.book("dex").total(a) for a in ledger} == ledger
        (eth,) = [a for a in node.storage.load_balance_adjustments("dex") if a["asset"] == "ETH"]
        assert FAILED_ON_CHAIN in eth["reason"], eth  # no money moved: the gas was never spent
    finally:
        if node is not None:
            node.close()
        await venue.close()

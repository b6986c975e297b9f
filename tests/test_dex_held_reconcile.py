"""A DEX swap held unbooked (mined, its balances around its block not answered) is in the
chain's balances but not in the ledger: the reconciliation lists it in flight and leaves the
venue's balances waiting, as it does for any order it cannot book yet, so the swap is never
booked once as a balance difference and once more as its fill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from test_dex_hostile_rpc import _through
from test_dex_hostile_shortfall import _NoPastState, _serving
from tradeguard.config import Config
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.node import TradingNode
from tradeguard.node.live import _venue_busy
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _config(tmp_path: Path) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}", "valuation_asset": "USD",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "reconcile": {"balance_sync_interval_s": 0},
        "venues": [],
        "strategies": [],
    })  # fmt: skip


async def test_a_held_swap_leaves_the_reconciliation_s_balances_waiting(
    chain: ChainThread, tmp_path: Path
) -> None:
    server = _NoPastState(chain.chain)
    serving = _serving(chain, server)
    next(serving)
    node: Any = None
    venue: Any = None
    try:
        venue = await connected_venue(_through(chain.deployment, server), MemoryTxStore(),
                                      approve_unlimited=True)  # fmt: skip
        await venue.submit(dex_order("held-rec-warm", "0.01"))  # approvals, booked
        node = TradingNode(_config(tmp_path), venues={"dex": venue})
        first = await reconcile_and_gate(node, "periodic")  # opens the ledger
        assert first.ok, first.reason
        ledger = {a: node.portfolio.book("dex").total(a) for a in ("WETH", "USD")}
        adjustments = len(node.storage.load_balance_adjustments("dex"))
        server.floor = 10**9  # every past block refused: the next swap is held
        with pytest.raises(AmbiguousVenueError):
            await venue.submit(dex_order("held-rec-1", "0.01"))
        (held,) = venue.held.listed()
        receipt = chain.rpc("eth_getTransactionReceipt", held["tx_hash"])["result"]
        server.floor = int(receipt["blockNumber"], 16)  # its block and later answered
        report = await reconcile_and_gate(node, "periodic")
        assert [d["venue"] for d in report.balances_deferred] == ["dex"], report
        assert "held-rec-1" in report.balances_deferred[0]["reason"]
        assert {a: node.portfolio.book("dex").total(a) for a in ledger} == ledger
        assert len(node.storage.load_balance_adjustments("dex")) == adjustments
        assert held["client_order_id"] == "held-rec-1"
        assert "held-rec-1" in _venue_busy(node, "dex")  # the balance sync waits too
    finally:
        if node is not None:
            node.close()
        if venue is not None:
            await venue.close()
        next(serving, None)

"""`tradeguard serve` reconciles on `node.reconcile_interval_s`, as the live loop does: a node
served after a start whose reconciliation failed lifts the reconciler's halt once the venue
answers, and a loss limit's flatten left waiting for a good reconciliation runs then, not at
the next start. Sandbox venue (real ccxt), serve's own loop."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import pytest
from rich.console import Console

from kill_follow_support import alice_sells, follow_node, held
from test_loss_flatten_poll import _config, _holding, _trip
from tradeguard.cli.api import _serve
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.risk.observers import RECONCILER_BY
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")


async def _left_holding(tmp_path, ex):  # type: ignore[no-untyped-def]
    """A node that bought 0.002 BTC and stopped; its config."""
    cfg = _config(tmp_path, ex, reconcile_s=0.5)
    node = follow_node(cfg)
    await node.start()
    live = asyncio.create_task(node.run_live(duration_s=120))
    try:
        await _holding(node)
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)
        await node.stop()
        node.close()
    return cfg


async def test_serve_runs_a_waiting_loss_flatten_once_a_reconciliation_succeeds(tmp_path):
    async with seeded_exchange() as ex:
        cfg = await _left_holding(tmp_path, ex)
        # the venue's trade history stops answering in time: serve's start-up pass fails
        ex.faults.latency_ms_by_endpoint = {"/api/v3/myTrades": 2_000}
        served = TradingNode(cfg)
        serving = asyncio.create_task(_serve(served, "127.0.0.1", 0, Console(quiet=True)))
        try:
            await eventually(lambda: served.markets_loaded or serving.done(), 60)
            assert not serving.done()
            assert served.reconcile_report is not None and not served.reconcile_report.ok
            assert served.risk.state_by == RECONCILER_BY
            _trip(served)  # under the reconciler's halt: the flatten waits
            assert "reconcil" in str((served.risk.last_kill or {}).get("unfinished"))
            await asyncio.sleep(1.5)
            assert alice_sells(ex) == []  # nothing from a book not reconciled
            ex.faults.latency_ms_by_endpoint = {}  # the venue answers again
            # was: serve reconciled no more, the flatten waited for the next start
            await eventually(lambda: len(alice_sells(ex)) == 1 or serving.done(), 30)
            assert not serving.done()
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells
            await eventually(lambda: bool((served.risk.last_kill or {}).get("finished_ts")), 30)
            assert held(served) < STEP
            assert served.risk.state is TradingState.HALTED
            assert served.risk.state_by == "breaker:drawdown"
            await asyncio.sleep(1.5)  # a few more passes: taken once
            assert len(alice_sells(ex)) == 1
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(serving, 60)
            served.close()

"""A periodic reconciliation whose balance commit fails does not end the live run.

The commit of the balances a reconciliation read (a deposit's adjustment with them) fails, as
a locked database's does. Nothing of it is kept: the ledger stays as the journal has it. The
book is then the journal's but not checked against the venue, so the reconciliation counts as
failed: an alert (`reconcile.failed`, critical) says why, trading halts (the reconciler's
halt), and the live run goes on: the next reconciliation reads the venue again, books the
deposit and lifts that halt. Sandbox venue (real ccxt), live loop.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from node_support import trading_live
from test_node_balance_sync import _config
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

D = Decimal


class FailsTheAdjustmentsCommit:
    """A commit hook: the first commit holding a new balance adjustment fails (read in the
    commit's own transaction), as a locked database's commit does."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.failed = 0
        node.storage.add_commit_hook(self)

    def __call__(self) -> None:
        held = self.node.storage.load_balance_adjustments("binance")
        if held and not self.failed:
            self.failed += 1
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))


@pytest.mark.usefixtures("vault_env")
async def test_a_failed_balance_commit_halts_trading_until_the_next_reconciliation_books_it(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0)  # no balance sync
        cfg.node.reconcile_interval_s = 0.3
        node = TradingNode(cfg)
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        book = node.portfolio.book("binance")
        assert book.total("USDT") == D(100_000)
        failing = FailsTheAdjustmentsCommit(node)
        async with trading_live(node, duration_s=60) as live:
            ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": D(250)})  # a deposit
            await eventually(lambda: failing.failed == 1, 30)
            await eventually(lambda: any(e.kind == EventKind.RECONCILE_FAILED for e in events), 10)
            [alert] = [e for e in events if e.kind == EventKind.RECONCILE_FAILED]
            assert alert.severity == "critical"
            assert "the balances' commit failed" in alert.data["reason"]
            # the reconciler's halt, and the run goes on (before: the error ended it)
            assert node.risk.state is TradingState.HALTED
            assert node.risk.state_by == "reconciler"

            await eventually(lambda: book.total("USDT") == D(100_250), 30)
            await eventually(lambda: node.risk.state is not TradingState.HALTED, 10)
            [adjustment] = live.storage.load_balance_adjustments("binance")
            assert D(str(adjustment["difference"])) == D(250)
            stored = {b.asset: b.total for b in live.storage.load_balances("binance")}
            assert stored["USDT"] == D(100_250)

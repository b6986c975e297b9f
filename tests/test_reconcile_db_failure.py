"""A reconciliation whose database write fails, at any step, fails that venue's reconciliation.

The balance step's failed commit already failed only the venue's reconciliation (a critical
`reconcile.failed` alert, the reconciler's halt) and the live run went on. A failed commit of
another step, the fill catch-up's (a locked database: the very failure that made the stream's
own commit of that fill fail, logged, a moment before), escaped the reconciliation instead:
the periodic reconciliation's task raised the database's error and the live run ended with it,
leaving resting orders unwatched. Nothing of the failed commit is kept (the ledger is put back
as the journal has it), so the reconciliation fails and halts trading like any other failed
step, and the next one books the fill and completes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import SYMBOL, make_rig
from node_support import trading_live
from test_fill_commit_rollback import FailingCommit, _foreign
from test_reconcile_missed_fill import _config, _ioc_sell
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model import OrderStatus, Quote
from tradeguard.model.enums import Side, TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

D = Decimal


async def test_a_failed_catch_up_commit_fails_the_venues_reconciliation(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    assert (await reconcile_all(rig, "periodic")).ok  # opens the ledger at the venue's figures
    book = rig.portfolio.book("stub")
    held = (book.total("BTC"), book.total("USDT"))
    # a trade on the account the stream's commit could not book (a locked database)
    rig.venue.fills.append(_foreign("x1", SYMBOL, Side.BUY, "50000", "0.01"))
    rig.venue.balances["BTC"] += D("0.01")
    rig.venue.balances["USDT"] -= 500
    failing = FailingCommit(rig.storage, fills_only=True)
    failing.armed = 1

    failed = await reconcile_all(rig, "periodic")  # before: raised OperationalError

    assert failing.armed == 0
    assert not failed.ok
    assert failed.reason.startswith("venue stub: ")
    assert "OperationalError: database is locked" in failed.reason
    assert "next reconciliation" in failed.reason
    [alert] = [e for e in rig.events if e.kind == EventKind.RECONCILE_FAILED]
    assert alert.severity == "critical" and alert.data["reason"] == failed.reason
    # nothing of it was kept, in the journal or in memory
    assert rig.storage.load_fills() == []
    assert (book.total("BTC"), book.total("USDT")) == held
    assert rig.storage.load_balance_adjustments("stub") == []

    again = await reconcile_all(rig, "periodic")

    assert again.ok, again.reason
    assert again.fills_recovered == 1
    assert [f.trade_id for f in rig.storage.load_fills()] == ["x1"]
    assert (book.total("BTC"), book.total("USDT")) == (held[0] + D("0.01"), held[1] - 500)
    assert rig.storage.load_balance_adjustments("stub") == []  # a fill, never an adjustment


class FailsTheReconcilersFillCommit:
    """A commit hook: every commit holding a new fill fails (a locked database: the stream's
    too, logged) until one in the periodic reconciliation's task has."""

    def __init__(self, node: TradingNode) -> None:
        self.storage = node.storage
        self.fills = node.storage.count_fills()
        self.in_reconcile = 0
        self.armed = True
        node.storage.add_commit_hook(self)

    def __call__(self) -> None:
        if not self.armed or self.storage.count_fills() == self.fills:
            return
        task = asyncio.current_task()
        if task is not None and task.get_name() == "reconcile":
            self.in_reconcile += 1
            self.armed = False
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))


@pytest.mark.usefixtures("vault_env")
async def test_a_failed_catch_up_commit_halts_trading_and_the_live_run_goes_on(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        cfg.node.reconcile_interval_s = 0.3
        node = TradingNode(cfg)
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        assert node.reconcile_report.ok, node.reconcile_report.reason
        mid = Quote("BTC/USDT", node.clock.now_ms(), D("49999"), D(1), D("50001"), D(1))
        await node.on_quote(mid)
        first = await node.submit(_ioc_sell())  # a journal order: its symbol is caught up
        assert first.order is not None and first.order.status is OrderStatus.FILLED, first
        failing = FailsTheReconcilersFillCommit(node)
        async with trading_live(node, duration_s=60):
            alice = ex.account_id(ALICE_KEY)
            ex.engine.place(alice, "BTCUSDT", "BUY", "MARKET", ex.now_ms(), qty=D("0.0002"))
            await eventually(lambda: failing.in_reconcile == 1, 30)
            # before: the reconciliation's task raised the database's error, ending the run
            await eventually(lambda: any(e.kind == EventKind.RECONCILE_FAILED for e in events), 10)
            [alert] = [e for e in events if e.kind == EventKind.RECONCILE_FAILED]
            assert alert.severity == "critical"
            assert "database is locked" in alert.data["reason"], alert.data["reason"]
            assert node.risk.state is TradingState.HALTED
            assert node.risk.state_by == "reconciler"

            # the next reconciliation books the trade as a fill and lifts the halt
            await eventually(lambda: node.storage.count_fills() == failing.fills + 1, 30)
            await eventually(lambda: node.risk.state is not TradingState.HALTED, 10)
            assert node.storage.load_balance_adjustments("binance") == []

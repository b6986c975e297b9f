"""A live run whose database refuses every write for a while halts and goes on.

A locked SQLite file (another process holding it past the busy timeout), a full disk or a lost
PostgreSQL connection refuses the node's checkpoint, its heartbeat and the periodic
reconciliation's writes all at once. Each of those ended the live run with the database's
error, leaving resting orders unwatched. Now each halts new orders with a critical alert
naming the cause, nothing it could not write is lost (the checkpoint's states are due again,
a trade the stream could not book is caught up), and once the database takes writes again
the next checkpoint and reconciliation write it all, once, and lift their halts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from db_faults import FailingWrites, journal_order
from node_support import trading_live
from test_reconcile_missed_fill import _config
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.node.state_store import RISK_STATE_KEY
from tradeguard.node.stats import CURSOR_KEY, HEARTBEAT_KEY
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

D = Decimal


@asynccontextmanager
async def _started(tmp_path: Path) -> AsyncIterator[tuple[Any, TradingNode, list[Event]]]:
    """A started node on the seeded sandbox, with the events it publishes; stopped after."""
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        try:
            yield ex, node, events
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_refused_checkpoint_halts_and_the_next_one_lifts_the_halt(
    tmp_path: Path,
) -> None:
    from tradeguard.node.duties import CHECKPOINT_BY, checkpoint_or_halt

    async with _started(tmp_path) as (_ex, node, events):
        stored = node.storage.kv_get(CURSOR_KEY)
        faults = FailingWrites(node.storage, "kv_state", key=CURSOR_KEY)

        checkpoint_or_halt(node)  # before: raised OperationalError (the live run ended)

        assert faults.failed == 1
        assert node.risk.state is TradingState.HALTED and node.risk.state_by == CHECKPOINT_BY
        assert "database is locked" in node.risk.state_reason
        [alert] = [e for e in events if e.kind == EventKind.STATE_CHANGED]
        assert alert.severity == "critical" and "checkpoint" in alert.data["reason"]
        assert node.storage.kv_get(CURSOR_KEY) == stored  # nothing of it was kept

        checkpoint_or_halt(node)

        assert node.risk.state is TradingState.ACTIVE
        assert node.storage.kv_get(CURSOR_KEY) != stored
        assert node.storage.kv_get(HEARTBEAT_KEY) is not None

        # every write refused, the halt's own store too: it holds in memory, said
        faults.locked = True
        events.clear()

        checkpoint_or_halt(node)

        assert node.risk.state is TradingState.HALTED and node.risk.state_by == CHECKPOINT_BY
        [alert] = [e for e in events if e.kind == EventKind.STATE_CHANGED]
        assert alert.severity == "critical" and alert.data["to"] == "HALTED"
        assert node.storage.kv_get(RISK_STATE_KEY)["state"] == "ACTIVE"  # not stored yet
        faults.locked = False

        checkpoint_or_halt(node)

        assert node.risk.state is TradingState.ACTIVE
        assert node.storage.kv_get(RISK_STATE_KEY)["state"] == "ACTIVE"


@pytest.mark.usefixtures("vault_env")
async def test_a_database_refusing_every_write_halts_the_live_run_which_goes_on(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        cfg.node.reconcile_interval_s = 0.3
        cfg.node.checkpoint_interval_s = 0.3
        node = TradingNode(cfg)
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        assert node.reconcile_report.ok, node.reconcile_report.reason
        await journal_order(node)
        fills = node.storage.count_fills()
        faults = FailingWrites(node.storage)
        async with trading_live(node, duration_s=60) as live:
            faults.locked = True
            # a trade by hand on the account: the stream's commit of it is refused too
            alice = ex.account_id(ALICE_KEY)
            ex.engine.place(alice, "BTCUSDT", "BUY", "MARKET", ex.now_ms(), qty=D("0.0002"))

            # before: the checkpoint's or the reconciliation's error ended the live run
            await eventually(
                lambda: sum(e.kind == EventKind.RECONCILE_FAILED for e in events) >= 2, 30
            )
            assert live.risk.state is TradingState.HALTED
            failed = [e for e in events if e.kind == EventKind.RECONCILE_FAILED]
            assert all(e.severity == "critical" for e in failed)
            assert "database is locked" in failed[-1].data["reason"]
            assert node.storage.count_fills() == fills

            faults.locked = False

            await eventually(lambda: node.storage.count_fills() == fills + 1, 30)
            await eventually(lambda: node.risk.state is TradingState.ACTIVE, 30)
            assert node.storage.load_balance_adjustments("binance") == []  # a fill, once


@pytest.mark.usefixtures("vault_env")
async def test_a_refused_cash_flow_count_fails_the_periodic_pass_and_the_next_counts_it_once(
    tmp_path: Path,
) -> None:
    from tradeguard.node.cash_flows import CASH_FLOW_EVENT
    from tradeguard.node.duties import reconcile_periodic

    async with _started(tmp_path) as (ex, node, events):
        ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": D(250)})  # a deposit
        faults = FailingWrites(node.storage, "balance_adjustments", verb="UPDATE")

        failed = await reconcile_periodic(node)  # before: raised OperationalError

        assert faults.failed == 1 and not failed.ok
        assert "counting cash flows failed" in failed.reason
        assert "database is locked" in failed.reason
        assert node.risk.state is TradingState.HALTED
        assert [e for e in events if e.kind == CASH_FLOW_EVENT] == []  # not said: not kept
        [adjustment] = node.storage.load_balance_adjustments("binance")  # the deposit's
        assert adjustment["counted_ts"] is None

        again = await reconcile_periodic(node)

        assert again.ok, again.reason
        assert node.risk.state is TradingState.ACTIVE
        [flow] = [e for e in events if e.kind == CASH_FLOW_EVENT]
        assert D(flow.data["moved"]) == 250
        [counted] = node.storage.load_balance_adjustments("binance")  # the same, counted
        assert counted["id"] == adjustment["id"] and counted["counted_ts"] is not None


@pytest.mark.usefixtures("vault_env")
async def test_a_reconciliation_failed_under_the_checkpoints_halt_keeps_it_past_the_checkpoint(
    tmp_path: Path,
) -> None:
    from tradeguard.execution.reconcile import RECONCILER, ReconcileReport, gate
    from tradeguard.node.duties import checkpoint_or_halt

    async with _started(tmp_path) as (_ex, node, _):
        FailingWrites(node.storage, "kv_state", key=CURSOR_KEY)
        checkpoint_or_halt(node)  # refused: the checkpoint's halt
        failed = ReconcileReport(trigger="periodic")
        failed.fail("venue binance: the balances' commit failed (database is locked)")
        gate(node, failed)

        checkpoint_or_halt(node)  # written: lifts the checkpoint's halt, not the failure's

        # before: ACTIVE, trading on a book the failed reconciliation never checked
        assert node.risk.state is TradingState.HALTED and node.risk.state_by == RECONCILER
        assert "balances' commit failed" in node.risk.state_reason

        gate(node, ReconcileReport(trigger="periodic"))

        assert node.risk.state is TradingState.ACTIVE


@pytest.mark.usefixtures("vault_env")
async def test_a_refused_store_of_the_checkpoints_lift_holds_in_memory_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    from tradeguard.node.duties import CHECKPOINT_BY, checkpoint_or_halt

    async with _started(tmp_path) as (_ex, node, events):
        FailingWrites(node.storage, "kv_state", key=CURSOR_KEY)
        checkpoint_or_halt(node)
        assert node.risk.state_by == CHECKPOINT_BY
        faults = FailingWrites(node.storage, "kv_state", key=RISK_STATE_KEY)
        events.clear()

        checkpoint_or_halt(node)  # before: the lift's refused store raised (the run ended)

        assert faults.failed == 1
        # the lift holds in memory, said, and is stored with the next commit
        assert node.risk.state is TradingState.ACTIVE
        [said] = [e for e in events if e.kind == EventKind.STATE_CHANGED]
        assert said.data["from"] == "HALTED" and said.data["to"] == "ACTIVE"
        assert node.storage.kv_get(RISK_STATE_KEY)["state"] == "HALTED"

        checkpoint_or_halt(node)

        assert node.risk.state is TradingState.ACTIVE
        assert node.storage.kv_get(RISK_STATE_KEY)["state"] == "ACTIVE"

"""Writes the database refuses in a live run that ended it, or left it saying what is not so.

A strategy state's prompt store refused ended the live run; a checkpoint refused under another's
halt was forgotten once that halt lifted; a halt whose own store was refused was told as any
halt; the balance sync logged a refused write with its traceback; the stop's last checkpoint and
the start's cash-flow count ended with the database's bare error; serve's refused valuation
store was in the log only. Each now holds: halt with a critical alert that says what was and was
not stored, keep what is due in memory, write it later, lift only once it is written, or end
in one line saying what was not saved and what the next start does.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from db_faults import FailingWrites, journal_order
from live_support import sandbox_config
from test_live_db_locked import _started
from test_state_saves import ASKER
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.node.state_store import RISK_STATE_KEY
from tradeguard.node.stats import CURSOR_KEY
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

D = Decimal


@pytest.mark.usefixtures("vault_env")
async def test_a_refused_state_store_halts_keeps_the_state_and_the_checkpoint_lifts_it(
    tmp_path: Path,
) -> None:
    from tradeguard.node.duties import CHECKPOINT_BY, checkpoint_or_halt

    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, [ASKER], checkpoint_interval_s=3600))
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        try:
            saves = node.keep_states_saved()
            venue, sent = node.venues["binance"], []
            submit = venue.submit

            async def watched(order: Any) -> Any:
                sent.append(order.client_order_id)
                return await submit(order)

            venue.submit = watched  # type: ignore[method-assign]
            faults = FailingWrites(node.storage, "strategy_runs")
            one, now = D(1), node.clock.now_ms()
            await node.on_quote(Quote("BTC/USDT", now, D(49999), one, D(50001), one))

            # before: `failed` held the OperationalError and the live loop ended on it
            assert faults.failed == 1 and saves.failed is None
            assert "database is locked" in saves.refused
            assert node.risk.state is TradingState.HALTED and node.risk.state_by == CHECKPOINT_BY
            [halt] = [e for e in events if e.kind == EventKind.STATE_CHANGED]
            assert halt.severity == "critical" and "state's store failed" in halt.data["reason"]
            [strat] = node.strategies
            assert strat.save_due and strat.state() == {"sent": 1}  # kept, in memory
            assert node.storage.load_run_state("ask") is None
            assert sent == [] and node.orders.open == {}  # denied: the halt stands

            saves.close()  # the retry's timer: run now, its wait over
            saves.next_ok = 0.0
            saves.step_done()  # tried again

            assert node.storage.load_run_state("ask").state == {"sent": 1}  # type: ignore[union-attr]
            assert not strat.save_due and saves.refused == ""
            assert node.risk.state is TradingState.HALTED  # until a checkpoint is written

            checkpoint_or_halt(node)

            assert node.risk.state is TradingState.ACTIVE
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_checkpoint_refused_under_the_reconcilers_halt_is_owed_when_it_lifts(
    tmp_path: Path,
) -> None:
    from tradeguard.execution.reconcile import RECONCILER, ReconcileReport, gate
    from tradeguard.node.duties import CHECKPOINT_BY, checkpoint_or_halt

    async with _started(tmp_path) as (_ex, node, events):
        failed = ReconcileReport(trigger="periodic")
        failed.fail("venue binance: the venue did not answer")
        gate(node, failed)
        assert node.risk.state_by == RECONCILER
        faults = FailingWrites(node.storage, "kv_state", key=CURSOR_KEY)

        checkpoint_or_halt(node)  # refused under the reconciler's halt

        assert faults.failed == 1 and node.risk.state_by == RECONCILER
        events.clear()
        resumed = node.risk.last_resume

        gate(node, ReconcileReport(trigger="periodic"))  # the reconciler lifts its own

        # before: ACTIVE, trading over a checkpoint never written
        assert node.risk.state is TradingState.HALTED and node.risk.state_by == CHECKPOINT_BY
        # handed over, not resumed: no resume told nor kept
        assert [e.kind for e in events if e.kind == EventKind.RESUME] == []
        assert node.risk.last_resume == resumed
        assert "checkpoint's write failed" in node.risk.state_reason
        assert node.storage.kv_get(RISK_STATE_KEY)["state_by"] == CHECKPOINT_BY

        checkpoint_or_halt(node)

        assert node.risk.state is TradingState.ACTIVE


@pytest.mark.usefixtures("vault_env")
async def test_a_halt_whose_store_is_refused_says_so_in_its_alert(tmp_path: Path) -> None:
    from tradeguard.execution.reconcile import ReconcileReport, gate

    async with _started(tmp_path) as (_ex, node, events):
        faults = FailingWrites(node.storage)
        faults.locked = True
        failed = ReconcileReport(trigger="periodic")
        failed.fail("venue binance: the balances' commit failed (database is locked)")

        gate(node, failed)

        assert node.risk.state is TradingState.HALTED  # held in memory
        assert node.storage.kv_get(RISK_STATE_KEY)["state"] == "ACTIVE"
        # before: no alert at all; the checkpoint's said HALTED as if stored
        [alert] = [e for e in events if e.kind == EventKind.STATE_CHANGED]
        assert alert.severity == "critical" and alert.data["stored"] is False
        assert "NOT STORED" in alert.data["reason"] and "restart" in alert.data["reason"]
        faults.locked = False


@pytest.mark.usefixtures("vault_env")
async def test_a_refused_cash_flow_count_in_the_balance_sync_is_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with _started(tmp_path) as (ex, node, _):
        ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": D(250)})  # a deposit
        node.config.reconcile.balance_sync_interval_s = 3600
        sync = node.balance_sync()
        assert sync is not None
        faults = FailingWrites(node.storage, "balance_adjustments", verb="UPDATE")
        caplog.set_level(logging.ERROR, "tradeguard.execution.balance_sync")
        task = asyncio.create_task(sync.run(3600))

        def said() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.name == "tradeguard.execution.balance_sync"]

        try:
            await eventually(said, 20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert faults.failed == 1
        [record] = said()
        assert record.exc_info is None  # before: log.exception, the traceback in the logs
        text = record.getMessage()
        assert "\n" not in text and "database is locked" in text


@pytest.mark.usefixtures("vault_env")
async def test_a_stop_whose_last_checkpoint_is_refused_says_so_and_the_restart_books_once(
    tmp_path: Path,
) -> None:
    from test_reconcile_missed_fill import _config
    from tradeguard.model.errors import TradeguardError

    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        await journal_order(node)
        fills = node.storage.count_fills()
        faults = FailingWrites(node.storage)
        stopping = node.stop_strategies

        async def then_locked() -> None:  # the strategies stopped: the database goes away
            await stopping()
            faults.locked = True

        node.stop_strategies = then_locked  # type: ignore[method-assign]
        with pytest.raises(TradeguardError) as raised:  # before: OperationalError
            await node.run_live(duration_s=0.3)
        await node.stop()
        with pytest.raises(TradeguardError) as closed:  # the stop's last writes: refused too
            node.close()
        for said in (str(raised.value), str(closed.value)):
            assert "\n" not in said and "database is locked" in said, said
            assert "not saved" in said and "reconciles" in said, said

        again = TradingNode(_config(tmp_path, ex))
        await again.start()
        try:
            assert again.reconcile_report.ok, again.reconcile_report.reason
            assert again.storage.count_fills() == fills  # booked once
            assert again.storage.load_balance_adjustments("binance") == []
        finally:
            await again.stop()
            again.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_start_whose_cash_flow_count_is_refused_ends_in_one_line_and_the_next_counts_once(
    tmp_path: Path,
) -> None:
    from test_reconcile_missed_fill import _config
    from tradeguard.model.errors import TradeguardError
    from tradeguard.node.cash_flows import CASH_FLOW_EVENT
    from tradeguard.node.duties import reconcile_periodic

    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": D(250)})  # a deposit
        FailingWrites(node.storage, "balance_adjustments", verb="UPDATE")
        assert not (await reconcile_periodic(node)).ok  # booked, its count refused
        await node.stop()
        node.close()  # the next start counts it

        node = TradingNode(_config(tmp_path, ex))
        faults = FailingWrites(node.storage, "balance_adjustments", verb="UPDATE")
        try:
            with pytest.raises(TradeguardError) as raised:  # before: OperationalError
                await node.start()
        finally:
            await node.stop()
            node.close()
        said = str(raised.value)
        assert faults.failed == 1 and "\n" not in said and "database is locked" in said, said
        assert "nothing of it was kept" in said and "start again" in said, said
        [adjustment] = node.storage.load_balance_adjustments("binance")
        assert adjustment["counted_ts"] is None  # nothing half-booked

        again = TradingNode(_config(tmp_path, ex))
        events: list[Event] = []
        again.bus.subscribe(events.append)
        await again.start()
        try:
            [flow] = [e for e in events if e.kind == CASH_FLOW_EVENT]  # counted once
            assert D(flow.data["moved"]) == 250
            [counted] = again.storage.load_balance_adjustments("binance")
            assert counted["counted_ts"] is not None
        finally:
            await again.stop()
            again.close()


@pytest.mark.usefixtures("vault_env")
async def test_serves_refused_valuation_store_is_shown_by_health_until_one_is_stored(
    tmp_path: Path,
) -> None:
    from tradeguard.node.health import assess
    from tradeguard.node.valuation_view import VALUATION_KEY, save_valuation

    async with _started(tmp_path) as (_ex, node, _):
        faults = FailingWrites(node.storage, "kv_state", key=VALUATION_KEY)

        save_valuation(node)  # serve's, every checkpoint interval: the server goes on

        assert faults.failed == 1
        health = assess(node, None, verbose=True)["checks"]["database"]
        # before: no word of it (the warning in the log only)
        assert health["status"] == "degraded" and health["refused"] == [VALUATION_KEY]
        assert "database is locked" in health["reasons"][VALUATION_KEY]
        assert "reasons" not in assess(node, None)["checks"]["database"]  # with a token only

        save_valuation(node)

        assert assess(node, None)["checks"]["database"] == {"status": "ok", "refused": []}
        assert node.storage.kv_get(VALUATION_KEY) is not None


@pytest.mark.usefixtures("vault_env")
async def test_balances_owed_at_a_crash_are_found_again_by_the_restarts_reconciliation(
    tmp_path: Path,
) -> None:
    """`balances_owed` lives in memory: a node ended (no close, no last checkpoint) between a
    refused balances' commit and the next good one comes back not knowing it. Nothing is
    mis-booked for it: the start-up reconciliation reads the venue's balances again and holds
    the deposit the refused commit would have booked against the durable ledger, for the ledger
    audit (halted, never booked blind), and writes the venue's figures."""
    from test_reconcile_missed_fill import _config
    from tradeguard.node.duties import reconcile_periodic

    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": D(250)})  # a deposit
        FailingWrites(node.storage, "balances")
        failed = await reconcile_periodic(node)
        assert not failed.ok and "binance" in node.orders.balances_owed
        assert node.storage.load_balance_adjustments("binance") == []  # not kept
        await node.stop()
        node.db.dispose()  # ended here: no close, no last checkpoint (a SIGKILL's state)
        if node.writer_lock is not None:
            node.writer_lock.release()

        again = TradingNode(_config(tmp_path, ex))
        await again.start()
        try:
            assert again.orders.balances_owed == {}  # not known
            assert again.risk.state is TradingState.HALTED  # the difference holds trading
            assert "USDT" in again.risk.state_reason
            assert again.storage.load_balance_adjustments("binance") == []  # never booked blind
            usdt = {b.asset: b for b in again.storage.load_balances()}["USDT"]
            venue = await again.venues["binance"].fetch_balances()
            assert usdt.total == {b.asset: b for b in venue}["USDT"].total  # written at start
        finally:
            await again.stop()
            again.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_checkpoints_halt_taken_over_by_the_reconciler_is_owed_when_it_lifts(
    tmp_path: Path,
) -> None:
    """The reconciler takes over the checkpoint's halt when it fails: its good pass must not
    lift trading to ACTIVE while the checkpoint is still not written."""
    from tradeguard.execution.reconcile import RECONCILER, ReconcileReport, gate
    from tradeguard.node.duties import CHECKPOINT_BY, checkpoint_or_halt

    async with _started(tmp_path) as (_ex, node, _):
        faults = FailingWrites(node.storage, "kv_state", key=CURSOR_KEY)
        checkpoint_or_halt(node)  # refused: the checkpoint's halt
        assert node.risk.state_by == CHECKPOINT_BY
        failed = ReconcileReport(trigger="periodic")
        failed.fail("venue binance: the venue did not answer")
        gate(node, failed)  # taken over
        assert node.risk.state_by == RECONCILER

        gate(node, ReconcileReport(trigger="periodic"))  # the reconciler lifts its own

        # before: ACTIVE, trading over a checkpoint never written
        assert node.risk.state is TradingState.HALTED and node.risk.state_by == CHECKPOINT_BY
        assert faults.failed == 1
        checkpoint_or_halt(node)  # written

        assert node.risk.state is TradingState.ACTIVE


def test_a_lost_postgresql_connection_is_told_in_one_line() -> None:
    """psycopg's connection errors run over lines ("...Connection refused\\n\\tIs the server
    running..."): the refusal told in a halt's alert, the balance sync's log line and the stop's
    or the start's one-line error is one line all the same."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from tradeguard.execution.held_halts import refusal
    from tradeguard.model.errors import DataNotSaved
    from tradeguard.node.last_writes import start_writes

    engine = create_engine("postgresql+psycopg://tg@127.0.0.1:1/tg")  # nothing listens there
    with pytest.raises(OperationalError) as lost:
        engine.connect()
    engine.dispose()
    assert "\n" in str(lost.value.orig)  # the driver's own words run over lines

    said = refusal(lost.value)

    assert "\n" not in said and "\t" not in said  # before: both
    assert said.startswith("OperationalError: ") and "Connection refused" in said
    with pytest.raises(DataNotSaved) as ended, start_writes("counting the cash flows"):
        raise lost.value
    assert "\n" not in str(ended.value)

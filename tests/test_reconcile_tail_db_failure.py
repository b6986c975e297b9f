"""A reconciliation's own closing writes, refused by the database, fail it instead of the run.

After its venues, a reconciliation stores the venues' checkpoints, flushes the journal rows the
order manager queued for the next commit, and stores its report; the periodic one also settles
resolved markets before and counts cash flows after. Each of those writes ran outside the
per-venue guard: a locked database (or a full disk, a lost PostgreSQL connection) raised out of
the periodic reconciliation's task and ended the live run. Now each fails the reconciliation
with a critical `reconcile.failed` alert naming the write and the database's words (the
reconciler's halt), keeps what it did not write for the next try, and the next reconciliation
that writes it completes and lifts the halt: nothing lost, nothing written twice.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path

from sqlalchemy import select

from db_faults import FailingWrites
from execution_stubs import Rig, limit_buy, make_rig
from test_settlement_order_unknown import RESOLVED, _holding
from tradeguard.execution.reconcile import (
    CHECKPOINT_KEY,
    RECONCILER,
    REPORT_KEY,
    reconcile_all,
    reconcile_and_gate,
)
from tradeguard.execution.settlement import settle_resolved
from tradeguard.model.enums import OrderStatus, TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.outcome import Settlement
from tradeguard.storage.tables import order_transitions

D = Decimal


def _failed_alert(rig: Rig) -> str:
    [alert] = [e for e in rig.events if e.kind == EventKind.RECONCILE_FAILED]
    assert alert.severity == "critical"
    return str(alert.data["reason"])


async def test_a_refused_report_write_fails_the_reconciliation_and_the_next_stores_it(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    faults = FailingWrites(rig.storage, "kv_state", key=REPORT_KEY)

    failed = await reconcile_all(rig, "periodic")  # before: raised OperationalError

    assert faults.failed == 1 and not failed.ok
    assert "the reconciliation's report" in failed.reason
    assert "OperationalError: database is locked" in failed.reason
    assert _failed_alert(rig) == failed.reason
    assert rig.storage.kv_get(REPORT_KEY) is None

    again = await reconcile_all(rig, "periodic")

    assert again.ok, again.reason
    assert rig.storage.kv_get(REPORT_KEY)["ok"] is True


async def test_a_refused_checkpoint_write_fails_the_reconciliation_and_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    assert (await reconcile_all(rig, "periodic")).ok
    kept = rig.storage.kv_get(CHECKPOINT_KEY)
    rig.clock.ms += 60_000
    faults = FailingWrites(rig.storage, "kv_state", key=CHECKPOINT_KEY)

    failed = await reconcile_all(rig, "periodic")  # before: raised OperationalError

    assert faults.failed == 1 and not failed.ok
    assert "the venues' reconciliation checkpoints" in failed.reason
    assert "database is locked" in _failed_alert(rig)
    assert rig.storage.kv_get(CHECKPOINT_KEY) == kept  # the next one reads from the old one
    assert rig.storage.kv_get(REPORT_KEY)["ok"] is False  # the report says so

    again = await reconcile_all(rig, "periodic")

    assert again.ok, again.reason
    assert rig.storage.kv_get(CHECKPOINT_KEY)["stub"] > kept["stub"]


def _transitions(rig: Rig, cid: str) -> list[str]:
    t = order_transitions.c
    with rig.db.engine.connect() as conn:
        rows = conn.execute(select(t.to_status).where(t.client_order_id == cid).order_by(t.id))
        return [r[0] for r in rows]


async def test_a_refused_flush_of_queued_journal_rows_keeps_them_for_the_next_commit(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    result = await rig.orders.submit(limit_buy())
    order = result.order
    assert order is not None and order.status is OrderStatus.ACCEPTED
    cid = order.client_order_id
    assert _transitions(rig, cid) == ["submitted"]  # its acknowledgement waits for a commit
    # its submit is on the wire again (a replace): balances wait, so no commit before the flush
    rig.orders.in_submit.add(cid)
    faults = FailingWrites(rig.storage, "order_transitions")

    failed = await reconcile_all(rig, "periodic")  # before: raised OperationalError

    assert faults.failed == 1 and not failed.ok
    assert "the order journal's queued rows" in failed.reason
    assert "database is locked" in _failed_alert(rig)
    assert _transitions(rig, cid) == ["submitted"]
    rig.orders.in_submit.discard(cid)

    again = await reconcile_all(rig, "periodic")

    assert again.ok, again.reason
    assert _transitions(rig, cid) == ["submitted", "accepted"]  # kept, written once
    assert rig.storage.get_order(cid).status is OrderStatus.ACCEPTED


async def test_a_refused_settlement_commit_fails_the_reconciliation_and_the_next_pays_once(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    _holding(rig)
    rig.venue.balances = {"USD": D(106)}  # the venue paid the resolution out

    async def resolved() -> list[Settlement]:
        return [RESOLVED]

    rig.venue.fetch_settlements = resolved  # type: ignore[attr-defined]
    faults = FailingWrites(rig.storage, "orders")
    settle = partial(settle_resolved, rig)

    # before: raised OperationalError
    failed = await reconcile_all(rig, "periodic", settle=settle)  # type: ignore[arg-type]

    assert faults.failed == 1 and not failed.ok
    assert "the settlement pass" in failed.reason
    assert "database is locked" in _failed_alert(rig)
    assert rig.storage.load_fills() == []
    assert rig.storage.load_balance_adjustments("stub") == []  # the payout is no adjustment

    again = await reconcile_all(rig, "periodic", settle=settle)  # type: ignore[arg-type]

    assert again.ok, again.reason
    assert [f.trade_id for f in rig.storage.load_fills()] == [f"settle-{_settled_id(rig)}"]
    assert rig.portfolio.book("stub").total("USD") == D(106)  # paid once
    assert rig.storage.load_balance_adjustments("stub") == []


def _settled_id(rig: Rig) -> str:
    [order] = rig.storage.load_orders()
    return order.client_order_id


async def test_the_halt_of_a_failed_balance_commit_waits_for_the_balances_to_be_written(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    assert (await reconcile_and_gate(rig, "periodic")).ok  # opens the ledger
    rig.venue.balances["USDT"] += 250  # a deposit
    faults = FailingWrites(rig.storage, "balances")

    failed = await reconcile_and_gate(rig, "periodic")

    assert faults.failed == 1 and "the balances' commit failed" in failed.reason
    assert rig.risk.state is TradingState.HALTED and rig.risk.state_by == RECONCILER
    # the next pass defers the balances (an order's submit on the wire): nothing was written
    result = await rig.orders.submit(limit_buy())
    assert result.order is not None
    rig.orders.in_submit.add(result.order.client_order_id)

    deferred = await reconcile_and_gate(rig, "periodic")

    assert deferred.ok and [d["venue"] for d in deferred.balances_deferred] == ["stub"]
    # before: lifted, with the deposit never written
    assert rig.risk.state is TradingState.HALTED and rig.risk.state_by == RECONCILER
    assert rig.storage.load_balance_adjustments("stub") == []
    rig.orders.in_submit.clear()

    written = await reconcile_and_gate(rig, "periodic")

    assert written.ok and not written.balances_deferred, written.reason
    assert rig.risk.state is TradingState.ACTIVE
    [adjustment] = rig.storage.load_balance_adjustments("stub")
    assert (adjustment["asset"], D(adjustment["difference"])) == ("USDT", D(250))

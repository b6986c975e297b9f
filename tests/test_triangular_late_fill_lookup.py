"""A late fill is booked into its cycle's record however many records came after it: the
record is found by the order's client id (an indexed lookup), not in a window of the newest
records (256 of them before: an older record's late fill was left out of it, the asset held on
the account with no record and no alert)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_triangular_exec_support import CYCLE, Stack
from test_triangular_held_resolved import rows
from test_triangular_late_leg import SIZE, queue_first_leg
from tradeguard.model.events import EventKind
from tradeguard.storage.arb_repository import find_arb_execution
from tri_child_support import renamed_record

NEWER = 300  # records written after the one whose order fills late


async def test_a_late_fill_of_a_record_with_300_newer_ones_is_booked_into_it(tmp_path: Path):
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    held_back = queue_first_leg(s, CYCLE[0])
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.legs[0].status == "rejected", rec
    [first] = rows(s)
    for n in range(NEWER):  # cycles recorded after it, in this run
        s.executor.held_legs.record(renamed_record(first, n))
    [order] = held_back
    assert (
        find_arb_execution(s.storage, s.config.strategy_id, order.client_order_id)["id"]
        == first["id"]
    )
    await s.venue_submit(order)  # type: ignore[attr-defined]  # the venue executes it late
    row = next(r for r in rows(s) if r["id"] == first["id"])
    got = Decimal(row["legs"]["legs"][0]["received"])
    assert got > 0 and row["outcome"] == "held", row["legs"]
    assert row["legs"]["held"] == {"ETH": str(got)}, row["legs"]
    held = [e for e in s.events if e.kind == EventKind.ARB_HELD]
    assert [e.data["record_id"] for e in held] == [first["id"]], held
    sid = s.config.strategy_id
    assert s.risk.settlements_seen[sid] == [f"{sid}:late:{first['id']}:{order.client_order_id}"]
    assert s.risk.cycle_holdings.held(sid, s.venue.name, "ETH") == got


def test_an_order_of_no_record_is_found_in_none(tmp_path: Path):
    s = Stack(tmp_path)
    assert find_arb_execution(s.storage, s.config.strategy_id, "no-such-order") is None


def _lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list that gets the client id of each record lookup the gateway makes."""
    from tradeguard.execution import gateway

    looked: list[str] = []
    find = gateway.find_arb_execution

    def counted(storage: Any, strategy_id: str, cid: str) -> dict[str, Any] | None:
        looked.append(cid)
        return find(storage, strategy_id, cid)

    monkeypatch.setattr(gateway, "find_arb_execution", counted)
    return looked


async def test_a_cycle_whose_legs_fill_as_sent_looks_up_no_record_on_its_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fill of the running cycle's order is no late one: the store is not asked for a record
    # naming it (before: one lookup for each leg's fill, on the way between two legs).
    looked = _lookups(monkeypatch)
    s = Stack(tmp_path)
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.outcome == "completed", rec.reason
    assert len(s.storage.load_fills()) >= 3
    assert looked == []


async def test_a_start_after_a_run_of_completed_cycles_looks_up_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every order of a completed cycle filled and can fill no more: the next start (the mark
    # where this run's start left it) looks none of them up (before: one record each).
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path)
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.outcome == "completed", rec.reason
    looked = _lookups(monkeypatch)
    late = LateFills(s.gateway, s.executor.held_legs)  # the next start's
    assert late.take_up() == 0
    assert looked == []  # before: 3, one for each leg


async def _filled_while_down(s: Stack) -> tuple[dict[str, Any], str]:
    """A cycle whose first leg was given up on and filled while the node was down: its
    record and the order's id (the next start's `take_up` finds it)."""
    held_back = queue_first_leg(s, CYCLE[0])
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.legs[0].status == "rejected", rec
    [first] = rows(s)
    s.gateway.late_fill_listeners.clear()  # down: nothing books it as it comes
    [order] = held_back
    await s.venue_submit(order)  # type: ignore[attr-defined]
    assert s.gateway.late_checked()[1] == [order.client_order_id]
    return first, order.client_order_id


def _damage(s: Stack, record_id: int) -> None:
    from tradeguard.storage.tables import arb_executions

    [row] = [r for r in rows(s) if r["id"] == record_id]
    legs = row["legs"]
    legs["legs"][0]["index"] = "first"  # not an integer
    with s.storage.transaction():
        t = arb_executions
        s.storage._write(t.update().where(t.c.id == record_id).values(legs=legs))


async def test_a_damaged_record_is_reported_and_skipped_and_the_start_goes_on(tmp_path: Path):
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    first, cid = await _filled_while_down(s)
    _damage(s, first["id"])
    late = LateFills(s.gateway, s.executor.held_legs)  # the next start's
    assert late.take_up() == 0  # before: ValueError out of the start
    told = [e for e in s.events if e.kind == EventKind.ARB_HELD]
    assert [(e.data["record_id"], e.data["client_order_id"]) for e in told] == [
        (first["id"], cid)
    ], told
    assert f"record {first['id']}" in told[0].data["message"]
    assert s.gateway.late_checked()[1] == []  # skipped: the next start reads it no more


async def test_a_record_that_cannot_be_rewritten_stops_holding_the_mark_after_3_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    first, cid = await _filled_while_down(s)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(s.gateway, "amend_execution", refused)
    for _ in range(2):  # each start tries again: a passing failure is put right
        assert LateFills(s.gateway, s.executor.held_legs).take_up() == 0
        assert s.gateway.late_checked()[1] == [cid]
        assert [e for e in s.events if e.kind == EventKind.ARB_HELD] == []
    assert LateFills(s.gateway, s.executor.held_legs).take_up() == 0
    told = [e for e in s.events if e.kind == EventKind.ARB_HELD]
    assert [(e.data["record_id"], e.data["client_order_id"]) for e in told] == [
        (first["id"], cid)
    ], told
    assert s.gateway.late_checked()[1] == []  # before: [cid], at every start, for ever


async def test_a_late_fill_of_an_order_a_start_recorded_as_cut_is_held_in_that_record(
    tmp_path: Path,
) -> None:
    # A start's record of cut legs (`record_held`: no leg index) names the order alone; the
    # venue fills it while the node is down. The next start books it into that record: a held
    # figure read back at every start (what `arb-unwind` may sell), one arb.held (before: the
    # record unchanged, no alert, the allowance only in memory until a restart).
    from tradeguard.execution.interrupted_arb import record_held
    from tradeguard.storage.tables import arb_execution_orders, arb_executions
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    held_back = queue_first_leg(s, CYCLE[0])
    await s.executor.execute(s.opportunity(), SIZE)
    [order], [first] = held_back, rows(s)
    sid = s.config.strategy_id
    with s.storage.transaction():  # only a start's record of cut legs names the order
        s.storage._write(arb_execution_orders.delete())
        s.storage._write(arb_executions.delete().where(arb_executions.c.id == first["id"]))
        rid = record_held(s.storage, sid, [order], 1, "cut")
    s.gateway.late_fill_listeners.clear()  # down
    await s.venue_submit(order)  # type: ignore[attr-defined]
    fills = s.storage.load_fills(client_order_id=order.client_order_id)
    got = sum((f.amount - (f.fee if f.fee_asset == "ETH" else 0) for f in fills), Decimal(0))
    assert got > 0
    for _ in range(2):  # the second start books nothing again
        LateFills(s.gateway, s.executor.held_legs).take_up()
    [row] = [r for r in rows(s) if r["id"] == rid]
    assert row["outcome"] == "held" and row["legs"]["held"] == {"ETH": str(got)}, row["legs"]
    assert row["legs"]["legs"][0]["status"] == "filled", row["legs"]
    told = [e for e in s.events if e.kind == EventKind.ARB_HELD]
    assert [(e.data["record_id"], e.data["client_order_id"]) for e in told] == [
        (rid, order.client_order_id)
    ], told  # the held figure is what a start gives `arb-unwind` (`unwind_allowances`)

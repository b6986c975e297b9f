"""Ambiguous submit and cancel outcomes are resolved by query, never by guess."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import limit_buy, make_rig
from tradeguard.execution.reconcile import reconcile_all, reconcile_and_gate
from tradeguard.model.enums import OrderStatus, TradingState

D = Decimal


async def test_submit_whose_answer_is_lost_is_resolved_as_accepted_by_query(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.venue.drop_submit = 1

    result = await rig.orders.submit(limit_buy())

    assert result.status == "in_flight"
    assert result.order is not None
    assert result.order.status is OrderStatus.ACCEPTED
    assert rig.venue.submits == [result.order.client_order_id]  # never re-sent
    assert not rig.orders.unknown


async def test_submit_that_never_reached_the_venue_is_rejected_only_after_the_venue_says_so(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.fail_submit = 1

    result = await rig.orders.submit(limit_buy())

    assert result.order is not None
    assert result.order.status is OrderStatus.REJECTED
    assert result.order.reason == "venue has no record of the order"
    assert rig.venue.queries == 1


async def test_submit_the_venue_cannot_answer_for_becomes_unknown_and_blocks_the_symbol(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.drop_submit = 1
    rig.venue.fail_queries = 3  # every resolve attempt

    first = await rig.orders.submit(limit_buy())
    second = await rig.orders.submit(limit_buy())

    assert first.order is not None and first.order.status is OrderStatus.SUBMITTED
    assert first.order.client_order_id in rig.orders.unknown
    assert second.status == "denied" and second.code == "ORDER_STATE_UNKNOWN"
    assert len(rig.venue.submits) == 1
    assert any(e.kind == "order.unknown" for e in rig.events)


async def test_unknown_order_is_retried_by_the_periodic_reconciler_and_unblocks_the_symbol(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.drop_submit = 1
    rig.venue.fail_queries = 3
    first = await rig.orders.submit(limit_buy())
    assert first.order is not None

    report = await reconcile_and_gate(rig, "periodic")

    assert report.ok, report.reason
    assert not rig.orders.unknown
    assert first.order.status is OrderStatus.ACCEPTED
    after = await rig.orders.submit(limit_buy())
    assert after.status == "submitted"


async def test_reconciliation_fails_and_halts_while_an_order_stays_unknown_then_lifts_the_halt(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.drop_submit = 1
    rig.venue.fail_queries = 3
    first = await rig.orders.submit(limit_buy())
    assert first.order is not None
    rig.venue.fail_queries = 10  # resolve tries 3, the unknown retry 1: still no answer

    failed = await reconcile_and_gate(rig, "periodic")

    assert not failed.ok
    assert first.order.client_order_id in failed.reason
    assert "unknown state" in failed.reason
    assert failed.unknown_orders == [first.order.client_order_id]
    assert rig.risk.state is TradingState.HALTED and rig.risk.state_by == "reconciler"

    rig.venue.fail_queries = 0
    recovered = await reconcile_and_gate(rig, "periodic")

    assert recovered.ok
    assert rig.risk.state is TradingState.ACTIVE


async def test_cancel_whose_answer_is_lost_is_resolved_as_cancelled_by_query(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    rig.venue.drop_cancel = 1

    await rig.orders.cancel(placed.order.client_order_id)

    assert placed.order.status is OrderStatus.CANCELLED
    assert rig.storage.get_order(placed.order.client_order_id).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert any(e.data.get("operation") == "cancel" for e in rig.events if e.kind == "venue.error")


async def test_cancel_that_never_reached_the_venue_leaves_the_order_open(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    rig.venue.fail_cancel = 1

    await rig.orders.cancel(placed.order.client_order_id)

    assert placed.order.status is OrderStatus.ACCEPTED
    assert placed.order.client_order_id in rig.orders.open
    assert not rig.orders.unknown


async def test_cancel_with_no_answer_to_the_query_either_marks_the_order_unknown(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    rig.venue.drop_cancel = 1
    rig.venue.fail_queries = 3

    await rig.orders.cancel(placed.order.client_order_id)

    assert placed.order.client_order_id in rig.orders.unknown
    assert placed.order.status is OrderStatus.ACCEPTED  # not guessed as cancelled
    resolved = await rig.orders.retry_unknown()
    assert resolved == [placed.order.client_order_id]
    assert placed.order.status is OrderStatus.CANCELLED


async def test_cancel_refused_because_the_order_filled_first_books_the_fill(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    cid = placed.order.client_order_id
    rig.venue.execute(cid, D("0.001"), D("49000"), push=False)  # the stream missed it

    await rig.orders.cancel(cid)

    assert placed.order.status is OrderStatus.FILLED
    assert [f.client_order_id for f in rig.storage.load_fills()] == [cid]


async def test_fill_replayed_many_times_is_applied_once(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    placed = await rig.orders.submit(limit_buy(amount="0.002"))
    assert placed.order is not None
    fill = rig.venue.execute(placed.order.client_order_id, D("0.001"), D("49000"))

    for _ in range(5):
        rig.orders.on_fill(fill)
    restarted = rig.restart()
    restarted.orders.on_fill(fill)
    await reconcile_all(restarted)

    assert len(rig.storage.load_fills()) == 1
    assert restarted.orders.orders[placed.order.client_order_id].filled == D("0.001")


async def test_a_reconciliation_blip_never_lifts_a_halt_someone_else_set(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.venue.drop_submit = 1
    rig.venue.fail_queries = 3
    first = await rig.orders.submit(limit_buy())
    assert first.order is not None
    rig.risk.halt("kill switch: operator", "cli")  # the emergency stop
    rig.venue.fail_queries = 10

    failed = await reconcile_and_gate(rig, "periodic")
    assert not failed.ok
    assert rig.risk.state is TradingState.HALTED
    assert rig.risk.state_by == "cli"  # still the kill switch's halt, not the reconciler's

    rig.venue.fail_queries = 0
    recovered = await reconcile_and_gate(rig, "periodic")
    assert recovered.ok
    assert rig.risk.state is TradingState.HALTED and rig.risk.state_by == "cli"


async def test_a_refused_resume_after_a_good_reconciliation_keeps_the_node_running_halted(
    tmp_path: Path,
) -> None:
    from tradeguard.risk.state import ResumeRefused

    rig = make_rig(tmp_path)
    rig.risk.halt("periodic reconciliation failed: x", "reconciler")

    def refuse(by: str, reason: str) -> None:
        raise ResumeRefused("resume refused: the daily loss limit halted trading today")

    rig.risk.lift_own_halt = refuse  # type: ignore[method-assign]
    report = await reconcile_and_gate(rig, "periodic")  # used to raise out of the live loop
    assert report.ok
    assert rig.risk.state is TradingState.HALTED

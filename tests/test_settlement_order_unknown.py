"""A settlement order waiting for its fill is the node's own, never the venue's.

A market's resolution is booked as a fill of an order the node makes up (`settlement_id`); it
is journaled before its fill, and a fill whose commit fails leaves it open in the journal
until the next settlement pass books it. The venue never heard of that id and may answer a
query for it with an error: reconciliation must not ask, mark the order unknown (a blocked
symbol, a failed reconciliation, a halt), nor reconcile the venue's balances (which hold the
payout) before the fill is booked, which would book the payout twice.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import Rig, make_rig
from test_fill_commit_rollback import FailingCommit
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.execution.settlement import apply_settlement
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.outcome import Resolution, Settlement

D = Decimal
RESOLVED = Settlement("stub", "M", Resolution.YES, D(10), D(0), D(10), "USD", 1_000_600)


def _holding(rig: Rig) -> None:
    book = rig.portfolio.book("stub")
    book.set("M:YES", D(10))
    book.set("USD", D(96))
    pos = rig.portfolio.position("stub", "M:YES/USD", "s1")
    pos.apply(Side.BUY, D("0.4"), D(10), D(0), 1_000_000, D(0))


def _restarted_with_settlement_open(tmp_path: Path) -> tuple[Rig, Any]:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage, fills_only=True)
    _holding(rig)
    failing.armed = 1
    with pytest.raises(OperationalError):
        apply_settlement(rig.orders, RESOLVED, 1_000_600)
    again = rig.restart()
    _holding(again)
    venue = again.venue
    venue.balances.update({"USD": D(106)})  # the venue paid out already

    async def no_such_order(client_order_id: str, symbol: str) -> None:
        venue.queries += 1
        raise DefinitiveVenueError("stub", f"order {client_order_id} not found", "ORDER_NOT_FOUND")

    venue.fetch_order = no_such_order  # type: ignore[method-assign]
    [order] = list(again.orders.open.values())
    return again, order


async def test_a_query_refused_for_a_settlement_order_leaves_it_known_and_open(
    tmp_path: Path,
) -> None:
    rig, order = _restarted_with_settlement_open(tmp_path)

    assert await rig.orders.resolve(order) is None

    assert rig.venue.queries == 0  # not the venue's order: not asked
    assert order.status is OrderStatus.ACCEPTED and not rig.orders.unknown
    assert rig.orders.blocked_symbols() == set()


async def test_reconciliation_waits_for_the_settlement_pass_and_books_the_payout_once(
    tmp_path: Path,
) -> None:
    rig, order = _restarted_with_settlement_open(tmp_path)

    report = await reconcile_all(rig)

    assert report.unknown_orders == [] and not rig.orders.blocked_symbols()
    assert [d["venue"] for d in report.balances_deferred] == ["stub"]  # the payout waits
    assert rig.portfolio.book("stub").total("USD") == D(96)

    apply_settlement(rig.orders, RESOLVED, 1_000_700)  # the next pass books it
    after = await reconcile_all(rig)

    assert after.ok, after.reason
    assert order.status is OrderStatus.FILLED and not rig.orders.unknown
    assert rig.portfolio.book("stub").total("USD") == D(106)  # paid once


def _signalled_settlement() -> Any:
    from execution_stubs import limit_buy

    # a caller's own key (API, bot signal): no settlement
    return dataclasses.replace(limit_buy(), signal={"settlement": "yes"})


async def test_an_order_whose_signal_names_a_settlement_is_still_asked_of_the_venue(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.fail_submit = 1  # the answer to its submit is lost: only a query tells

    result = await rig.orders.submit(_signalled_settlement())

    assert result.status == "in_flight"
    assert rig.venue.queries > 0  # the venue's order: asked, not left waiting for a pass


async def test_reconciliation_books_a_venue_fill_of_an_order_signalled_settlement(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    result = await rig.orders.submit(_signalled_settlement())
    order = result.order
    assert order is not None and order.status is OrderStatus.ACCEPTED
    rig.venue.execute(order.client_order_id, order.amount, D(49000), push=False)

    report = await reconcile_all(rig)

    assert report.balances_deferred == []  # the venue's balances are reconciled
    assert order.status is OrderStatus.FILLED  # its missed fill found by asking


async def test_a_settlement_order_the_venue_no_longer_reports_is_booked_by_the_next_pass(
    tmp_path: Path,
) -> None:
    # A venue may report a resolution once: the paper outcome venue pays the tokens out as it
    # reports them, and a listing moves on. The journaled settlement order holds all its fill
    # needs (amount, payout price): its pass books it whatever the venue reports now.
    from tradeguard.execution.settlement import settle_resolved

    rig, order = _restarted_with_settlement_open(tmp_path)

    async def nothing_resolved() -> list[Settlement]:
        return []

    rig.venue.fetch_settlements = nothing_resolved  # type: ignore[attr-defined]

    await settle_resolved(rig)  # type: ignore[arg-type]
    report = await reconcile_all(rig)

    assert report.ok and report.balances_deferred == [], report.reason
    assert order.status is OrderStatus.FILLED and rig.venue.queries == 0
    assert rig.portfolio.book("stub").total("USD") == D(106)  # paid once
    assert [e.data["client_order_id"] for e in rig.events if e.kind == "settlement"] == [
        order.client_order_id
    ]


async def test_a_settlement_order_whose_fill_commit_failed_waits_open_without_a_restart(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage, fills_only=True)
    _holding(rig)
    failing.armed = 1
    with pytest.raises(OperationalError):
        apply_settlement(rig.orders, RESOLVED, 1_000_600)
    rig.venue.balances.update({"USD": D(106)})  # the venue paid out already
    [cid] = list(rig.orders.orders)

    report = await reconcile_all(rig)

    assert cid in rig.orders.open  # the journal's open order, as after a restart
    assert [d["venue"] for d in report.balances_deferred] == ["stub"]  # the payout waits
    assert rig.portfolio.book("stub").total("USD") == D(96)

    apply_settlement(rig.orders, RESOLVED, 1_000_700)  # the next pass books it
    after = await reconcile_all(rig)

    assert after.ok, after.reason
    assert cid not in rig.orders.open and rig.orders.orders[cid].status is OrderStatus.FILLED
    assert rig.portfolio.book("stub").total("USD") == D(106)  # paid once
    assert rig.portfolio.book("stub").total("M:YES") == D(0)
    assert [r["asset"] for r in after.balance_adjustments if r["asset"] == "USD"] == []


async def test_cancelling_every_open_order_leaves_a_settlement_order_to_its_pass(
    tmp_path: Path,
) -> None:
    rig, order = _restarted_with_settlement_open(tmp_path)
    asked: list[str] = []

    async def cancel(sent: Any) -> Any:
        asked.append(sent.client_order_id)
        raise DefinitiveVenueError("stub", "order not found", "ORDER_NOT_FOUND")

    rig.venue.cancel = cancel  # type: ignore[method-assign]

    cancelled, failed = await rig.orders.cancel_all()  # a kill's cancels

    assert asked == [] and rig.venue.queries == 0  # the venue never heard of it
    assert cancelled == [] and failed == []  # nothing to cancel: it waits for its pass
    assert order.status is OrderStatus.ACCEPTED and not rig.orders.unknown

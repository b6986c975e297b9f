"""Stored records whose legs name no assets (a damaged or partly written record, or legs a
start found that are no one cycle's chain) and a start's record of cut legs: what they hold is
booked to the assets the legs traded, at the part that filled, and the alert says what is held
and where to sell it, never "sell it back to ?"."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_triangular_exec_support import CYCLE, Stack
from test_triangular_held_resolved import rows
from test_triangular_late_leg import queue_first_leg
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import EventKind
from tradeguard.model.order import Order

SIZE = Decimal(1000)  # USDT


def _held_events(s: Stack) -> list[Any]:
    return [e for e in s.events if e.kind == EventKind.ARB_HELD]


def _rewrite(s: Stack, rid: int, body: dict[str, Any]) -> None:
    from tradeguard.storage.tables import arb_executions

    with s.storage.transaction():
        t = arb_executions
        s.storage._write(t.update().where(t.c.id == rid).values(legs=body))


async def _late_fill_of_a_damaged_record(s: Stack, blank: dict[str, Any]) -> tuple[Order, int]:
    """A first leg the cycle gave up on, its stored record's leg entry then changed by `blank`
    (fields emptied or removed), and the venue filling it while the node is down."""
    held_back = queue_first_leg(s, CYCLE[0])
    await s.executor.execute(s.opportunity(), SIZE)
    [order], [row] = held_back, rows(s)
    body = dict(row["legs"])
    leg = {k: v for k, v in body["legs"][0].items() if blank.get(k, "") is not None}
    leg.update({k: v for k, v in blank.items() if v is not None})
    body["legs"] = [leg, *body["legs"][1:]]
    _rewrite(s, row["id"], body)
    s.gateway.late_fill_listeners.clear()  # down
    await s.venue_submit(order)  # type: ignore[attr-defined]
    return order, row["id"]


def _got_eth(s: Stack, cid: str) -> Decimal:
    fills = s.storage.load_fills(client_order_id=cid)
    return sum((f.amount - (f.fee if f.fee_asset == "ETH" else 0) for f in fills), Decimal(0))


async def test_a_late_fill_of_a_record_whose_leg_names_no_assets_holds_the_asset_bought(
    tmp_path: Path,
) -> None:
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    order, rid = await _late_fill_of_a_damaged_record(s, {"from": "", "to": ""})
    got = _got_eth(s, order.client_order_id)
    assert got > 0
    LateFills(s.gateway, s.executor.held_legs).take_up()  # the next start
    [row] = [r for r in rows(s) if r["id"] == rid]
    held = row["legs"]["held"]
    assert "" not in held, held  # before: booked to an asset named ""
    assert row["outcome"] == "held" and held == {"ETH": str(got)}, row["legs"]
    [told] = _held_events(s)
    assert told.data["record_id"] == rid and f"{got} ETH" in told.data["message"], told.data


async def test_a_record_whose_leg_names_neither_assets_nor_market_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    order, rid = await _late_fill_of_a_damaged_record(
        s, {"from": "", "to": "", "symbol": "", "index": None}
    )
    before = [r for r in rows(s) if r["id"] == rid]
    with caplog.at_level(logging.WARNING):
        LateFills(s.gateway, s.executor.held_legs).take_up()  # the start goes on
    assert [r for r in rows(s) if r["id"] == rid] == before  # nothing booked to no asset
    said = [r.getMessage() for r in caplog.records if order.client_order_id in r.getMessage()]
    assert any("names no asset" in m for m in said), said
    [told] = _held_events(s)  # a person is told what the order bought, and where
    assert told.data["client_order_id"] == order.client_order_id, told.data
    assert "?" not in told.data["message"], told.data["message"]


async def test_a_cut_leg_partly_filled_is_held_for_the_part_that_filled(tmp_path: Path) -> None:
    # A start's record of cut legs (`record_held`) names a leg of 1 ETH of which 0.4 filled:
    # the record holds the 0.4 ETH (less a fee in ETH), not the whole leg and not nothing, and
    # the alert says so (before: no `held` figure at all, read back as nothing to sell).
    from tradeguard.execution.interrupted_arb import held_event, record_held

    s = Stack(tmp_path)
    sid = s.config.strategy_id
    order = Order(
        "cut-1", sid, s.venue.name, CYCLE[0], Side.BUY, OrderType.LIMIT, Decimal(1),
        Decimal(2000), status=OrderStatus.CANCELLED, filled=Decimal("0.4"),
        avg_price=Decimal(2000), fee=Decimal("0.8"), signal={"arb": "leg", "index": 0},
    )  # fmt: skip
    with s.storage.transaction():
        s.storage.upsert_order(order)
        rid = record_held(s.storage, sid, [order], 1, "cut")
    [row] = [r for r in rows(s) if r["id"] == rid]
    assert row["legs"]["held"] == {"ETH": "0.4"}, row["legs"]  # the fee was in USDT
    event = held_event(sid, [order], 1, "cut")
    assert "holding 0.4 ETH" in event.data["reason"], event.data
    # an unwind of it sold 0.1 back before the stop: what is left is held, no more
    back = Order(
        "back-1", sid, s.venue.name, CYCLE[0], Side.SELL, OrderType.LIMIT, Decimal("0.4"),
        Decimal(1990), status=OrderStatus.CANCELLED, filled=Decimal("0.1"),
        avg_price=Decimal(1990), signal={"arb": "unwind", "index": 0},
    )  # fmt: skip
    with s.storage.transaction():
        rid = record_held(s.storage, sid, [order, back], 2, "cut again")
    [row] = [r for r in rows(s) if r["id"] == rid]
    assert row["legs"]["held"] == {"ETH": "0.3"}, row["legs"]


async def test_legs_no_chain_are_held_as_the_assets_they_brought_in(tmp_path: Path) -> None:
    # Legs a start found that are no one cycle's chain are recorded held untouched: what they
    # hold is the asset each leg bought, the part that filled, and the alert names it and the
    # market to sell it on (before: "ETH/USDT (buy)" held, "sell it back to the start asset"
    # with the record's start asset "?").
    from tradeguard.strategies.triangular.adopt import adopt_interrupted

    s = Stack(tmp_path)
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.outcome == "completed", rec
    first = s.orders.orders[rec.legs[0].client_order_id]
    first.signal = {"arb": "leg", "index": 1}  # not leg 1 of a cycle: no chain
    fills = {first.client_order_id: s.storage.load_fills(client_order_id=first.client_order_id)}
    held = await adopt_interrupted(s.executor, [first], fills)
    assert held.outcome == "held", held
    got = rec.legs[0].received
    assert held.held == {"ETH": got}, held.held
    assert [(x.from_asset, x.to_asset) for x in held.legs] == [("USDT", "ETH")]
    [told] = _held_events(s)
    text = told.data["message"]
    assert "back to ?" not in text and "the start asset" not in text, text
    assert f"{got} ETH" in text and "ETH/USDT" in text, text


async def test_legs_no_chain_hold_what_a_later_leg_did_not_spend(tmp_path: Path) -> None:
    # A whole cycle's legs found at a start as no chain (a damaged signal): each brought its
    # asset in, but the next leg spent it. What they hold together is what is left, as a
    # start's `held` record of cut legs counts it (`interrupted_arb.holding`); before, the ETH
    # and A0009 the later legs sold were held in full, for `arb-unwind` to sell again out of
    # the account's own.
    from tradeguard.strategies.triangular.adopt import adopt_interrupted

    s = Stack(tmp_path)
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.outcome == "completed", rec
    legs = [s.orders.orders[x.client_order_id] for x in rec.legs]
    legs[0].signal = {"arb": "leg", "index": 1}  # not leg 1 of a cycle: no chain
    fills = {o.client_order_id: s.storage.load_fills(client_order_id=o.client_order_id)
             for o in legs}  # fmt: skip
    held = await adopt_interrupted(s.executor, legs, fills)
    assert held.outcome == "held", held
    left: dict[str, Decimal] = {}
    for x in held.legs:  # what each leg brought in, less what the legs gave
        left[x.to_asset] = left.get(x.to_asset, Decimal(0)) + x.received
        left[x.from_asset] = left.get(x.from_asset, Decimal(0)) - x.spent
    assert left["A0009"] < held.legs[1].received and left["ETH"] < held.legs[0].received
    want = {a: q for a, q in left.items() if q > 0}
    assert held.held == want, (held.held, want)


async def test_a_late_fill_of_an_unwind_whose_entry_names_no_assets_is_reported(
    tmp_path: Path,
) -> None:
    # The way back's first hop is taken for rejected and the venue sells after all, while the
    # node is down; its stored entry names no assets (damaged, partly written). The record
    # cannot count the sale, and still says the A0023 is held: a person must hear of it, as of
    # a leg's entry naming no market (before: a warning in the log, no `arb.held`).
    from test_triangular_exec_support import small_universe
    from test_triangular_exec_unwind import CYCLE_4, NO_DIRECT, fail_leg_3
    from tradeguard.strategies.triangular.late_fills import LateFills

    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT),
              exec_config={"leg_timeout_s": 0.05})  # fmt: skip
    fail_leg_3(s)
    held_back = queue_first_leg(s, "A0023/FDUSD")
    rec = await s.executor.execute(s.opportunity(CYCLE_4), SIZE)
    assert rec.outcome == "held" and held_back, rec.reason
    [order], [row] = held_back, rows(s)
    body = dict(row["legs"])
    hops = [dict(u) for u in body["unwinds"]]
    [hop] = [u for u in hops if u.get("client_order_id") == order.client_order_id]
    hop.update({"from": "", "to": ""})
    body["unwinds"] = hops
    _rewrite(s, row["id"], body)
    s.gateway.late_fill_listeners.clear()  # down
    await s.venue_submit(order)  # type: ignore[attr-defined]
    assert s.storage.load_fills(client_order_id=order.client_order_id), "the hop did not fill"
    before = len(_held_events(s))
    LateFills(s.gateway, s.executor.held_legs).take_up()  # the next start
    told = _held_events(s)[before:]
    assert [e.data.get("client_order_id") for e in told] == [order.client_order_id], told
    assert "?" not in told[0].data["message"], told[0].data["message"]

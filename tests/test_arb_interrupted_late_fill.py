"""A leg a crash cut short whose fill the start-up reconciliation could not book yet (the venue
did not answer at start): booked later, it must still be reported at a later start."""

from __future__ import annotations

from decimal import Decimal

from execution_stubs import make_rig
from tradeguard.execution.interrupted_arb import interrupted_legs
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.storage.arb_repository import insert_arb_execution

SID = "pmarb"


def _leg(status: OrderStatus, filled: str) -> Order:
    return Order(
        "cut-1", SID, "kalshi", "KX-1:YES/USD", Side.BUY, OrderType.LIMIT, Decimal(5),
        Decimal("0.40"), status=status, filled=Decimal(filled),
        signal={"arb": "first", "kind": "cross_venue"}, created_ts=10_000, updated_ts=10_000,
    )  # fmt: skip


def test_a_cut_leg_filled_after_the_start_is_reported_at_a_later_start(tmp_path):
    storage = make_rig(tmp_path).storage
    # killed after the first leg was sent; at the next start the venue is unreachable, the
    # journal still says submitted, filled 0: nothing to report yet
    storage.upsert_order(_leg(OrderStatus.SUBMITTED, "0"))
    assert interrupted_legs(storage, SID) == []
    # a periodic reconciliation books the fill; the halted strategy's attempts are refused and
    # recorded (each with its start time), as every attempt is
    storage.upsert_order(_leg(OrderStatus.FILLED, "5"))
    for i in range(50):
        insert_arb_execution(storage, {
            "strategy_id": SID, "start_asset": "USD", "outcome": "rejected",
            "ts": 30_000 + i, "legs": {"legs": [], "reason": "pair rejected by risk: HALTED"},
        })  # fmt: skip
    legs = interrupted_legs(storage, SID)  # the next start
    assert [o.client_order_id for o in legs] == ["cut-1"], (
        "5 contracts bought with no record, no unwind and no alert, ever"
    )

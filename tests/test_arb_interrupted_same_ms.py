"""A cycle recorded just beyond the records read, whose last leg was created in the same
millisecond as the next cycle started, is not an interrupted attempt."""

from __future__ import annotations

from decimal import Decimal

from execution_stubs import make_rig
from tradeguard.execution.interrupted_arb import interrupted_legs
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.storage.arb_repository import insert_arb_execution

SID = "tri"


def _record(storage, ts: int, coids: list[str]) -> None:
    insert_arb_execution(storage, {
        "strategy_id": SID, "start_asset": "USDT", "outcome": "completed" if coids else "rejected",
        "ts": ts, "legs": {"legs": [{"client_order_id": c} for c in coids], "unwinds": []},
    })  # fmt: skip


def test_a_recorded_leg_created_in_the_ms_the_next_cycle_started_is_not_reported(tmp_path):
    storage = make_rig(tmp_path).storage
    # cycle 1 started at 1_000; its last leg was created at 1_005, the ms cycle 2 started
    for i, ts in enumerate((1_000, 1_002, 1_005)):
        storage.upsert_order(Order(
            f"leg-{i}", SID, "paper", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(1),
            Decimal(1), status=OrderStatus.FILLED, filled=Decimal(1),
            signal={"arb": "leg", "index": i}, created_ts=ts, updated_ts=ts,
        ))  # fmt: skip
    _record(storage, 1_000, ["leg-0", "leg-1", "leg-2"])
    for i in range(50):  # cycle 2 (at 1_005) and 49 more, each refused before any order
        _record(storage, 1_005 + i, [])
    assert interrupted_legs(storage, SID) == []

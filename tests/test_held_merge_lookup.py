"""Whether a sale fill is a netting or merge sale is told by its order alone: the order path's
order when it has it, else one read of the journal's order row, never the order's fills."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.execution.outcome_netting import netting_id
from tradeguard.model.enums import LiquiditySide, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.model.outcome import Outcome
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.cross_venue.held_merge import netting_sale

YES = "m:YES/PUSD"
SID = "pmarb"
# netting orders' ids as the node gives them (`net` + 24 hex digits)
NET1 = netting_id("polymarket", "t-1", Outcome.YES, SID)
NET2 = netting_id("polymarket", "t-2", Outcome.YES, SID)
NET3 = netting_id("polymarket", "t-3", Outcome.YES, "other")


def _fill(cid: str, n: int, side: Side = Side.SELL) -> Fill:
    return Fill("polymarket", YES, cid, cid, f"t-{cid}-{n}", side, D("0.4"), D(1), D(0),
                "PUSD", LiquiditySide.MAKER, 1_000 + n)  # fmt: skip


def _order(cid: str, signal: dict[str, Any], strategy_id: str = SID) -> Order:
    return Order(cid, strategy_id, "polymarket", YES, Side.SELL, OrderType.MARKET, D(40),
                 D("0.4"), signal=signal)  # fmt: skip


class _Reads:
    """Counts the statements a storage reads."""

    def __init__(self, storage: Storage) -> None:
        self.count = 0
        read = storage._read

        def counted(stmt: Any) -> Any:
            self.count += 1
            return read(stmt)

        storage._read = counted  # type: ignore[method-assign]


def _wired(tmp_path: Path) -> tuple[Storage, dict[str, Order], Any]:
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    live: dict[str, Order] = {}
    om = SimpleNamespace(
        orders=live, storage=storage, fill_listeners=[], balance_only=set(), submit=None,
        bus=SimpleNamespace(subscribe=lambda *a: None),
    )  # fmt: skip
    gateway = OrderPathGateway(om, None, "polymarket", SID)  # type: ignore[arg-type]
    return storage, live, SimpleNamespace(gateways={"polymarket": gateway})


def test_a_sale_of_a_journaled_order_costs_one_row_read_however_many_fills_it_has(
    tmp_path: Path,
) -> None:
    storage, _, executor = _wired(tmp_path)
    for cid, signal in ((NET1, {"netting": "merge"}), ("hand-1", {})):
        storage.upsert_order(_order(cid, signal))
        for n in range(40):  # a long-filled order: none of its fills is needed
            storage.insert_fill(_fill(cid, n), SID)
    reads = _Reads(storage)
    assert netting_sale(executor, _fill(NET1, 99)) is True
    assert reads.count == 1
    assert netting_sale(executor, _fill("hand-1", 99)) is False
    assert reads.count == 2


def test_the_order_path_s_order_is_used_without_a_read(tmp_path: Path) -> None:
    storage, live, executor = _wired(tmp_path)
    live[NET2] = _order(NET2, {"netting": "merge"})
    reads = _Reads(storage)
    assert netting_sale(executor, _fill(NET2, 1)) is True
    assert netting_sale(executor, _fill(NET2, 2, side=Side.BUY)) is False  # no lookup
    assert reads.count == 0


def test_another_strategy_s_order_or_none_is_no_netting_sale(tmp_path: Path) -> None:
    storage, _, executor = _wired(tmp_path)
    storage.upsert_order(_order(NET3, {"netting": "merge"}, strategy_id="other"))
    assert netting_sale(executor, _fill(NET3, 1)) is False
    assert netting_sale(executor, _fill("net-none", 1)) is False

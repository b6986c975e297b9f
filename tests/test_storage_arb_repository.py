"""The arbitrage record helpers on SQLite and PostgreSQL: filters, order, counts and figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.portfolio.arb_summary import ArbSummary
from tradeguard.storage import Storage
from tradeguard.storage.arb_repository import (
    amend_arb_execution,
    arb_strategy_ids,
    count_arb_executions,
    fills_after,
    find_arb_execution,
    insert_arb_execution,
    last_arb_execution_id,
    load_arb_executions,
    load_arb_figures,
)

pytest_plugins = ["storage_fixtures"]


def _trade(cid: str, trade_id: str) -> Fill:
    return Fill(venue="sbx", symbol="ETH/USDT", client_order_id=cid, venue_order_id=f"v-{cid}",
                trade_id=trade_id, side=Side.BUY, price=Decimal("2000"), amount=Decimal("0.1"),
                fee=Decimal(0), fee_asset="ETH", liquidity=LiquiditySide.TAKER,
                ts=1000)  # fmt: skip


def _row(strategy_id: str, outcome: str, ts: int, **legs: Any) -> dict[str, Any]:
    return {
        "strategy_id": strategy_id,
        "cycle": {"path": "USDT -> ETH -> BTC -> USDT"},
        "start_asset": "USDT",
        "expected_profit_pct": Decimal("0.81234567"),
        "actual_profit": Decimal(legs.pop("profit", "0")),
        "fees": Decimal("0.4"),
        "legs": {"actual_profit_pct": "0", "held": {}, "legs": [], **legs},
        "outcome": outcome,
        "latency_ms": 12,
        "ts": ts,
    }


def _fill(store: Storage) -> None:
    insert_arb_execution(
        store, _row("tri", "completed", 3000, profit="1.5", actual_profit_pct="0.6")
    )
    insert_arb_execution(store, _row("tri", "rejected", 1000))
    insert_arb_execution(store, _row("tri", "held", 2000, held={"ETH": "0.16103"}))
    insert_arb_execution(store, _row("other", "completed", 2000, profit="-0.25"))


def test_records_list_by_time_newest_first_with_filters_and_counts(store: Storage) -> None:
    _fill(store)
    newest = load_arb_executions(store, newest_first=True)
    assert [r["id"] for r in newest] == [1, 4, 3, 2]  # ts 3000, then 2000 twice by id
    assert [r["id"] for r in load_arb_executions(store)] == [2, 3, 4, 1]
    page = load_arb_executions(store, newest_first=True, limit=2, offset=1)
    assert [r["id"] for r in page] == [4, 3]
    window = load_arb_executions(store, since_ts=2000, until_ts=3000, strategy_id="tri")
    assert [r["id"] for r in window] == [3]
    assert count_arb_executions(store) == 4
    assert count_arb_executions(store, outcome="completed") == 2
    assert count_arb_executions(store, strategy_id="tri", since_ts=2000) == 2
    assert last_arb_execution_id(store) == 4
    assert arb_strategy_ids(store) == ["other", "tri"]
    assert arb_strategy_ids(store, after_id=3) == ["other"]


def test_figures_read_the_profit_pct_and_held_assets_out_of_the_record(store: Storage) -> None:
    assert load_arb_figures(store) == [] and last_arb_execution_id(store) == 0
    _fill(store)
    figures = {r["id"]: r for r in load_arb_figures(store, strategy_id="tri")}
    assert sorted(figures) == [1, 2, 3]
    done, held = figures[1], figures[3]
    assert done["actual_profit"] == Decimal("1.5") and done["actual_profit_pct"] == "0.6"
    assert done["expected_profit_pct"] == Decimal("0.81234567") and done["held"] is None
    assert held["held"] == {"ETH": "0.16103"} and held["ts"] == 2000
    assert [r["id"] for r in load_arb_figures(store, after_id=1, upto_id=3)] == [2, 3]
    summary = ArbSummary()
    for row in load_arb_figures(store):
        summary.add(row)
    out = summary.to_json()
    assert out["by_outcome"]["completed"] == 2 and out["by_outcome"]["rejected"] == 1
    assert out["profit"]["USDT"]["total"] == "1.25"
    assert out["held"] == {"ETH": "0.16103"}


def test_a_record_is_found_by_any_order_it_names_and_by_an_unwind_a_rewrite_adds(
    store: Storage,
) -> None:
    legs = [{"index": 0, "client_order_id": "leg-0"}, {"index": 1, "client_order_id": "leg-1"}]
    rid = insert_arb_execution(store, _row("tri", "held", 1000, legs=legs))
    insert_arb_execution(store, _row("tri", "completed", 2000))  # names no order
    assert find_arb_execution(store, "tri", "leg-1")["id"] == rid  # type: ignore[index]
    assert find_arb_execution(store, "other", "leg-1") is None  # another strategy's: none
    assert find_arb_execution(store, "tri", "unwind-0") is None
    row = load_arb_executions(store, strategy_id="tri")[0]
    unwinds = [{"index": 0, "client_order_id": "unwind-0"}]
    with store.transaction():
        amend_arb_execution(store, rid, {"legs": {**row["legs"], "unwinds": unwinds}})
    found = find_arb_execution(store, "tri", "unwind-0")
    assert found is not None and found["id"] == rid
    assert found["legs"]["unwinds"] == unwinds


def test_fills_after_a_mark_name_only_the_orders_a_record_names(store: Storage) -> None:
    legs = [{"index": 0, "client_order_id": "leg-0"}, {"index": 1, "client_order_id": "leg-1"}]
    insert_arb_execution(store, _row("tri", "held", 1000, legs=legs))
    assert fills_after(store, "tri", 0) == (0, [])  # nothing journaled yet
    store.insert_fill(_trade("leg-0", "t1"), "tri")
    store.insert_fill(_trade("other", "t2"), "tri")  # an order no record names
    store.insert_fill(_trade("leg-0", "t3"), "tri")
    newest, cids = fills_after(store, "tri", 0)
    assert cids == ["leg-0"] and newest >= 3
    assert fills_after(store, "tri", newest) == (newest, [])  # looked at: nothing new
    store.insert_fill(_trade("leg-1", "t4"), "tri")
    assert fills_after(store, "tri", newest)[1] == ["leg-1"]
    assert fills_after(store, "other", newest)[1] == []  # another strategy's: none

"""A node killed between an arbitrage attempt's legs: at the next start the legs no record names
are reported as one critical arb.held event, once, by a strategy that cannot unwind them; a
start that finds its predecessor's unwind cut short records them held and sends nothing."""

from __future__ import annotations

from decimal import Decimal

from node_support import write_paper_toml, write_slice
from tradeguard.config import load_config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import EventKind
from tradeguard.model.order import Order
from tradeguard.node import TradingNode
from tradeguard.node.interrupted import ADOPTING_KEY
from tradeguard.storage.arb_repository import insert_arb_execution, load_arb_executions

LEGS = [  # (client order id, role, status, filled)
    ("rec-1", "first", OrderStatus.FILLED, "0.001"),
    ("rec-2", "second", OrderStatus.FILLED, "0.001"),
    ("cut-1", "first", OrderStatus.FILLED, "0.002"),  # then the node was killed
    ("cut-2", "second", OrderStatus.REJECTED, "0"),  # the hedge never reached the venue
]


async def _held_events_at_start(toml) -> list:
    node = TradingNode(load_config(toml))
    events: list = []
    node.bus.subscribe(events.append)
    try:
        await node.start()
    finally:
        await node.stop()
        node.close()
    return [e for e in events if e.kind == EventKind.ARB_HELD]


async def test_legs_no_record_names_are_reported_once_at_the_next_start(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    toml = write_paper_toml(tmp_path, data)
    node = TradingNode(load_config(toml))
    try:
        sid = node.strategies[0].id
        for i, (coid, role, status, filled) in enumerate(LEGS):
            node.storage.upsert_order(Order(
                coid, sid, "paper", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.002"),
                status=status, filled=Decimal(filled), signal={"arb": role, "kind": "cross_venue"},
                created_ts=1_000 + i, updated_ts=1_000 + i,
            ))  # fmt: skip
        insert_arb_execution(node.storage, {
            "strategy_id": sid, "start_asset": "USD", "outcome": "completed", "ts": 1_000,
            "legs": {"legs": [{"client_order_id": "rec-1"}, {"client_order_id": "rec-2"}]},
        })  # fmt: skip
    finally:
        node.close()
    held = await _held_events_at_start(toml)
    assert len(held) == 1 and held[0].severity == "critical", held
    assert held[0].strategy_id == sid and held[0].data["client_order_ids"] == ["cut-1"]
    assert held[0].data["held"] == {"BTC/USDT on paper (buy)": "0.002"}
    assert "cut-1 buy 0.002 BTC/USDT on paper" in held[0].data["reason"]
    assert await _held_events_at_start(toml) == []  # reported once, not at every start


async def test_two_cut_legs_on_one_symbol_and_side_add_up_in_what_is_held(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    toml = write_paper_toml(tmp_path, data)
    node = TradingNode(load_config(toml))
    try:
        sid = node.strategies[0].id
        cut = [("cut-1", "first", OrderStatus.FILLED, "0.002"),
               ("cut-2", "retry", OrderStatus.CANCELLED, "0.001")]  # fmt: skip
        for i, (coid, role, status, filled) in enumerate(cut):
            node.storage.upsert_order(Order(
                coid, sid, "paper", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.002"),
                status=status, filled=Decimal(filled), signal={"arb": role, "kind": "cross_venue"},
                created_ts=1_000 + i, updated_ts=1_000 + i,
            ))  # fmt: skip
    finally:
        node.close()
    [held] = await _held_events_at_start(toml)
    assert held.data["client_order_ids"] == ["cut-1", "cut-2"]
    assert held.data["held"] == {"BTC/USDT on paper (buy)": "0.003"}


async def test_a_start_after_a_cut_unwind_records_the_legs_held_and_sends_nothing(
    tmp_path, data_dir
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    toml = write_paper_toml(tmp_path, data)
    node = TradingNode(load_config(toml))
    try:
        sid = node.strategies[0].id
        cut = [("cut-1", "leg", Side.BUY, "0.002"), ("back-1", "unwind", Side.SELL, "0.001")]
        for i, (coid, role, side, filled) in enumerate(cut):
            node.storage.upsert_order(Order(
                coid, sid, "paper", "BTC/USDT", side, OrderType.LIMIT, Decimal("0.002"),
                status=OrderStatus.FILLED, filled=Decimal(filled), signal={"arb": role},
                created_ts=1_000 + i, updated_ts=1_000 + i,
            ))  # fmt: skip
        node.storage.kv_set(ADOPTING_KEY, {sid: ["cut-1"]})  # the last start was unwinding
        orders_before = len(node.storage.load_orders(strategy_id=sid))
    finally:
        node.close()
    [held] = await _held_events_at_start(toml)
    assert held.data["client_order_ids"] == ["cut-1", "back-1"]
    assert "stopped again while unwinding" in held.data["reason"]
    node = TradingNode(load_config(toml))
    try:
        [rec] = load_arb_executions(node.storage, strategy_id=sid)
        assert rec["outcome"] == "held"
        named = [leg["client_order_id"] for leg in rec["legs"]["legs"]]
        assert named == ["cut-1", "back-1"]
        assert node.storage.kv_get(ADOPTING_KEY) == {}
        assert len(node.storage.load_orders(strategy_id=sid)) == orders_before
    finally:
        node.close()
    assert await _held_events_at_start(toml) == []  # the record names them: never again


async def test_a_start_after_an_unwind_that_recorded_its_legs_only_clears_the_mark(
    tmp_path, data_dir
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    toml = write_paper_toml(tmp_path, data)
    node = TradingNode(load_config(toml))
    try:
        sid = node.strategies[0].id
        node.storage.upsert_order(Order(
            "cut-1", sid, "paper", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.002"),
            status=OrderStatus.FILLED, filled=Decimal("0.002"), signal={"arb": "leg"},
            created_ts=1_000, updated_ts=1_000,
        ))  # fmt: skip
        insert_arb_execution(node.storage, {
            "strategy_id": sid, "start_asset": "USDT", "outcome": "unwound", "ts": 1_001,
            "legs": {"legs": [{"client_order_id": "cut-1"}]},
        })  # fmt: skip
        node.storage.kv_set(ADOPTING_KEY, {sid: ["cut-1"]})  # killed after the record
    finally:
        node.close()
    assert await _held_events_at_start(toml) == []
    node = TradingNode(load_config(toml))
    try:
        assert node.storage.kv_get(ADOPTING_KEY) == {}
        assert len(load_arb_executions(node.storage, strategy_id=sid)) == 1
    finally:
        node.close()

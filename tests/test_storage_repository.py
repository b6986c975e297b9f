from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from tradeguard.model import (
    Balance,
    Event,
    Fill,
    LiquiditySide,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from tradeguard.storage import Database, RunState, Storage

pytest_plugins = ["storage_fixtures"]

D = Decimal


def _order(cid: str = "c-1", ts: int = 1_000, **kw: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": cid,
        "strategy_id": "ma",
        "venue": "binance",
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "amount": D("0.00100000"),
        "price": D("64123.45"),
        "created_ts": ts,
        "updated_ts": ts,
    }
    fields.update(kw)
    return Order(**fields)  # type: ignore[arg-type]


def _fill(trade_id: str, cid: str = "c-1", **kw: object) -> Fill:
    fields: dict[str, object] = {
        "venue": "binance",
        "symbol": "BTC/USDT",
        "client_order_id": cid,
        "venue_order_id": "v-1",
        "trade_id": trade_id,
        "side": Side.BUY,
        "price": D("64000.01"),
        "amount": D("0.0004"),
        "fee": D("0.0000004"),
        "fee_asset": "BTC",
        "liquidity": LiquiditySide.TAKER,
        "ts": 2_000,
    }
    fields.update(kw)
    return Fill(**fields)  # type: ignore[arg-type]


# orders -------------------------------------------------------------------------------------------
def test_order_round_trips_every_field(store: Storage) -> None:
    order = Order(
        client_order_id="tg-ma-000001",
        strategy_id="ma",
        venue="binance",
        symbol="ETH/USDT",
        side=Side.SELL,
        type=OrderType.LIMIT,
        amount=D("1.23456789"),
        price=D("3012.000000000000000001"),
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
        status=OrderStatus.PARTIALLY_FILLED,
        venue_order_id="884422",
        filled=D("0.5"),
        avg_price=D("3012.5"),
        fee=D("1E-8"),
        created_ts=1_700_000_000_000,
        updated_ts=1_700_000_000_123,
        reason="partial",
        price_bound=D("3000"),
        stop_loss=D("3100.10"),
        take_profit=D("2900"),
        signal={"source": "webhook", "score": D("0.75"), "tags": ["a", "b"]},
    )
    store.upsert_order(order)
    loaded = store.get_order("tg-ma-000001")
    expected_signal = {"source": "webhook", "score": "0.75", "tags": ["a", "b"]}
    assert loaded is not None
    assert loaded.signal == expected_signal
    loaded.signal = order.signal
    assert loaded == order
    assert store.get_order("missing") is None


def test_upsert_order_replaces_the_journal_row(store: Storage) -> None:
    order = _order()
    store.upsert_order(order)
    order.transition(OrderStatus.SUBMITTED, ts=1_001)
    order.venue_order_id = "v-9"
    store.upsert_order(order)
    loaded = store.get_order("c-1")
    assert loaded is not None
    assert (loaded.status, loaded.venue_order_id, loaded.updated_ts) == (
        OrderStatus.SUBMITTED,
        "v-9",
        1_001,
    )
    assert len(store.load_orders()) == 1
    assert store.count_orders() == 1


def test_order_update_keeps_the_venue_symbol_and_creation_time_it_was_journaled_with(
    store: Storage,
) -> None:
    store.upsert_order(_order())
    moved = _order(venue="kraken", symbol="ETH/USDT", ts=5_000, status=OrderStatus.FILLED)
    store.upsert_order(moved)
    (loaded,) = store.load_orders()
    assert (loaded.venue, loaded.symbol, loaded.created_ts) == ("binance", "BTC/USDT", 1_000)
    assert (loaded.status, loaded.updated_ts) == (OrderStatus.FILLED, 5_000)


def test_load_orders_filters_and_lists_newest_first(store: Storage) -> None:
    store.upsert_order(_order("a", ts=1))
    store.upsert_order(_order("b", ts=2, status=OrderStatus.FILLED))
    store.upsert_order(_order("c", ts=3, symbol="ETH/USDT", strategy_id="arb"))
    store.upsert_order(_order("d", ts=4, venue="kraken"))
    assert [o.client_order_id for o in store.load_orders()] == ["d", "c", "b", "a"]
    assert [o.client_order_id for o in store.load_orders(open_only=True)] == ["d", "c", "a"]
    assert [o.client_order_id for o in store.load_orders(venue="kraken")] == ["d"]
    assert [o.client_order_id for o in store.load_orders(symbol="ETH/USDT")] == ["c"]
    assert [o.client_order_id for o in store.load_orders(strategy_id="arb")] == ["c"]
    assert [o.client_order_id for o in store.load_orders(limit=2, offset=1)] == ["c", "b"]


def test_loaded_orders_rebuild_trade_ids_from_fills(store: Storage) -> None:
    store.upsert_order(_order("c-1"))
    store.upsert_order(_order("c-2", ts=2_000))
    store.insert_fill(_fill("t1", "c-1"), "ma")
    store.insert_fill(_fill("t2", "c-1"), "ma")
    by_cid = {o.client_order_id: o for o in store.load_orders()}
    assert by_cid["c-1"].trade_ids == {"t1", "t2"}
    assert by_cid["c-2"].trade_ids == set()


def test_transitions_are_journaled_in_order(store: Storage) -> None:
    store.upsert_order(_order())
    store.record_transition("c-1", "new", "submitted", 10)
    store.record_transition("c-1", "submitted", "rejected", 11, reason="insufficient balance")
    rows = store.load_transitions("c-1")
    assert [(r["from_status"], r["to_status"], r["ts"], r["reason"]) for r in rows] == [
        ("new", "submitted", 10, ""),
        ("submitted", "rejected", 11, "insufficient balance"),
    ]


def test_transition_of_an_unjournaled_order_is_refused(store: Storage) -> None:
    with pytest.raises(IntegrityError):
        store.record_transition("never-journaled", "new", "submitted", 10)


# fills --------------------------------------------------------------------------------------------
def test_duplicate_fill_is_ignored_without_error(store: Storage) -> None:
    assert store.insert_fill(_fill("t1"), "ma") is True
    again = _fill("t1", price=D("1"), amount=D("9"))
    assert store.insert_fill(again, "other") is False
    fills = store.load_fills()
    assert fills == [_fill("t1")]
    # Same trade id on another symbol is a different execution.
    assert store.insert_fill(_fill("t1", symbol="ETH/USDT"), "ma") is True
    assert store.fill_keys("binance", "BTC/USDT") == {("t1", "buy")}


def test_duplicate_fill_inside_a_transaction_keeps_the_other_writes(store: Storage) -> None:
    store.insert_fill(_fill("t1"))
    with store.transaction():
        assert store.insert_fill(_fill("t1")) is False
        store.kv_set("after_duplicate", 1)
    assert store.kv_get("after_duplicate") == 1


def test_load_fills_filters(store: Storage) -> None:
    store.insert_fill(_fill("t1", "c-1", ts=100), "ma")
    store.insert_fill(_fill("t2", "c-2", ts=200), "arb")
    store.insert_fill(_fill("t3", "c-2", ts=300, venue="kraken"), "arb")
    assert [f.trade_id for f in store.load_fills()] == ["t1", "t2", "t3"]
    assert [f.trade_id for f in store.load_fills(newest_first=True, limit=2)] == ["t3", "t2"]
    assert [f.trade_id for f in store.load_fills(strategy_id="arb")] == ["t2", "t3"]
    assert [f.trade_id for f in store.load_fills(client_order_id="c-1")] == ["t1"]
    assert [f.trade_id for f in store.load_fills(venue="kraken")] == ["t3"]
    assert [f.trade_id for f in store.load_fills(since_ts=200, limit=1)] == ["t2"]
    assert [f.trade_id for f in store.load_fills(offset=2)] == ["t3"]
    assert store.load_fills(symbol="ETH/USDT") == []


def test_fill_fees_count_every_fill_and_value_each_fee_in_its_quote(store: Storage) -> None:
    store.insert_fill(_fill("t1", fee=D("0.5"), fee_asset="USDT"))
    store.insert_fill(_fill("t2", price=D("100"), fee=D("0.002"), fee_asset="BTC"))
    store.insert_fill(_fill("t3", fee=D("1"), fee_asset="BNB"))  # no price for it: not counted
    store.insert_fill(_fill("t4", fee=D("0"), fee_asset="USDT"))
    fills = store.load_fills()
    assert store.fill_fees() == (4, D("0.7"))
    assert store.fill_fees() == (len(fills), sum((f.fee_in_quote for f in fills), D(0)))
    assert store.count_fills() == 4


def test_fill_fees_of_an_empty_journal_are_zero(store: Storage) -> None:
    assert store.fill_fees() == (0, D(0))
    assert store.count_fills() == 0


# positions ----------------------------------------------------------------------------------------
def test_position_open_update_close_lifecycle(store: Storage) -> None:
    pos = Position("binance", "BTC/USDT", "ma")
    assert pos.apply(Side.BUY, D("100"), D("2"), D("0.2"), ts=10) is None
    pos.stop_loss, pos.take_profit = D("90"), D("120")
    store.save_position(pos, D("101"))
    (row,) = store.load_position_rows(status="open")
    assert (row["side"], row["quantity"], row["entry_price"], row["unrealized_pnl"]) == (
        "long",
        D("2"),
        D("100"),
        D("2"),
    )
    assert pos.apply(Side.SELL, D("110"), D("1"), D("0.1"), ts=20) is None
    store.save_position(pos)  # no mark: the last one is kept
    (loaded,) = store.load_open_positions()
    assert loaded == pos
    assert store.load_position_rows(status="open")[0]["current_price"] == D("101")

    trade = pos.apply(Side.SELL, D("120"), D("1"), D("0.1"), ts=30)
    assert trade is not None
    store.close_position(trade, pos)
    assert store.load_open_positions() == []
    (closed,) = store.load_position_rows(status="closed", strategy_id="ma")
    assert closed["status"] == "closed"
    assert (closed["exit_price"], closed["exit_ts"], closed["entry_ts"]) == (D("120"), 30, 10)
    assert (closed["pnl"], closed["pnl_pct"]) == (trade.pnl, trade.pnl_pct)
    assert closed["pnl"] == D("29.6")


def test_closed_pnls_list_the_closed_trades_newest_first(store: Storage) -> None:
    for sid, exit_px in (("a", "110"), ("b", "95"), ("a", "90")):
        pos = Position("binance", "BTC/USDT", sid)
        pos.apply(Side.BUY, D("100"), D("1"), D("0"), ts=1)
        store.save_position(pos, D("100"))
        trade = pos.apply(Side.SELL, D(exit_px), D("1"), D("0"), ts=2)
        assert trade is not None
        store.close_position(trade, pos)
    still_open = Position("binance", "ETH/USDT", "a")
    still_open.apply(Side.BUY, D("10"), D("1"), D("0"), ts=3)
    store.save_position(still_open, D("10"))
    assert store.closed_pnls() == [D("-10"), D("-5"), D("10")]
    assert store.closed_pnls(strategy_id="a") == [D("-10"), D("10")]
    assert store.closed_pnls(strategy_id="c") == []


def test_flat_position_without_open_row_writes_nothing(store: Storage) -> None:
    store.save_position(Position("binance", "BTC/USDT", "ma"), D("100"))
    assert store.load_position_rows() == []


def test_flip_closes_the_old_row_and_opens_a_short(store: Storage) -> None:
    pos = Position("binance", "BTC/USDT", "ma")
    pos.apply(Side.BUY, D("100"), D("1"), D("0"), ts=1)
    store.save_position(pos, D("100"))
    trade = pos.apply(Side.SELL, D("90"), D("3"), D("0"), ts=2)
    assert trade is not None
    with store.transaction():
        store.close_position(trade, pos)
        store.save_position(pos, D("90"))
    (short,) = store.load_open_positions()
    assert short.quantity == D("-2") and short.avg_entry == D("90")
    rows = store.load_position_rows()
    assert [(r["status"], r["side"]) for r in rows] == [("open", "short"), ("closed", "long")]


def test_close_without_open_row_still_records_the_trade(store: Storage) -> None:
    pos = Position("binance", "ETH/USDT", "x")
    pos.apply(Side.SELL, D("10"), D("1"), D("0"), ts=1)
    trade = pos.apply(Side.BUY, D("8"), D("1"), D("0"), ts=2)
    assert trade is not None
    store.close_position(trade, pos)
    (row,) = store.load_position_rows(status="closed")
    assert (row["side"], row["pnl"], row["exit_price"]) == ("short", D("2"), D("8"))


def test_positions_of_different_strategies_stay_apart(store: Storage) -> None:
    for sid in ("a", "b"):
        pos = Position("binance", "BTC/USDT", sid)
        pos.apply(Side.BUY, D("100"), D("1"), D("0"), ts=1)
        store.save_position(pos)
    assert sorted(p.strategy_id for p in store.load_open_positions()) == ["a", "b"]
    assert len(store.load_position_rows(strategy_id="a", limit=5)) == 1


# balances -----------------------------------------------------------------------------------------
def test_balances_upsert_per_venue_and_asset(store: Storage) -> None:
    store.upsert_balances(
        "binance",
        [Balance("binance", "USDT", D("1000.5"), D("20")), Balance("binance", "BTC", D("0.1"))],
        {"USDT": D("1020.5"), "BTC": D("6400")},
        ts=1,
    )
    store.upsert_balances("kraken", [Balance("kraken", "USDT", D("5"))], ts=1)
    store.upsert_balances("binance", [Balance("binance", "USDT", D("900"), D("0"))], ts=2)
    assert store.load_balances("binance") == [
        Balance("binance", "BTC", D("0.1"), D("0")),
        Balance("binance", "USDT", D("900"), D("0")),
    ]
    assert len(store.load_balances()) == 3
    usdt = next(r for r in store.load_balance_rows("binance") if r["asset"] == "USDT")
    # Without fresh USD values the last known one is kept.
    assert (usdt["total"], usdt["usd_value"], usdt["updated_ts"]) == (D("900"), D("1020.5"), 2)


def test_balance_adjustment_records_the_difference(store: Storage) -> None:
    adj_id = store.record_balance_adjustment(
        "binance", "USDT", D("100"), D("99.5"), "reconcile", ts=7
    )
    (row,) = store.load_balance_adjustments("binance")
    assert row["id"] == adj_id
    assert (row["difference"], row["reason"], row["ts"]) == (D("-0.5"), "reconcile", 7)


# run state, events, kv ----------------------------------------------------------------------------
def test_run_state_round_trips(store: Storage) -> None:
    state = RunState(
        strategy_id="ma",
        status="running",
        total_trades=3,
        winning_trades=2,
        losing_trades=1,
        total_pnl=D("12.345"),
        daily_pnl=D("-1.5"),
        daily_pnl_day="2024-03-01",
        last_signal_ts=5,
        last_trade_ts=6,
        cursor_ts=7,
        state={"fast": [1, 2], "last_price": "64000.1"},
        updated_ts=8,
    )
    store.save_run_state(state)
    assert store.load_run_state("ma") == state
    state.total_trades = 4
    store.save_run_state(state)
    store.save_run_state(RunState("arb"))
    assert [s.strategy_id for s in store.load_run_states()] == ["arb", "ma"]
    loaded = store.load_run_state("ma")
    assert loaded is not None and loaded.total_trades == 4
    assert store.load_run_state("nope") is None


def test_events_are_listed_newest_first_by_prefix_and_time(store: Storage) -> None:
    ids = [
        store.append_event(Event("order.submitted", 1, {"price": D("1.5")}, venue="binance")),
        store.append_event(Event("risk.denied", 2, severity="warning", strategy_id="ma")),
        store.append_event(Event("order.filled", 3, symbol="BTC/USDT")),
        store.append_event(Event("order_x", 4)),
    ]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e.kind for e in store.load_events()] == [
        "order_x",
        "order.filled",
        "risk.denied",
        "order.submitted",
    ]
    orders = store.load_events(kind_prefix="order.")
    assert [e.kind for e in orders] == ["order.filled", "order.submitted"]
    assert orders[1] == Event("order.submitted", 1, {"price": "1.5"}, venue="binance")
    assert [e.ts for e in store.load_events(since_ts=2, limit=2)] == [4, 3]
    assert store.load_events(kind_prefix="risk.")[0].severity == "warning"


def test_kv_round_trips_json_values(store: Storage) -> None:
    assert store.kv_get("trading_state") is None
    store.kv_set("trading_state", {"state": "HALTED", "by": "ops", "loss": D("-12.50")})
    assert store.kv_get("trading_state") == {"state": "HALTED", "by": "ops", "loss": "-12.50"}
    store.kv_set("trading_state", "ACTIVE")
    assert store.kv_get("trading_state") == "ACTIVE"
    store.kv_set("cursor", 1_700_000_000_000)
    assert store.kv_get("cursor") == 1_700_000_000_000
    store.kv_delete("cursor")
    assert store.kv_get("cursor") is None


# transactions -------------------------------------------------------------------------------------
def test_exception_in_transaction_writes_nothing(store: Storage) -> None:
    with pytest.raises(RuntimeError, match="venue exploded"), store.transaction():
        store.upsert_order(_order())
        store.record_transition("c-1", "new", "submitted", 1)
        store.insert_fill(_fill("t1"))
        with store.transaction():
            store.kv_set("k", 1)
        raise RuntimeError("venue exploded")
    assert store.get_order("c-1") is None
    assert store.load_fills() == []
    assert store.kv_get("k") is None
    assert not store.in_transaction


def test_nested_transactions_commit_once_at_outer_exit(store: Storage) -> None:
    other = Storage(store.db)  # another handle sees only committed data
    with store.transaction():
        with store.transaction():
            store.upsert_order(_order())
        assert store.get_order("c-1") is not None  # visible inside
        if store.db.is_postgres:
            assert other.get_order("c-1") is None  # not committed yet
    assert other.get_order("c-1") is not None


def test_each_write_outside_a_transaction_commits_on_its_own(storage_db_url: str) -> None:
    db = Database(storage_db_url)
    db.migrate()
    Storage(db).upsert_order(_order())
    db.dispose()
    reopened = Database(storage_db_url)
    assert Storage(reopened).get_order("c-1") is not None
    reopened.dispose()


def test_held_connection_commits_each_transaction_and_reads_other_commits(
    store: Storage,
) -> None:
    other = Storage(store.db)
    with store.holding_connection():
        with store.transaction():
            store.upsert_order(_order())
        assert other.get_order("c-1") is not None  # committed, not waiting for the block's end
        store.kv_set("k", 1)  # a write outside a transaction commits on its own
        assert other.kv_get("k") == 1
        other.upsert_order(_order("c-2", ts=2_000))
        assert store.get_order("c-2") is not None  # a read is not stuck on an old snapshot
        with pytest.raises(RuntimeError), store.transaction():
            store.upsert_order(_order("c-3"))
            raise RuntimeError("rolled back")
        assert store.get_order("c-3") is None
        with store.transaction():  # the held connection is usable after a rollback
            store.record_transition("c-1", "new", "submitted", 3)
    assert len(store.load_transitions("c-1")) == 1
    assert store.count_orders() == 2


def test_held_connection_serves_only_the_thread_that_holds_it(store: Storage) -> None:
    seen: list[Order | None] = []
    with store.holding_connection(), store.transaction():
        store.upsert_order(_order())
        worker = threading.Thread(target=lambda: seen.append(store.get_order("c-1")))
        worker.start()
        worker.join(timeout=10)
    assert seen == [None]  # the other thread read through its own connection: not committed yet


def test_transaction_belongs_to_the_thread_that_opened_it(store: Storage) -> None:
    seen: list[bool] = []
    with store.transaction():
        worker = threading.Thread(target=lambda: seen.append(store.in_transaction))
        worker.start()
        worker.join(timeout=10)
        assert store.in_transaction
    assert seen == [False]

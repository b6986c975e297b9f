from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from enum import Enum, IntEnum
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from tradeguard.model import Order, OrderType, Position, Side
from tradeguard.model.events import EventData
from tradeguard.storage import Database, Storage
from tradeguard.storage.driver import dumps_jsonable, dumps_plain
from tradeguard.storage.tables import orders, positions
from tradeguard.storage.types import _jsonable_other, jsonable

pytest_plugins = ["storage_fixtures"]

D = Decimal


class _Color(Enum):
    RED = "red"


class _Level(IntEnum):
    HIGH = 3


class _Strish(str, Enum):  # noqa: UP042  (str() of such a member differs from its value)
    A = "a"


class _Dec(Decimal):
    pass


@pytest.fixture
def store(storage_db_url: str) -> Storage:
    db = Database(storage_db_url)
    db.migrate()
    return Storage(db)


def _order(**kw: Any) -> Order:
    fields: dict[str, Any] = {
        "client_order_id": "c-1",
        "strategy_id": "ma",
        "venue": "paper",
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "type": OrderType.MARKET,
        "amount": D("0.00100000"),
        "created_ts": 1_000,
        "updated_ts": 1_000,
    }
    fields.update(kw)
    return Order(**fields)


@pytest.mark.parametrize(
    "value",
    [
        {"a": D("1.10"), "b": [1, 2.5, None, True], "c": {"d": (D("0"), "x")}},
        {1: "int key", False: "bool key", None: "none key", 2.5: "float key"},
        {_Strish.A: _Strish.A, "color": _Color.RED, "level": _Level.HIGH},
        [_Dec("3.000"), {"s": {3, 1, 2}}, frozenset({"b", "a"}), ("t", [D("-0E-8")])],
        [[1_640_995_200_000, "10000.12345678"], [1_640_996_100_000, "9999.5"]],
        "plain",
        D("1E+3"),
        None,
    ],
)
def test_fast_jsonable_matches_the_generic_conversion(value: Any) -> None:
    assert json.dumps(jsonable(value)) == json.dumps(_jsonable_other(value))


@pytest.mark.parametrize(
    "value",
    [
        {"a": D("1.10"), "b": [1, 2.5, None, True], "c": {"d": (D("0"), "x")}, "é": '"q"\n'},
        {1: "int key", False: "bool key", None: "none key", 2.5: "float key"},
        [float("nan"), float("inf"), -0.0, 10**30, {}],
        "plain",
        D("1E+3"),
        None,
    ],
)
def test_stored_json_text_is_json_dumps_of_the_jsonable_value(value: Any) -> None:
    assert dumps_plain(jsonable(value)) == json.dumps(jsonable(value))


def test_jsonable_still_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="cannot store object"):
        jsonable({"x": object()})


@pytest.mark.parametrize(
    "value",
    [
        {"a": D("1.10"), "b": [1, 2.5, None, True], "c": {"d": (D("0"), "x")}, "é": '"q"\n'},
        {"side": "buy", "amount": D("-0E-8"), "signal": {"close": D("1E+3"), "ts": 10**13}},
        [float("nan"), float("inf"), -0.0, 10**30, {}, ()],
        # what goes through `jsonable` first: keys other than str, enums, sets, subclasses
        {1: "int key", False: "bool key", None: "none key", float("inf"): "inf key"},
        {"deep": [{"ok": 1}, {True: "bool key in a list"}]},
        {_Strish.A: "str-enum key", "v": _Strish.A, "c": _Color.RED, "l": _Level.HIGH},
        {"d": _Dec("3.000"), "s": {3, 1, 2}, "o": OrderedDict([(2, "x")])},
        ["plain", D("2.50"), None],
        D("1E+3"),
        "plain",
    ],
)
def test_one_pass_json_text_equals_the_jsonable_conversion_then_dumps(value: Any) -> None:
    assert dumps_jsonable(value) == json.dumps(jsonable(value))


def test_one_pass_json_text_still_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="cannot store object"):
        dumps_jsonable({"x": [object()]})


def test_order_decimals_and_signal_round_trip_exactly(store: Storage) -> None:
    order = _order(
        price=D("64123.450000000000000001"),
        stop_loss=D("1E-8"),
        signal={"fast_sma": 47123.12345678, "close": D("47200.50"), "tags": ("a", "b")},
    )
    store.upsert_order(order)
    loaded = store.get_order("c-1")
    assert loaded is not None
    assert loaded.amount == D("0.00100000") and str(loaded.amount) == "0.00100000"
    assert str(loaded.price) == "64123.450000000000000001"
    assert str(loaded.stop_loss) == "1E-8"
    assert loaded.signal == {"fast_sma": 47123.12345678, "close": "47200.50", "tags": ["a", "b"]}


def test_float_money_is_refused_on_the_driver_path(store: Storage) -> None:
    with pytest.raises(StatementError, match=r"got float 0\.1"):
        store.upsert_order(_order(amount=0.1))
    assert store.load_orders() == []


def test_driver_path_writes_belong_to_the_open_transaction(store: Storage) -> None:
    with pytest.raises(IntegrityError), store.transaction():
        store.upsert_order(_order())
        store.record_transition("never-journaled", "new", "submitted", 10)
    # The failed statement rolled the whole transaction back, order row included.
    assert store.get_order("c-1") is None
    with store.db.engine.connect() as conn:
        assert conn.execute(select(orders.c.client_order_id)).all() == []


def test_flat_position_update_keeps_the_last_mark_when_none_is_given(store: Storage) -> None:
    pos = Position("paper", "BTC/USDT", "ma", quantity=D("0.5"), avg_entry=D("100"))
    store.save_position(pos, D("110"))
    pos.quantity = D("0")
    pos.realized_pnl = D("4.5")
    store.save_position(pos, None)
    with store.db.engine.connect() as conn:
        row = conn.execute(select(positions)).one()
    assert row.status == "open"
    assert row.quantity == D("0") and row.realized_pnl == D("4.5")
    assert row.current_price == D("110") and row.unrealized_pnl == D("5.0")


def test_compiled_parameters_equal_each_column_processor_in_turn(store: Storage) -> None:
    """Every statement's one-expression parameters equal its bind processors applied one by one
    (Decimals, None, JSON with Decimals inside, booleans, ints for Decimal columns)."""
    statements = [s for s in vars(store).values() if type(s).__name__ == "DriverStatement"]
    assert len(statements) >= 10
    samples = [
        None,
        D("1E+3"),
        D("-0.00100"),
        7,
        1.5,
        True,
        False,
        "x",
        {"a": D("1.5"), "b": [1, (2,)]},
    ]
    for stmt in statements:
        for sample in samples:
            row = {n: sample for n in stmt.names}
            # the same row as an object with an attribute per column (an Event to the audit log)
            obj = SimpleNamespace(**row)
            try:
                expected = stmt._params_slow([row[n] for n in stmt.names], row)
            except StatementError:
                with pytest.raises(StatementError):
                    stmt.params(row)
                with pytest.raises(StatementError):
                    stmt.params_of_objects([obj])
                continue
            assert stmt.params(row) == expected, (stmt.sql, sample)
            assert stmt.params_of(tuple(row[n] for n in stmt.names)) == expected
            assert stmt.params_of_objects([obj, obj]) == [expected, expected]


@pytest.mark.parametrize(
    "signal",
    [
        None,
        {"reason": "bench", "close": D("1E+3"), "ts": 10**13, "tags": ["a", ("b", D("0.10"))]},
        # a signal from outside that the encoder alone would write otherwise: through jsonable
        {1: "int key", False: "bool key", None: "none key"},
        {"c": _Color.RED, "s": {3, 1, 2}, "d": _Dec("3.000"), "k": {_Strish.A: 1}},
        {"deep": [{"ok": 1}, {True: "bool key in a list"}]},
        "text",
        [1, {2: "x"}],
    ],
)
def test_order_path_event_data_is_stored_as_the_same_json_text(signal: Any) -> None:
    # The order path's event data (string keys, leaf values) skips the walk but for its signal:
    # the text is json.dumps of the jsonable value, whatever the signal holds.
    data = EventData(
        {
            "client_order_id": "c-1",
            "venue_order_id": None,
            "side": "buy",
            "amount": "0.001",
            "filled": D("0E-8"),
            "entry": True,
            "n": 3,
            "reason": 'quoted "x"\n é',
            "signal": signal,
        }
    )
    assert dumps_jsonable(data) == json.dumps(jsonable(dict(data)))


def test_order_path_event_leaves_the_encoder_cannot_take_still_go_through_jsonable() -> None:
    # A leaf of a type the encoder leaves to its hook (an enum, a set, a Decimal subclass) is
    # converted by `jsonable`, as for any other data; a str or int enum is written as its value.
    data = EventData(
        {"side": _Color.RED, "s": _Strish.A, "ids": {2, 1}, "fee": _Dec("1.50"), "l": _Level.HIGH}
    )
    assert dumps_jsonable(data) == json.dumps(jsonable(dict(data)))
    with pytest.raises(TypeError, match="cannot store object"):
        dumps_jsonable(EventData({"x": object()}))

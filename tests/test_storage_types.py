from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from tradeguard.storage import Database
from tradeguard.storage.types import DecimalType, JsonType, from_epoch_ms, to_epoch_ms

pytest_plugins = ["storage_fixtures"]

AWKWARD = [
    "0.000000000000000001",
    "123456789012345678901234.5678",
    "-42.1000",
    "1E-8",
    "-1E-30",
    "0",
    "-0.00",
    "1.50",
    "99999999999999999999999999999999999999.000000000000000000000000000001",
]

_meta = MetaData()
_money = Table(
    "money_probe",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("value", DecimalType, nullable=True),
    Column("doc", JsonType, nullable=True),
)


def _round_trip(db: Database, values: list[Decimal | None]) -> list[Decimal | None]:
    _meta.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(insert(_money), [{"id": i, "value": v} for i, v in enumerate(values)])
    with db.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(_money.c.value).order_by(_money.c.id))]


def test_decimals_round_trip_exactly_on_sqlite(storage_sqlite_url: str) -> None:
    db = Database(storage_sqlite_url)
    values: list[Decimal | None] = [Decimal(v) for v in AWKWARD] + [None]
    back = _round_trip(db, values)
    assert back == values
    # SQLite keeps the very representation, exponent and trailing zeros included.
    assert [str(v) for v in back[:-1]] == [str(Decimal(v)) for v in AWKWARD]
    assert all(isinstance(v, Decimal) for v in back[:-1])
    db.dispose()


@pytest.mark.postgres
def test_decimals_round_trip_exactly_on_postgres(storage_pg_url: str) -> None:
    db = Database(storage_pg_url)
    values: list[Decimal | None] = [Decimal(v) for v in AWKWARD] + [None]
    back = _round_trip(db, values)
    assert back == values
    assert all(isinstance(v, Decimal) for v in back[:-1])
    # NUMERIC keeps the scale it was given: trailing zeros survive.
    assert str(back[AWKWARD.index("1.50")]) == "1.50"
    assert str(back[0]) == "1E-18"
    db.dispose()


def test_float_is_refused_for_money(storage_sqlite_url: str) -> None:
    db = Database(storage_sqlite_url)
    _meta.create_all(db.engine)
    with pytest.raises(StatementError, match=r"got float 0\.1"), db.engine.begin() as conn:
        conn.execute(insert(_money), {"id": 1, "value": 0.1})
    db.dispose()


def test_json_stores_decimals_as_strings(storage_db_url: str) -> None:
    db = Database(storage_db_url)
    _meta.create_all(db.engine)
    doc = {"price": Decimal("0.000000000000000001"), "legs": (Decimal("1E-8"), 2), "ok": True}
    with db.engine.begin() as conn:
        conn.execute(insert(_money), {"id": 1, "doc": doc})
        conn.execute(insert(_money), {"id": 2, "doc": None})
    with db.engine.connect() as conn:
        rows = conn.execute(select(_money.c.doc).order_by(_money.c.id)).all()
    assert rows[0][0] == {"price": "1E-18", "legs": ["1E-8", 2], "ok": True}
    assert Decimal(rows[0][0]["price"]) == Decimal("0.000000000000000001")
    assert rows[1][0] is None
    db.dispose()


def test_epoch_ms_helpers_are_utc() -> None:
    moment = datetime(2024, 3, 1, 12, 30, 0, 250000, tzinfo=UTC)
    assert to_epoch_ms(moment) == 1709296200250
    assert from_epoch_ms(1709296200250) == moment
    assert to_epoch_ms(moment.replace(tzinfo=None)) == 1709296200250

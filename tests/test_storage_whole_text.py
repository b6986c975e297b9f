"""Every text column may hold what came from outside (a venue's symbols and messages, a kill
reason typed by an operator, a bot's signal, an order tag): a lone UTF-16 surrogate (half of a
pair, which JSON's `\\ud800` decodes to) or a NUL in it is stored as U+FFFD, on PostgreSQL
(which refused the whole write) and on SQLite (which refused it too, or kept it for a JSON
export to fail on)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from tradeguard.model.events import Event
from tradeguard.storage import Database, Storage
from tradeguard.storage.tables import metadata

LONE = "sig\ud800nal"
SHOWN = "sig\ufffdnal"


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()])
def test_every_text_column_cleans_what_it_stores(dialect: Dialect) -> None:
    def stored(column: Column[Any]) -> Any:
        proc = column.type.dialect_impl(dialect).bind_processor(dialect)
        return LONE if proc is None else proc(LONE)

    raw = [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type.dialect_impl(dialect), String) and stored(column) != SHOWN
    ]
    assert raw == []


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest) -> Storage:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    db.migrate()
    return Storage(db)


def test_outside_text_is_stored_with_a_stand_in(storage: Storage) -> None:
    # a venue's symbol and message, as the audit log stores them (the hot write path)
    storage.append_events([Event("venue.error", 1, {"msg": LONE}, "paper", f"BTC/{LONE}")])
    storage.append_event(Event("kill", 2, {}, "paper", "ETH/USDT", "bot\ud83d", "critical"))
    events = sorted(storage.load_events(), key=lambda e: e.ts)
    assert [e.symbol for e in events] == [f"BTC/{SHOWN}", "ETH/USDT"]
    assert events[0].data == {"msg": SHOWN}
    assert events[1].strategy_id == "bot\ufffd"
    # a reason typed by an operator, a venue's asset name (through SQLAlchemy's own execute)
    storage.record_balance_adjustment(
        "paper", f"X{LONE}", Decimal(1), Decimal(2), f"manual: {LONE}\x00", 3
    )
    [row] = storage.load_balance_adjustments()
    assert row["asset"] == f"X{SHOWN}"
    nul = "\x00" if storage.db.engine.dialect.name == "sqlite" else "\ufffd"
    assert row["reason"] == f"manual: {SHOWN}{nul}"
    json.dumps(row, default=str).encode()  # an export of it is UTF-8


def test_a_whole_pair_is_kept_as_its_character(storage: Storage) -> None:
    storage.append_event(Event("bot.signal", 1, {}, "paper", "\ud83d\ude00/USDT"))
    assert storage.load_events()[0].symbol == "\U0001f600/USDT"


def test_plain_ascii_with_a_nul_on_the_driver_path_is_stored_as_its_database_keeps_it(
    storage: Storage,
) -> None:
    # the audit log's compiled parameters: ASCII text holding a NUL is kept on SQLite (which
    # stores it as given) and has it replaced on PostgreSQL, as the column's processor does
    storage.append_events([Event("venue.error", 1, {}, "paper", "BTC/\x00USDT", "s\x00", "info")])
    [event] = storage.load_events()
    nul = "\x00" if storage.db.engine.dialect.name == "sqlite" else "\ufffd"
    assert (event.symbol, event.strategy_id) == (f"BTC/{nul}USDT", f"s{nul}")

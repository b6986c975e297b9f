"""The storage package turns SQLite's memory statistics off before `sqlite3` starts the library,
and what a database stores stays the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A fresh interpreter: the storage package imported first, as the command line does, a run
# database made and an order written; then what SQLite's own counters say.
_PROBE = """
import ctypes, json, sys
from decimal import Decimal
from tradeguard.model import Order, OrderType, Side
from tradeguard.storage import Database, Storage, sqlite_library
db = Database("sqlite:///" + sys.argv[1])
db.create_at_head()
storage = Storage(db)
storage.upsert_order(Order(
    client_order_id="c1", strategy_id="s", venue="paper", symbol="ETH/BTC", side=Side.BUY,
    type=OrderType.MARKET, amount=Decimal("1.5"),
))
lib = ctypes.CDLL("libsqlite3.so.0")
lib.sqlite3_memory_used.restype = ctypes.c_int64
used = lib.sqlite3_memory_used()
rows = [list(r) for r in db.engine.connect().exec_driver_sql(
    "SELECT client_order_id, amount, price FROM orders").all()]
db.dispose()
print(json.dumps({"off": sqlite_library.MEMORY_STATISTICS_OFF, "used": used, "rows": rows}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the library's Linux name")
def test_memory_statistics_are_off_and_rows_unchanged(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "run.db")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = json.loads(done.stdout)
    # counted, SQLite would hold some hundred KiB for the open connection and its cache
    assert out["used"] == 0
    assert out["off"] is True
    assert out["rows"] == [["c1", "1.5", None]]


def test_a_library_already_started_is_left_as_it_is() -> None:
    import sqlite3

    from tradeguard.storage.sqlite_library import memory_statistics_off

    sqlite3.connect(":memory:").close()  # started: the setting can no longer be taken
    assert memory_statistics_off() is False

"""Key-value rows and events (written outside the order path's statements) take a NUL on
PostgreSQL as U+FFFD; SQLite keeps it."""

from __future__ import annotations

import pytest

from tradeguard.model.events import Event, EventKind
from tradeguard.storage import Database, Storage


def _storage(url: str) -> Storage:
    db = Database(url)
    db.migrate()
    return Storage(db)


@pytest.mark.postgres
def test_kv_and_events_on_postgres(pg_url) -> None:
    s = _storage(pg_url)
    with s.transaction():
        s.kv_set("k", {"a\x00": ["b\x00", {"c": "\x00"}]}, 1)
    assert s.kv_get("k") == {"a\ufffd": ["b\ufffd", {"c": "\ufffd"}]}
    with s.transaction():
        s.append_events([Event(kind=EventKind.KILL, ts=1, data={"reason": "x\x00y"})])
    s.kv_set("k2", "plain\x00", 2)
    assert s.kv_get("k2") == "plain\ufffd"


def test_kv_on_sqlite(sqlite_url) -> None:
    s = _storage(sqlite_url)
    with s.transaction():
        s.kv_set("k", {"a\x00": "b\x00"}, 1)
    assert s.kv_get("k") == {"a\x00": "b\x00"}

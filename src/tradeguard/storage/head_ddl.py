"""The head schema's SQLite DDL as stored text: an empty SQLite database (every backtest makes
one) is created from it instead of compiling the table metadata (~6 ms of a backtest's start).

`sqlite_head.json` holds what `metadata.create_all` emits on SQLite (tables, indexes and the
append-only triggers), in the order it ran them (a table's indexes come in no fixed order), and
the revision it was made at. It is generated:

    .venv/bin/python -m tradeguard.storage.head_ddl

tests/test_storage_fresh_schema.py fails when it differs from what the metadata gives.
"""

from __future__ import annotations

import json
from pathlib import Path

STORED = Path(__file__).resolve().parent / "sqlite_head.json"


def render_sqlite_ddl() -> list[str]:
    """The statements `metadata.create_all(checkfirst=False)` runs on SQLite, in that order."""
    from sqlalchemy import create_mock_engine

    from tradeguard.storage.tables import metadata

    out: list[str] = []

    def collect(sql: object, *_args: object, **_kwargs: object) -> None:
        out.append(str(sql.compile(dialect=engine.dialect)))  # type: ignore[attr-defined]

    engine = create_mock_engine("sqlite://", collect)
    metadata.create_all(engine, checkfirst=False)
    return out


def stored_sqlite_ddl(revision: str) -> list[str] | None:
    """The stored statements if they were made at `revision`, else None (use the metadata)."""
    try:
        stored = json.loads(STORED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stored.get("revision") != revision:
        return None
    return list(stored["statements"])


def write_stored(revision: str) -> None:
    """Write `sqlite_head.json` from the metadata, at `revision`."""
    body = {"revision": revision, "statements": render_sqlite_ddl()}
    STORED.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    from tradeguard.storage.db import SCHEMA_HEAD

    write_stored(SCHEMA_HEAD)
    print(f"wrote {STORED} at revision {SCHEMA_HEAD}")

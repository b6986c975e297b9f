"""An empty SQLite database is created from the table metadata and stamped at the head
revision instead of replaying the migrations: both ways must give the same schema."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from tradeguard.storage import head_ddl
from tradeguard.storage.db import SCHEMA_HEAD, Database
from tradeguard.storage.head_ddl import render_sqlite_ddl, stored_sqlite_ddl
from tradeguard.storage.tables import metadata


def _migrated(path: Path) -> Database:
    """Run every migration through Alembic, as a database older than the fast path was made."""
    db = Database(f"sqlite:///{path}")
    cfg = db.alembic_config()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("BEGIN")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return db


def _schema(path: Path) -> dict[str, object]:
    """Every table's columns, indexes and foreign keys, and its DDL with whitespace folded."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        out: dict[str, object] = {}
        for kind, name, table, sql in rows:
            text = re.sub(r"\s+", " ", (sql or "").replace('"', "")).replace("( ", "(")
            out[f"{kind}:{name}"] = (table, text.replace(" )", ")"))
            if kind == "table":
                out[f"columns:{name}"] = conn.execute(f"PRAGMA table_info({name})").fetchall()
                out[f"fks:{name}"] = conn.execute(f"PRAGMA foreign_key_list({name})").fetchall()
                indexes = conn.execute(f"PRAGMA index_list({name})").fetchall()
                out[f"indexes:{name}"] = sorted(
                    (i[1], i[2], i[3], i[4],
                     conn.execute(f"PRAGMA index_xinfo({i[1]})").fetchall())
                    for i in indexes
                )  # fmt: skip
        return out
    finally:
        conn.close()


def test_fresh_sqlite_schema_equals_the_migrated_one(tmp_path: Path) -> None:
    migrated = _migrated(tmp_path / "migrated.db")
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.migrate()
    a, b = _schema(tmp_path / "migrated.db"), _schema(tmp_path / "fresh.db")
    assert len(a) > 40  # every table, index and pragma listing compared, not an empty schema
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key] == b[key], key
    assert fresh.current_revision() == migrated.current_revision() == SCHEMA_HEAD
    migrated.dispose()
    fresh.dispose()


def test_schema_head_is_the_newest_migration() -> None:
    cfg = Database("sqlite://").alembic_config()
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_fresh_database_then_later_migrations_still_apply(tmp_path: Path) -> None:
    # A database created at head is a normal Alembic database: migrate() is a no-op on it.
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.migrate()
    before = _schema(tmp_path / "a.db")
    db.migrate()
    assert _schema(tmp_path / "a.db") == before
    db.dispose()


def _no_alembic_upgrade(monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Alembic's upgrade ran on a database already at head")

    monkeypatch.setattr(command, "upgrade", refuse)


def test_a_sqlite_database_at_head_opens_without_alembic(tmp_path: Path, monkeypatch) -> None:
    # A restart finds its database at head: Alembic (its import and its scripts' loading, a
    # second or more of a live node's start on a busy machine) is left out.
    _migrated(tmp_path / "a.db").dispose()
    _no_alembic_upgrade(monkeypatch)
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.migrate()
    assert db.current_revision() == SCHEMA_HEAD
    db.dispose()


def test_a_postgresql_database_at_head_opens_without_alembic(pg_url: str, monkeypatch) -> None:
    Database(pg_url).migrate()  # through Alembic: every migration, from nothing
    _no_alembic_upgrade(monkeypatch)
    db = Database(pg_url)
    db.migrate()
    assert db.current_revision() == SCHEMA_HEAD
    db.dispose()


def test_a_database_behind_head_still_migrates(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    cfg = db.alembic_config()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("BEGIN")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    assert db.current_revision() == "0009"
    db.migrate()
    assert db.current_revision() == SCHEMA_HEAD
    assert _schema(tmp_path / "a.db") == _schema(_fresh(tmp_path / "b.db"))
    db.dispose()


def _fresh(path: Path) -> Path:
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


def test_schema_comparison_notices_a_missing_index(tmp_path: Path) -> None:
    # Guards the comparison above against comparing nothing.
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.migrate()
    before = _schema(tmp_path / "a.db")
    conn = sqlite3.connect(tmp_path / "a.db")
    name = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
    ).fetchone()[0]
    conn.execute(f"DROP INDEX {name}")
    conn.commit()
    conn.close()
    assert _schema(tmp_path / "a.db") != before
    db.dispose()


def test_stored_sqlite_ddl_is_what_the_metadata_emits() -> None:
    # A fresh database runs the stored text; a change of tables.py must regenerate it.
    stored = stored_sqlite_ddl(SCHEMA_HEAD)
    assert stored is not None, "sqlite_head.json is missing or of another revision"
    assert any("CREATE TRIGGER" in s for s in stored)  # the append-only triggers too
    # the same statements (a table's indexes come in no fixed order: SQLAlchemy keeps a set)
    assert sorted(stored) == sorted(render_sqlite_ddl()), (
        "storage/sqlite_head.json differs from the table metadata: regenerate it with "
        "`.venv/bin/python -m tradeguard.storage.head_ddl`"
    )


def _master(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    finally:
        conn.close()


def test_fresh_database_from_stored_ddl_equals_the_metadatas(tmp_path: Path) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.migrate()  # from the stored statements
    made = Database(f"sqlite:///{tmp_path / 'made.db'}")
    with made.engine.begin() as conn:
        metadata.create_all(conn, checkfirst=False)
    fresh_master, made_master = _master(tmp_path / "fresh.db"), _master(tmp_path / "made.db")
    assert len(made_master) > 30
    # the very same text in sqlite_master, plus the revision's table
    assert sorted(r for r in fresh_master if r[2] != "alembic_version") == sorted(made_master)
    assert fresh.current_revision() == SCHEMA_HEAD
    fresh.dispose()
    made.dispose()


def test_stored_ddl_of_another_revision_is_not_used(tmp_path: Path, monkeypatch) -> None:
    stale = tmp_path / "sqlite_head.json"
    stale.write_text(json.dumps({"revision": "0001", "statements": ["CREATE TABLE x (a)"]}))
    monkeypatch.setattr(head_ddl, "STORED", stale)
    assert stored_sqlite_ddl(SCHEMA_HEAD) is None
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.migrate()  # from the metadata
    names = {r[1] for r in _master(tmp_path / "a.db")}
    assert "orders" in names and "x" not in names
    db.dispose()


def test_a_database_stamped_by_a_newer_tradeguard_is_refused_with_a_clear_error(
    tmp_path: Path,
) -> None:
    # Not at this head, so Alembic is asked, and it does not know the revision: its own error
    # (no StorageError, so a traceback from every command) told nothing of what to do.
    from tradeguard.storage.errors import StorageError

    _migrated(tmp_path / "a.db").dispose()
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.close()
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(StorageError, match=r"'0099'.*newer tradeguard"):
            db.migrate()
    finally:
        db.dispose()

"""Consistent snapshots of a database as a SQLite image, and their restore into any database.

Whatever the source, a snapshot is the bytes of a SQLite database at the source's schema
revision, built in memory (nothing reaches the disk unencrypted):

- SQLite: the online backup API copies every page in one step, inside one read transaction,
  so a node writing the WAL database meanwhile neither waits nor tears the copy.
- PostgreSQL: every table is read inside one REPEATABLE READ, READ ONLY transaction (one
  snapshot of the whole database) and written into the in-memory image through the table
  metadata, whose types keep Decimals exact. This needs no `pg_dump` matching the server's
  version, and the result restores into SQLite or PostgreSQL alike.

A restore opens the image in memory, upgrades it through the migrations when it was taken at
an older revision, and copies every table into the target in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from tradeguard.storage.db import (
    MIGRATIONS_DIR,
    SCHEMA_HEAD,
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    mask_url,
    normalize_url,
)
from tradeguard.storage.errors import StorageError
from tradeguard.storage.tables import metadata

COPY_BATCH_ROWS = 2000
_LEGACY_JOURNAL = 1  # SQLite header bytes 18-19: 1 = rollback journal, 2 = WAL


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A database's contents as a SQLite image, with where it came from."""

    image: bytes
    dialect: str
    revision: str


def take_snapshot(url: str) -> Snapshot:
    """Copy the database at `url` into a SQLite image; the source is only read."""
    parsed = normalize_url(url)
    dialect = parsed.get_backend_name()
    if dialect == "sqlite":
        image = _sqlite_image(Path(parsed.database or "").expanduser())
    elif dialect == "postgresql":
        image = _postgres_image(url)
    else:
        raise StorageError(f"cannot back up a {dialect} database; use SQLite or PostgreSQL")
    with opened_image(image) as db:
        revision = db.current_revision()
    if revision is None:
        raise StorageError(
            f"database {mask_url(parsed)} has no schema revision: it is not a tradeguard "
            "database, or no node has started on it yet"
        )
    return Snapshot(image, dialect, revision)


def _sqlite_image(path: Path) -> bytes:
    if not path.is_file():
        raise StorageError(f"no SQLite database at {path}; check --db or node.database_url")
    try:
        source = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        memory = sqlite3.connect(":memory:")
        try:
            source.backup(memory)  # pages=-1: every page in one step, one read transaction
            image = bytearray(memory.serialize())
        finally:
            source.close()
            memory.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read SQLite database {path}: {exc}") from None
    # An in-memory database cannot open a WAL-mode image; the restore never needs the WAL.
    image[18] = image[19] = _LEGACY_JOURNAL
    return bytes(image)


def _postgres_image(url: str) -> bytes:
    source = Database(url)
    try:
        with source.engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            if revision != SCHEMA_HEAD:
                raise StorageError(
                    f"database {source.masked_url} is at schema revision {revision!r}, this "
                    f"tradeguard writes {SCHEMA_HEAD!r}: start the node once (it upgrades the "
                    "schema) or back it up with the tradeguard version that wrote it"
                )
            with _memory_database() as memory:
                memory.migrate()
                with memory.engine.begin() as out:
                    for table in metadata.sorted_tables:
                        _copy_table(conn, out, table)
                return _serialize(memory)  # after the commit: uncommitted pages are not in it
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StorageError(f"cannot read database {source.masked_url}: {reason}") from None
    finally:
        source.dispose()


@contextmanager
def _memory_database() -> Iterator[Database]:
    db = Database("sqlite://")
    try:
        yield db
    finally:
        db.dispose()


def _driver_connection(db: Database) -> sqlite3.Connection:
    raw = db.engine.raw_connection()  # the one connection of the StaticPool
    conn = raw.driver_connection
    assert isinstance(conn, sqlite3.Connection)
    return conn


def _serialize(db: Database) -> bytes:
    return _driver_connection(db).serialize()


@contextmanager
def opened_image(image: bytes) -> Iterator[Database]:
    """Open a SQLite image as an in-memory Database (changes stay in memory)."""
    with _memory_database() as db:
        try:
            _driver_connection(db).deserialize(image)
            with db.engine.connect() as conn:
                verdict = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        except (sqlite3.Error, SQLAlchemyError) as exc:
            raise StorageError(f"the backed-up database image is not readable: {exc}") from None
        if verdict != "ok":
            raise StorageError(f"the backed-up database image fails SQLite's check: {verdict}")
        yield db


def _copy_table(source: Connection, target: Connection, table: Table) -> int:
    """Copy every row of `table`, in primary-key order, in batches; return the count."""
    copied = 0
    rows = source.execute(select(table).order_by(*table.primary_key.columns)).yield_per(
        COPY_BATCH_ROWS
    )
    for batch in rows.partitions():
        target.execute(table.insert(), [row._asdict() for row in batch])
        copied += len(batch)
    return copied


def database_has_rows(db: Database) -> bool:
    """Tell whether any tradeguard table of `db` holds a row (tables absent count as empty)."""
    with db.engine.connect() as conn:
        present = set(conn.dialect.get_table_names(conn))
        return any(
            conn.execute(select(func.count()).select_from(t)).scalar()
            for t in metadata.sorted_tables
            if t.name in present
        )


def restore_image(image: bytes, target: Database, *, replace: bool) -> dict[str, int]:
    """Load the image into `target` at the current schema head; return rows per table.

    With `replace`, the target's tables are dropped and created afresh in the transaction that
    loads the image (the events table refuses DELETE), so a failure leaves it as it was.
    Without, the target (empty) is upgraded to head first.
    """
    with opened_image(image) as source:
        source.migrate()  # an image from an older revision goes through the migrations
        if not replace:
            target.migrate()
        try:
            with source.engine.connect() as src, target.engine.begin() as out:
                if target.is_sqlite:
                    out.exec_driver_sql("BEGIN")  # DDL too commits with the rows, or not at all
                if replace:
                    _recreate_schema(target, out)
                counts = {t.name: _copy_table(src, out, t) for t in metadata.sorted_tables}
                if target.is_postgres:
                    _advance_sequences(out)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StorageError(
                f"restore into {target.masked_url} failed, nothing was changed: {reason}"
            ) from None
    return counts


def _recreate_schema(target: Database, conn: Connection) -> None:
    from alembic import command

    metadata.drop_all(conn)
    conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    metadata.create_all(conn)
    cfg = target.alembic_config()
    cfg.attributes["connection"] = conn
    command.stamp(cfg, "head")


def _advance_sequences(conn: Connection) -> None:
    # Rows came with their ids: the next id a node takes must follow the largest restored one.
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is not None:
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:t, :c), "
                    f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                ),
                {"t": table.name, "c": column.name},
            )


def known_revision(revision: str) -> bool:
    """Tell whether this tradeguard's migrations know `revision` (a newer one they do not)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def table_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order (for comparing two databases)."""
    with db.engine.connect() as conn:
        return {
            t.name: [
                row._asdict() for row in conn.execute(select(t).order_by(*t.primary_key.columns))
            ]
            for t in metadata.sorted_tables
        }

"""Consistent snapshots of a database as a SQLite image file, and their restore into any database.

Whatever the source, a snapshot is a SQLite database at the source's schema revision, written
to a private temporary file (storage/scratch) so that memory stays bounded whatever the size:

- SQLite: the online backup API copies every page in one step, inside one read transaction,
  so a node writing the WAL database meanwhile neither waits nor tears the copy.
- PostgreSQL: every table is read inside one REPEATABLE READ, READ ONLY transaction (one
  snapshot of the whole database) and written into the image through the table metadata,
  whose types keep Decimals exact. This needs no `pg_dump` matching the server's version, and
  the result restores into SQLite or PostgreSQL alike.

The image file sits beside a SQLite source, or in the system's temporary folder for PostgreSQL
(never in the backup folder). Its name is removed as soon as the copy is complete: the backup
reads it through the open file, and nothing is left behind however the backup ends from then on.

A restore opens the image (a temporary file again), upgrades it through the migrations when it
was taken at an older revision, and copies every table into the target in one transaction.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
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
from tradeguard.storage.scratch import new_scratch_file, remove_orphans, remove_scratch
from tradeguard.storage.tables import metadata

COPY_BATCH_ROWS = 2000
_LEGACY_JOURNAL = b"\x01\x01"  # SQLite header bytes 18-19: 1 = rollback journal, 2 = WAL


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A database's contents as a SQLite image, open for reading, with where it came from."""

    file: IO[bytes]
    dialect: str
    revision: str


@contextmanager
def taken_snapshot(url: str, stem: str) -> Iterator[Snapshot]:
    """Copy the database at `url` into a private SQLite image file (named after `stem`); yield
    it open for reading, its name already removed. The source is only read.

    The plaintext copy lives beside a SQLite source (where the database itself is in the clear
    already), or in the system's temporary folder for PostgreSQL: never in the backup folder,
    which may be synced off the machine, even when a kill leaves it behind."""
    parsed = normalize_url(url)
    dialect = parsed.get_backend_name()
    if dialect not in ("sqlite", "postgresql"):
        raise StorageError(f"cannot back up a {dialect} database; use SQLite or PostgreSQL")
    if dialect == "sqlite":
        folder = Path(parsed.database or "").expanduser().resolve().parent
    else:
        folder = Path(tempfile.gettempdir())
    try:
        remove_orphans(folder)  # what backups killed while copying left behind
        image = new_scratch_file(folder, stem)
    except OSError as exc:
        raise StorageError(f"cannot create a temporary file in {folder}: {exc.strerror}") from None
    try:
        if dialect == "sqlite":
            _sqlite_copy(Path(parsed.database or "").expanduser(), image)
        else:
            _postgres_copy(url, image)
        revision = _image_revision(image)
        if revision is None:
            raise StorageError(
                f"database {mask_url(parsed)} has no schema revision: it is not a tradeguard "
                "database, or no node has started on it yet"
            )
        handle = image.open("rb")
    finally:
        remove_scratch(image)  # the open handle keeps the contents until it is closed
    with handle:
        yield Snapshot(handle, dialect, revision)


def _sqlite_copy(path: Path, image: Path) -> None:
    if not path.is_file():
        raise StorageError(f"no SQLite database at {path}; check --db or node.database_url")
    try:
        source = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        target = sqlite3.connect(image)
        try:
            target.execute("PRAGMA journal_mode=OFF")  # a throwaway copy: no journal file
            target.execute("PRAGMA synchronous=OFF")
            source.backup(target)  # pages=-1: every page in one step, one read transaction
        finally:
            source.close()
            target.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot copy SQLite database {path} to {image.parent}: {exc}") from None
    # The copy keeps the source's WAL flag; a plain file opens without -wal/-shm files, and
    # format 1's restore (in memory) could not open a WAL image.
    with image.open("r+b") as fh:
        fh.seek(18)
        fh.write(_LEGACY_JOURNAL)


def _image_revision(image: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{quote(str(image))}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _postgres_copy(url: str, image: Path) -> None:
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
            with _image_database(image) as out_db:
                out_db.migrate()
                with out_db.engine.begin() as out:
                    for table in metadata.sorted_tables:
                        _copy_table(conn, out, table)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StorageError(f"cannot read database {source.masked_url}: {reason}") from None
    finally:
        source.dispose()


@contextmanager
def _image_database(image: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{image}", scratch=True)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def opened_image(image: Path) -> Iterator[Database]:
    """Open a SQLite image file as a throwaway Database after SQLite's quick check."""
    with _image_database(image) as db:
        try:
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


def restore_image(image: Path, target: Database, *, replace: bool) -> dict[str, int]:
    """Load the image file into `target` at the current schema head; return rows per table.

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

"""The database handle: engine, SQLite pragmas, URL rewriting and migrations to head."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from tradeguard.ctrl_c_reach import signals_held
from tradeguard.storage.errors import StorageError
from tradeguard.storage.types import loads_whole

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_WAL_CHECKPOINT_PAGES = 10_000  # about 40 MB of WAL at the default 4 KiB page
SQLITE_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024  # what a checkpoint truncates the WAL file to
SQLITE_CHECKPOINT_INTERVAL_S = 0.05  # how often the background thread checkpoints the WAL

# The newest migration. An empty SQLite database is created from the table metadata and stamped
# at this revision instead of replaying every migration through Alembic (a backtest creates a
# fresh database per run); tests/test_storage_fresh_schema.py proves both give the same schema.
# It runs the metadata's DDL stored as text: a new migration regenerates it with
# `python -m tradeguard.storage.head_ddl` (until then the metadata is compiled at each creation).
SCHEMA_HEAD = "0010"

log = logging.getLogger(__name__)

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


def mask_url(url: str | URL) -> str:
    """Render a database URL with its password replaced by ***."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\1***@", url)


def normalize_url(url: str) -> URL:
    """Parse `url`, sending plain postgresql:// (and postgres://) URLs to the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"database_url {mask_url(url)!r} is not a valid URL ({exc}); "
            "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


# The sqlite3 module binds exact str, int and float values directly, and sends every other
# value, None included, through its adaptation protocol: a lookup in its adapters table, then
# `__adapt__` looked up on its protocol class (an AttributeError made, formatted and dropped),
# then `__conform__` on the value. An order writes about sixteen NULLs. An adapter registered for
# None (C code that returns None for any argument) ends that walk at the table: the value bound
# is the same None, stored as NULL. It is no base type, so other values stay unadapted.
_NONE_ADAPTER: Any = {}.get


def _adapt_none_directly() -> None:
    if sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol)) is not _NONE_ADAPTER:
        sqlite3.register_adapter(type(None), _NONE_ADAPTER)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        # WAL lets readers (API, dashboard) run while the order path writes; NORMAL keeps
        # commits cheap and is still durable against application crashes.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        # The order path commits a few pages many times a second; checkpointing every
        # SQLITE_WAL_CHECKPOINT_PAGES instead of SQLite's 1000 copies each hot page to the
        # database (with its fsync) far less often. Commits are as durable as before. For a
        # file database, _WalCheckpointer does this work off the committing thread; this
        # threshold is then only the backstop for a writer that outruns it.
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
        cur.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_SIZE_LIMIT_BYTES}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cur.close()


def _unsynced_pragmas(journal_mode: str) -> Callable[[Any, Any], None]:
    """Pragmas of a database no crash needs to survive: `journal_mode`, no syncs."""

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA journal_mode={journal_mode}")
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cur.close()

    return pragmas


# A throwaway copy (a backup's or a restore's image): no journal. A failure discards the whole
# file, so nothing needs rolling back or surviving a crash.
_scratch_pragmas = _unsynced_pragmas("OFF")
# A backtest's run database: one writer, no reader while it runs, and a run that stops half-way
# is run again, not recovered. The rollback journal stays (in memory: a failed transaction
# still rolls back), but no WAL to copy back.
_disposable_pragmas = _unsynced_pragmas("MEMORY")


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (SQLite's WAL files follow it)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class _WalCheckpointer:
    """Checkpoint a SQLite file's WAL from a thread of its own, every `interval_s`.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so that
    commit (an order being journaled, on the event loop the API shares) pays 20-30 ms for copying
    and syncing the pages. A PASSIVE checkpoint here never waits for readers or writers, and
    SQLite releases the GIL while it copies and syncs.
    """

    def __init__(self, path: str, interval_s: float) -> None:
        # Opened here, while the file surely exists: opened later, a deleted file would be
        # created again, empty.
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint:{Path(path).name}", daemon=True
        )
        with signals_held():  # a Ctrl-C is the main thread's: this one never takes it
            self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval_s):
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the commit-time checkpoint still covers us
                    log.debug("background WAL checkpoint failed: %s", exc)
        finally:
            self._conn.close()

    def stop(self) -> None:
        """Stop the thread after its current checkpoint; it closes its connection."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class Database:
    """A SQLite or PostgreSQL database; connects at once or raises StorageError.

    `scratch=True` opens a SQLite file as a throwaway copy: no journal, no WAL, no syncs.
    `disposable=True` (a backtest's run database) keeps a rollback journal, in memory, with no
    WAL, no syncs and no checkpoint thread: what a crash would lose is the run, run again.
    """

    def __init__(
        self, url: str, *, echo: bool = False, scratch: bool = False, disposable: bool = False
    ) -> None:
        self.url = normalize_url(url)
        self.masked_url = mask_url(self.url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        file_path: str | None = None
        if self.dialect == "sqlite":
            _adapt_none_directly()
            kwargs["connect_args"] = {"check_same_thread": False}
            # rows an older release wrote may hold a lone surrogate, which no answer can send
            kwargs["json_deserializer"] = loads_whole
            database = self.url.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                # One shared connection, or every connection would see its own empty database.
                kwargs["poolclass"] = StaticPool
            elif "uri" not in self.url.query:  # a URI names its file and how to open it
                # a leading ~ is the home folder: SQLite itself would open ./~/...
                database = os.path.expanduser(database)
                self.url = self.url.set(database=database)
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                _create_private(Path(database))
                file_path = os.path.abspath(database)  # the file pysqlite opens
        elif self.dialect == "postgresql":
            from tradeguard.storage.tables import add_postgresql_options

            add_postgresql_options()
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (ArgumentError, SQLAlchemyError, ImportError) as exc:
            raise StorageError(f"database {self.masked_url}: cannot create engine: {exc}") from None
        if self.dialect == "sqlite":
            pragmas = (
                _scratch_pragmas
                if scratch
                else _disposable_pragmas
                if disposable and file_path is not None
                else _sqlite_pragmas
            )
            event.listen(self.engine, "connect", pragmas)
        self.ping()
        self._checkpointer: _WalCheckpointer | None = None
        if file_path is not None and not scratch and not disposable:
            self._checkpointer = _WalCheckpointer(file_path, SQLITE_CHECKPOINT_INTERVAL_S)
            weakref.finalize(self, self._checkpointer.stop)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def ping(self) -> None:
        """Open a connection and run SELECT 1, or raise StorageError naming the masked URL."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StorageError(
                f"cannot connect to database {self.masked_url}: {reason}; check that the server "
                "is running and node.database_url (host, port, user, password, database) is right"
            ) from None

    def check_writable(self) -> None:
        """Write a row and roll it back, or raise StorageError saying the database is read-only."""
        probe = text("INSERT INTO alembic_version (version_num) VALUES ('write-probe')")
        try:
            with self.engine.connect() as conn:
                conn.execute(probe)
                conn.rollback()
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StorageError(
                f"database {self.masked_url} cannot be written ({reason}); make the database "
                "file and its directory writable for this user, or grant write access "
                "(read-only commands such as status and orders work without it)"
            ) from None

    def alembic_config(self) -> Config:
        """Build the Alembic config for the migrations shipped in the package (no alembic.ini)."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (head by default); a no-op when already there."""
        if revision == "head" and self.is_sqlite and self._is_empty():
            self.create_at_head()
            return
        if revision == "head" and self._at_head():
            return  # nothing to run: Alembic and its scripts are not loaded (a restart's case)
        from alembic import command
        from alembic.util import CommandError

        cfg = self.alembic_config()
        try:
            with self.engine.begin() as conn:
                if self.is_sqlite:
                    # The driver opens transactions only for DML: without this, each CREATE
                    # commits alone and a kill mid-migration leaves half a schema.
                    conn.exec_driver_sql("BEGIN")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except SQLAlchemyError as exc:
            raise StorageError(f"database {self.masked_url}: migration failed: {exc}") from exc
        except CommandError as exc:  # a revision the scripts do not know: a newer tradeguard's
            raise StorageError(
                f"database {self.masked_url}: migration failed: {exc} (this tradeguard's newest "
                f"is {SCHEMA_HEAD}); a database a newer tradeguard wrote needs that version: "
                "upgrade tradeguard, or set node.database_url to another database"
            ) from None

    def create_at_head(self) -> None:
        """Create the head schema in an empty SQLite database from the metadata, and stamp it."""
        from tradeguard.storage.head_ddl import stored_sqlite_ddl
        from tradeguard.storage.tables import metadata

        # The metadata's DDL as stored text (head_ddl.py): compiling it costs more than running it.
        statements = stored_sqlite_ddl(SCHEMA_HEAD)
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("BEGIN")  # every CREATE commits together, or none does
                # The database is empty (migrate checked): no table to look for first, which
                # would be a query per table (~3 ms of a backtest's start).
                if statements is None:
                    metadata.create_all(conn, checkfirst=False)
                else:
                    for statement in statements:
                        conn.exec_driver_sql(statement)
                conn.exec_driver_sql(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
                conn.exec_driver_sql(
                    "INSERT INTO alembic_version (version_num) VALUES (?)", (SCHEMA_HEAD,)
                )
        except SQLAlchemyError as exc:
            raise StorageError(
                f"database {self.masked_url}: creating the schema failed: {exc}"
            ) from exc

    def _at_head(self) -> bool:
        """Tell whether the database is stamped at SCHEMA_HEAD, the newest migration
        (tests/test_storage_fresh_schema.py pins it to the scripts' head), read as Alembic
        keeps it: one row of `alembic_version`."""
        try:
            with self.engine.connect() as conn:
                if not self.engine.dialect.has_table(conn, "alembic_version"):
                    return False
                rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except SQLAlchemyError:
            return False  # Alembic's own run says what is wrong
        return [tuple(row) for row in rows] == [(SCHEMA_HEAD,)]

    def _is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0

    def current_revision(self) -> str | None:
        """Return the schema revision the database is at, or None before any migration."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        """Close every pooled connection and stop the background WAL checkpoints."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"

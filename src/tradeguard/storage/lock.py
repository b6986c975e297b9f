"""One writer per database: the exclusive lock a node holds for its whole life.

- SQLite: `fcntl.flock` on `<database file>.lock`, which holds a small JSON of the holder (pid,
  host, since). The OS drops the lock when the holder's process ends, however it ends.
- PostgreSQL: a session-level `pg_try_advisory_lock(key)` on a connection of its own, kept open
  while the node lives. The key is the first 8 bytes (signed) of SHA-256 over
  `tradeguard.writer:<database name>`, so each database on a server has its own writer. The
  holder is named in that connection's `application_name`; the lock ends with the session, so a
  killed holder frees it as soon as the server notices the closed connection.
- An in-memory SQLite database belongs to one process: nothing to lock.

Read-only commands (status, orders, positions, balances) never take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tradeguard.storage.db import mask_url, normalize_url
from tradeguard.storage.errors import StorageError

LOCK_SUFFIX = ".lock"
_APP_PREFIX = "tradeguard-writer"
_PG_APP_NAME_MAX = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names


class WriterLockHeld(StorageError):
    """Another node writes this database; the message names it (pid, host, since)."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a writer lock."""

    pid: int
    host: str
    since_ms: int

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), int(time.time() * 1000))

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.since_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"pid {self.pid} on {self.host or 'an unknown host'} since {since} UTC"


class WriterLock:
    """A held writer lock; `release` gives it back (also done when the process ends)."""

    def __init__(self, target: str, holder: Holder, fd: int | None, conn: Connection | None):
        self.target = target
        self.holder = holder
        self._fd = fd
        self._conn = conn

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    def release(self) -> None:
        """Give the lock back; safe to call more than once."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # the lock itself goes with the descriptor
                os.ftruncate(fd, 0)
            os.close(fd)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            finally:
                conn.engine.dispose()

    def __del__(self) -> None:
        # A lock dropped without release (a node that failed half-built) goes with its object.
        with contextlib.suppress(Exception):
            self.release()


def _sqlite_file(database: str | None) -> Path | None:
    """The file of a SQLite URL's database (a URI filename `file:path?mode=...` included);
    None for an in-memory database, which no other process can open."""
    name = database or ""
    if name.startswith("file:"):
        name = name[len("file:") :].split("?", 1)[0]
    if name in ("", ":memory:") or name.startswith(":memory:"):
        return None
    return Path(name).expanduser().resolve()


def acquire_writer_lock(database_url: str) -> WriterLock | None:
    """Take the database's writer lock or raise WriterLockHeld naming the holder.

    Returns None for an in-memory SQLite database, which no other process can open.
    """
    url = normalize_url(database_url)
    masked_url = mask_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(url.database)
        return None if path is None else _lock_sqlite(path)
    if backend == "postgresql":
        return _lock_postgres(url, masked_url)
    raise StorageError(f"database {masked_url}: no writer lock for the {backend} backend")


def writer_lock_held(database_url: str) -> bool | None:
    """Tell whether some process holds the database's writer lock; None when it cannot be told.

    Works across PID namespaces (a node in a container sharing the file or the server): the
    lock lives in the kernel or the database server, not in a process id. Meant for the rare
    check of a node whose pid is not visible: the SQLite probe takes a shared lock for an
    instant, so a node starting in that instant would be refused once.
    """
    url = normalize_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(url.database)
        return None if path is None else _sqlite_lock_held(lock_path(path))
    if backend == "postgresql":
        return _pg_lock_held(url)
    return None


def _sqlite_lock_held(path: Path) -> bool | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False  # no node ever took it
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # drops the shared lock if it was taken
    return False


def _pg_lock_held(url: URL) -> bool | None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _pg_holder(conn, pg_lock_key(url.database or "")) is not None
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def lock_path(database_file: Path) -> Path:
    """The lock file beside a SQLite database file."""
    return database_file.with_name(database_file.name + LOCK_SUFFIX)


def _lock_sqlite(database_file: Path) -> WriterLock:
    path = lock_path(database_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(
            f"cannot open the writer lock file {path}: {exc.strerror}; the node needs write "
            "access to the database's directory"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise _refusal(str(database_file), holder, f"lock file {path}") from None
    me = Holder.me()
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": me.pid, "host": me.host, "since_ms": me.since_ms}).encode(), 0)
    return WriterLock(str(database_file), me, fd, None)


def _read_holder(fd: int) -> Holder | None:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode()) if raw else None
        if not isinstance(data, dict):
            return None
        return Holder(int(data["pid"]), str(data.get("host", "")), int(data["since_ms"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the holder has the lock but has not written its name yet


def pg_lock_key(database: str) -> int:
    """The advisory lock key of a PostgreSQL database: a signed 64-bit hash of its name."""
    digest = hashlib.sha256(f"tradeguard.writer:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_postgres(url: URL, masked_url: str) -> WriterLock:
    database = url.database or ""
    key = pg_lock_key(database)
    me = Holder.me()
    app_name = f"{_APP_PREFIX} pid={me.pid} since={me.since_ms} host={me.host}"
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={"application_name": app_name[:_PG_APP_NAME_MAX]},
    )
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if not got:
            holder = _pg_holder(conn, key)
            conn.close()
            engine.dispose()
            raise _refusal(masked_url, holder, f"advisory lock {key} on database {database!r}")
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StorageError(
            f"database {masked_url}: cannot take the writer lock: {reason}"
        ) from None
    return WriterLock(database, me, None, conn)


def _pg_holder(conn: Connection, key: int) -> Holder | None:
    """Read the holder from the application_name of the session that holds `key`."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    row = conn.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
        ),
        {"hi": unsigned >> 32, "lo": unsigned & 0xFFFF_FFFF},
    ).first()
    if row is None:
        return None
    return _parse_app_name(str(row[0] or "")) or Holder(
        0, str(row[1] or "local socket"), int(row[2].timestamp() * 1000) if row[2] else 0
    )


def _parse_app_name(name: str) -> Holder | None:
    if not name.startswith(_APP_PREFIX):
        return None
    fields: dict[str, Any] = {}
    for part in name[len(_APP_PREFIX) :].split():
        k, _, v = part.partition("=")
        fields[k] = v
    try:
        return Holder(int(fields["pid"]), str(fields.get("host", "")), int(fields["since"]))
    except (KeyError, ValueError):
        return None


def _refusal(target: str, holder: Holder | None, what: str) -> WriterLockHeld:
    who = holder.describe() if holder is not None else "another process (not yet named)"
    return WriterLockHeld(
        f"database {target} is already written by another tradeguard node ({who}; {what}); "
        "one node writes one database: stop that node first, or give this one its own "
        "node.database_url (read-only commands such as status and orders still work)",
        who,
    )

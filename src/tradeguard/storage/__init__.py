"""Durable storage: SQLAlchemy tables, repositories and Alembic migrations."""

# first: it sets the SQLite library up before `sqlite3` is imported (and starts it)
from tradeguard.storage import sqlite_library  # noqa: F401  # isort: split
from tradeguard.storage.db import Database, mask_url
from tradeguard.storage.errors import StorageError
from tradeguard.storage.repository import RunState, Storage
from tradeguard.storage.tables import metadata

__all__ = ["Database", "RunState", "Storage", "StorageError", "mask_url", "metadata"]

"""Durable storage: SQLAlchemy tables, repositories and Alembic migrations."""

from tradeguard.storage.db import Database, mask_url
from tradeguard.storage.errors import StorageError
from tradeguard.storage.repository import RunState, Storage
from tradeguard.storage.tables import metadata

__all__ = ["Database", "RunState", "Storage", "StorageError", "mask_url", "metadata"]

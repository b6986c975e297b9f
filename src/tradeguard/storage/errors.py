"""Storage errors."""

from __future__ import annotations

from tradeguard.model.errors import TradeguardError


class StorageError(TradeguardError):
    """The database cannot be reached, migrated or written; the message names the (masked) URL."""

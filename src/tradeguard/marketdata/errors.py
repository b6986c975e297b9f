"""Errors raised while loading, building or replaying market data."""

from __future__ import annotations

from pathlib import Path

from tradeguard.model.errors import TradeguardError


class DataFileError(TradeguardError):
    """A market data file is missing, unreadable or holds a value that cannot be parsed."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        if column is not None or value is not None:
            where += f", value {value!r}"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.row = row
        self.column = column
        self.value = value


class BookSequenceError(TradeguardError):
    """A book update does not follow the last one applied; the book must be re-synced."""

    def __init__(
        self, symbol: str, message: str, expected: int | None = None, got: int | None = None
    ) -> None:
        ids = f" (expected {expected}, got {got})" if expected is not None else ""
        super().__init__(
            f"{symbol}: {message}{ids}; "
            "the local book is no longer trustworthy: fetch a fresh snapshot and re-apply"
        )
        self.symbol = symbol
        self.expected = expected
        self.got = got


class ReplayOrderError(TradeguardError):
    """An event stream handed to replay went backwards in time."""

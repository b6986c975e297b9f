"""Column types: exact Decimals, epoch-millisecond timestamps and JSON with Decimals as strings.

- `DecimalType` is plain `NUMERIC` (arbitrary precision) on PostgreSQL and `TEXT` holding
  `str(decimal)` on SQLite, so every Decimal comes back equal to what went in on both. On SQLite
  the column compares as text: never filter or sort on it in SQL.
- Timestamps are UTC milliseconds since the epoch in a `BIGINT` (`EpochMs`), the same unit the
  engine's clocks use; nothing is stored as a database datetime.
- `JsonType` is `JSON` on SQLite and `JSONB` on PostgreSQL; Decimals inside are stored as strings
  (and so come back as strings), tuples and sets as lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, Numeric, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from tradeguard.model.text import whole

# Timestamps: UTC epoch milliseconds.
EpochMs = BigInteger

# Surrogate keys: BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" autoincrements.
IdType = BigInteger().with_variant(Integer(), "sqlite")


def to_epoch_ms(moment: datetime) -> int:
    """Convert an aware datetime to UTC epoch milliseconds (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ts_ms: int) -> datetime:
    """Convert UTC epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


class DecimalType(TypeDecorator[Decimal]):
    """Store a Decimal exactly: arbitrary-precision NUMERIC on PostgreSQL, its string on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            # Money never passes through binary floats (float 0.1 is not 0.1).
            raise TypeError(f"DecimalType: got float {value!r}; pass a Decimal (tradeguard.dec)")
        if not isinstance(value, Decimal):
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise TypeError(f"DecimalType: got {type(value).__name__} {value!r}; want Decimal")
            value = Decimal(value)
        if dialect.name == "postgresql":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if type(value) is str:  # SQLite's TEXT, the common case
            return Decimal(value)
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))


_PLAIN = frozenset({str, int, float, bool, type(None)})


# PostgreSQL's TEXT and JSONB cannot hold the NUL character (JSONB refuses even its \u0000
# escape): a string written there has each NUL replaced by this. SQLite keeps strings as given.
NUL_STAND_IN = "\ufffd"


def without_nul(value: Any) -> Any:
    """Return `jsonable` output with every NUL in its strings and keys replaced by U+FFFD."""
    t = type(value)
    if t is str:
        return value.replace("\x00", NUL_STAND_IN) if "\x00" in value else value
    if t is dict:
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if t is list:
        return [without_nul(v) for v in value]
    return value


# Half of a UTF-16 pair ("\ud800", which JSON may escape and a venue or client may send) is no
# text UTF-8 can hold: PostgreSQL refused the row, and SQLite kept it for every later read to
# fail when sent on (a 500). A string written holds U+FFFD in its place, on both databases.
_LONE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def may_hold_lone_surrogate(text: str) -> bool:
    """Tell whether `json.dumps` output `text` may escape a lone surrogate (its escapes are
    lower case; a string holding a backslash then `ud800` as text answers True, harmlessly)."""
    return "\\ud" in text and _LONE_ESCAPE.search(text) is not None


class WholeString(TypeDecorator[str]):
    """Text that may come from outside (a venue's symbols and messages, a bot's signal, a kill
    reason, an order tag): every lone surrogate is written as U+FFFD, and on PostgreSQL every
    NUL too, so no such string fails the write (PostgreSQL) or every later read sent on as
    UTF-8 (SQLite). A `VARCHAR`, as `String`; `WholeText` is the `TEXT` one."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if type(value) is not str or (value.isascii() and "\x00" not in value):
            return value
        value = whole(value)
        if dialect.name == "postgresql" and "\x00" in value:
            value = value.replace("\x00", NUL_STAND_IN)
        return value


class WholeText(WholeString):
    """`WholeString` as a `TEXT` (`Text`) column."""

    impl = Text
    cache_ok = True


def loads_whole(text: str | bytes) -> Any:
    """Read stored JSON `text`, any lone surrogate in its strings as U+FFFD (a row SQLite kept
    from before they were replaced on the way in)."""
    value = json.loads(text)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return whole_text(value) if may_hold_lone_surrogate(text) else value


def whole_text(value: Any) -> Any:
    """Return `jsonable` output with every lone surrogate in its strings and keys as U+FFFD."""
    t = type(value)
    if t is str:
        return whole(value)
    if t is dict:
        return {whole_text(k): whole_text(v) for k, v in value.items()}
    if t is list:
        return [whole_text(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """Return `value` with Decimals as strings, enums as their values, tuples and sets as lists."""
    # Exact-type checks first: the audit log and state rows are mostly flat dicts of plain values.
    t = type(value)
    if t in _PLAIN:
        return value
    if t is dict:
        out = {}
        for k, v in value.items():
            tv = type(v)
            out[k if type(k) is str else str(k)] = (
                v if tv in _PLAIN else str(v) if tv is Decimal else jsonable(v)
            )
        return out
    if t is list or t is tuple:
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    if t is Decimal:
        return str(value)
    return _jsonable_other(value)


def _jsonable_other(value: Any) -> Any:
    # Subclasses and the rarer types, in the order that decides them (an IntEnum stays an int).
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    raise TypeError(f"JsonType: cannot store {type(value).__name__} {value!r} as JSON")


class JsonType(TypeDecorator[Any]):
    """Free-form JSON (JSONB on PostgreSQL); Decimals are stored as strings."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            # Imported here: SQLAlchemy's PostgreSQL dialect costs ~20 ms to load.
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        out = jsonable(value)
        if may_hold_lone_surrogate(json.dumps(out)):
            out = whole_text(out)
        return without_nul(out) if dialect.name == "postgresql" else out

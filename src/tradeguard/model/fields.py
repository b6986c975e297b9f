"""A config field's bounds in words, for error messages and the config reference; reading a
date given on the command line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from tradeguard.model.errors import ConfigError


class _Field(Protocol):
    """A pydantic `FieldInfo`: constraints (`Ge`, `Lt`, patterns) as its metadata."""

    @property
    def metadata(self) -> Iterable[Any]: ...


def field_range(info: _Field, patterns: bool = False) -> str:
    """Describe a field's bounds (and, asked, its pattern) as e.g. `>= 0, <= 100`."""
    parts = []
    for meta in info.metadata:
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sym} {value}")
        pattern = getattr(meta, "pattern", None) if patterns else None
        if pattern:
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


def parse_utc(text: str | None, field: str) -> int | None:
    """Return a UTC date or moment (`2018-01-15`, `2018-01-15T12:00`) as epoch ms; None for
    none given; ConfigError naming `field` and the text otherwise."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{field} {text!r}: not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# Empty defaults of config fields. pydantic reads the signature of every default factory as a
# model is built; a builtin's (`list`, `dict`) is parsed from its text signature with the
# tokenizer (its first use compiles the tokenizer's regexes), a Python function's is not.
def empty_list() -> list[Any]:
    """A new empty list: `Field(default_factory=empty_list)`."""
    return []


def empty_dict() -> dict[Any, Any]:
    """A new empty dict: `Field(default_factory=empty_dict)`."""
    return {}


def home_path(value: str) -> str:
    """A config path with a leading `~` or `~user` taken as that home folder, as a shell takes
    it (else `~/x` named a folder called "~" in the working folder); other paths as given. A
    `~user` of no such user is a ValueError naming it."""
    if not value.startswith("~"):
        return value
    import os.path

    expanded = os.path.expanduser(value)
    if expanded.startswith("~"):  # left as it was: no such user (or no home to take)
        user = value.split("/", 1)[0]
        raise ValueError(f"{user}: no such user's home folder; e.g. ~/{value.partition('/')[2]}")
    return expanded

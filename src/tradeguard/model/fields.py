"""A config field's bounds in words, for error messages and the config reference."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


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

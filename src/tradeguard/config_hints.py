"""Name the keys a config table takes, for the message about a key it does not take."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Return the keys of the table holding `loc` (its last part is the unknown key), sorted."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not _is_model(current) or part not in current.model_fields:
            return []
        current = _table_type(current.model_fields[part].annotation)
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _table_type(annotation: Any) -> Any:
    # list[X], X | None, dict[str, X]: the table inside is X
    for _ in range(3):
        if _is_model(annotation):
            return annotation
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (list, tuple, dict, typing.Union, types.UnionType) and args:
            annotation = args[-1]
        else:
            return None
    return annotation if _is_model(annotation) else None

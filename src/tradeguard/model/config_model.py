"""The base of every config model: a number is never given as `true` or `false`.

pydantic reads `true` as 1 and `false` as 0 for an int, float or Decimal field, so
`max_trades_per_day = true` would allow one trade a day and `leg_timeout_s = true` wait one
second, with no word said. Here a boolean is refused wherever the field takes no boolean,
naming the field and the value like any other bad value.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator


def takes_bool(annotation: Any) -> bool:
    """Tell whether a field annotated `annotation` may hold a boolean."""
    if annotation is bool or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType or origin is typing.Annotated:
        return any(takes_bool(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return any(isinstance(arg, bool) for arg in typing.get_args(annotation))
    return False


class ConfigModel(BaseModel):
    """A pydantic model of config that refuses `true`/`false` for a field taking no boolean."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and not takes_bool(field.annotation):
                from pydantic_core import PydanticCustomError  # the error path only

                raise PydanticCustomError(
                    "bool_for_number",
                    "`{value}` is a boolean; this field takes no boolean (give a number)",
                    {"value": str(value).lower()},
                )
        return value


__all__ = ["ConfigModel", "takes_bool"]

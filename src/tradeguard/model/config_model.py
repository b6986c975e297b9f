"""The base of every config model: a number is never given as `true` or `false`.

pydantic reads `true` as 1 and `false` as 0 for an int, float or Decimal field, so
`max_trades_per_day = true` would allow one trade a day and `leg_timeout_s = true` wait one
second, with no word said. Here a boolean is refused wherever the field takes no boolean,
naming the field and the value like any other bad value, in a table's entries and a list's
items too (`[alerts.min_interval_s] venue_error = true`). TOML's `nan` and `inf` are refused
for every number as not finite (pydantic would otherwise say `nan` fails the field's bound).
A number written in digits other than 0-9 is refused too: Decimal and int read any script's
(`"٥٠"` is 50) and `"1_0"` as 10, figures that read as something else to whoever reviews
the file. A TOML number may still group its digits (`1_000`), as TOML defines.
"""

from __future__ import annotations

import inspect
import types
import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


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


def takes_only_numbers(annotation: Any) -> bool:
    """Tell whether a field annotated `annotation` holds a number and no text."""
    if annotation in (int, float, Decimal):
        return True
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return takes_only_numbers(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return bool(args) and all(takes_only_numbers(a) for a in args)
    return False


def misplaced_bool(value: Any, annotation: Any) -> str | None:
    """Where in `value` a boolean stands that `annotation` does not take, and which: `=true`
    for `value` itself, `[key]=false` for a table's entry or a list's item, None when none."""
    if isinstance(value, bool):
        return None if takes_bool(annotation) else f"={str(value).lower()}"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return misplaced_bool(value, args[0])
    if origin is typing.Union or origin is types.UnionType:
        kinds = [a for a in args if a is not type(None)]
        found = [misplaced_bool(value, a) for a in kinds]
        return found[0] if kinds and all(f is not None for f in found) else None
    if isinstance(value, dict) and origin is dict and len(args) == 2:
        items: list[tuple[Any, Any]] = [(k, args[1]) for k in value]
        pairs = [(k, value[k], kind) for k, kind in items]
    elif isinstance(value, list | tuple) and origin in (list, tuple, set, frozenset) and args:
        same = len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis)
        kinds = [args[0]] * len(value) if same else list(args)
        pairs = [(i, v, kind) for i, (v, kind) in enumerate(zip(value, kinds, strict=False))]
    else:
        return None
    for key, item, kind in pairs:
        where = misplaced_bool(item, kind)
        if where is not None:
            return f"[{key}]{where}"
    return None


class ConfigModel(BaseModel):
    """A pydantic model of config that refuses `true`/`false` for a field taking no boolean,
    and `nan` or `inf` for a number (said as not finite, not as a bound it fails)."""

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if type(value) is str and field is not None and (not value.isascii() or "_" in value):
            _refuse_other_digits(value, field.annotation)
        if field is None or not isinstance(value, bool | dict | list | tuple):
            return value
        if not isinstance(value, bool) and not holds_models(field.annotation):
            _refuse_other_digits_within(value)  # a plain table's entries or list's items
        where = misplaced_bool(value, field.annotation)
        if where is None:
            return value
        from pydantic_core import PydanticCustomError  # the error path only

        path, flag = where.rsplit("=", 1)
        if not path:
            raise PydanticCustomError(
                "bool_for_number",
                "`{value}` is a boolean; this field takes no boolean (give a number)",
                {"value": flag},
            )
        raise PydanticCustomError(
            "bool_for_number",
            "`{value}` at {path} is a boolean; this entry takes no boolean (give a number)",
            {"value": flag, "path": path},
        )


def _refuse_other_digits(value: str, annotation: Any) -> None:
    if not takes_only_numbers(annotation):
        return
    from pydantic_core import PydanticCustomError  # the error path only

    if not value.isascii():
        raise PydanticCustomError(
            "number_not_ascii",
            "must be written with the digits 0-9 (Decimal reads any script's digits)",
        )
    raise PydanticCustomError(
        "number_grouped",
        "must be written without '_' between digits (Decimal reads \"1_0\" as 10)",
    )


def holds_models(annotation: Any) -> bool:
    """Tell whether `annotation` is or holds a model (which checks its own fields)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(holds_models(a) for a in typing.get_args(annotation))


def oddly_written_number(value: Any, path: str = "") -> tuple[str, str] | None:
    """Where in `value` (a table or a list) a string stands that Decimal reads as a number
    written in digits other than 0-9 or with '_' ("١٠", "１００", "9_0"), and the string;
    None when none does. A venue's balances and a strategy's own params (which its code reads
    with Decimal) are such tables."""
    if type(value) is str:
        if value.isascii() and "_" not in value:
            return None
        try:
            Decimal(value.strip())
        except ArithmeticError:
            return None
        return path, value
    items: Any = value.items() if isinstance(value, dict) else ()
    if isinstance(value, list | tuple):
        items = enumerate(value)
    for key, item in items:
        found = oddly_written_number(item, f"{path}[{key}]")
        if found is not None:
            return found
    return None


def _refuse_other_digits_within(value: Any) -> None:
    found = oddly_written_number(value)
    if found is None:
        return
    from pydantic_core import PydanticCustomError  # the error path only

    path, text = found
    raise PydanticCustomError(
        "number_not_plain",
        "{path} = {text}: must be written with the digits 0-9 and without '_' (Decimal reads "
        'any script\'s digits, and "1_0" as 10)',
        {"path": path, "text": repr(text) if text.isprintable() else ascii(text)},
    )


# pydantic reads this validator's signature for every field it applies to, some 230 across the
# config's models, each time from its code object (`inspect.signature`): read once here and
# kept on the function, where `inspect.signature` looks first (10 M instructions a start).
_bound: Any = ConfigModel._no_boolean_for_a_number
_bound.__func__.__signature__ = inspect.signature(_bound.__func__)

__all__ = ["ConfigModel", "misplaced_bool", "takes_bool", "takes_only_numbers"]

"""Name the keys a config table takes, for the message about a key it does not take."""

from __future__ import annotations

import difflib
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


def tables_with_key(model: type[BaseModel], key: str) -> list[str]:
    """Return the top-level tables of `model` that take `key`, as a TOML file writes their
    headers (`[node]`, `[[strategies]]`)."""
    found = []
    for name, field in model.model_fields.items():
        table = _table_type(field.annotation)
        if table is not None and key in table.model_fields:
            is_list = typing.get_origin(field.annotation) in (list, tuple)
            found.append(f"[[{name}]]" if is_list else f"[{name}]")
    return found


_UNKNOWN_KEY = (
    "unknown key; credentials live in the vault (tradeguard keys add NAME) and [[venues]] "
    'credentials = "NAME" names them'
)


def key_meant(model: type[BaseModel], loc: Sequence[str | int]) -> str | None:
    """The key of its table the unknown key at `loc` most likely misspells, if one is close."""
    close = difflib.get_close_matches(str(loc[-1]), known_keys(model, loc), n=1, cutoff=0.8)
    return close[0] if close else None


def table_meant(model: type[BaseModel], loc: Sequence[str | int]) -> str:
    """`; did you mean [risk]?` for an unknown table at `loc` close to one its parent takes
    (as a TOML file writes its header), else nothing."""
    meant = key_meant(model, loc)
    if meant is None:
        return ""
    parent: Any = model
    for part in loc[:-1]:
        if isinstance(part, str) and _is_model(parent) and part in parent.model_fields:
            parent = _table_type(parent.model_fields[part].annotation)
    field = parent.model_fields[meant] if _is_model(parent) else None
    if field is None or _table_type(field.annotation) is None:
        return f"; did you mean {meant}?"  # a value written as an inline table or a list
    many = typing.get_origin(field.annotation) in (list, tuple)
    path = ".".join(str(p) for p in (*loc[:-1], meant) if isinstance(p, str))
    return f"; did you mean [[{path}]]?" if many else f"; did you mean [{path}]?"


def unknown_key_message(model: type[BaseModel], loc: Sequence[str | int]) -> str:
    """Say what to do with the unknown key at `loc`: the key of its table it most likely
    misspells, the table it belongs to when another one takes it, else where credentials go;
    then the keys its table takes."""
    keys = ", ".join(known_keys(model, loc))
    here = f"; this table takes: {keys}" if keys else ""
    elsewhere = [t for t in tables_with_key(model, str(loc[-1])) if t.strip("[]") != loc[0]]
    if not elsewhere:
        meant = key_meant(model, loc)
        if meant is not None:  # a typo of a real key is no credential
            return f"unknown key; did you mean {meant}?{here}"
        return f"{_UNKNOWN_KEY}{here}"
    which = "that table" if len(elsewhere) == 1 else "the right one"
    return f"unknown key here; it is a key of {', '.join(elsewhere)}: move it under {which}{here}"

"""Name the strategy behind an exception: which one, in which callback, raising what, where."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any

from tradeguard.strategies.base import Strategy


def strategy_fault(exc: BaseException) -> str | None:
    """Return one line naming the strategy whose callback `exc` came out of, or None when no
    strategy's method is on its traceback.

    The outermost strategy frame gives the strategy and its callback (`on_candle`, `on_fill`,
    ...); the innermost frame gives the file and line that raised (the strategy's own code, or
    the call it made into the engine with a value the engine refused).
    """
    outer, last = _strategy_frames(exc)
    if outer is None or last is None:
        return None
    strategy, callback = outer
    where = f"{os.path.relpath(last.tb_frame.f_code.co_filename)} line {last.tb_lineno}"
    what = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    said = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
    return (
        f"strategy {strategy.id!r} ({type(strategy).__name__}) failed in {callback}: {said} "
        f"(at {where}); nothing more was traded, fix the strategy and run again"
    )


def interrupted_in(exc: BaseException) -> str | None:
    """Return "strategy 'id' (Class) in callback" when Ctrl-C (`exc`) came while a strategy's
    callback ran (one that blocks, say), or None."""
    outer, _ = _strategy_frames(exc)
    if outer is None:
        return None
    strategy, callback = outer
    return f"strategy {strategy.id!r} ({type(strategy).__name__}) in {callback}"


def _strategy_frames(
    exc: BaseException,
) -> tuple[tuple[Strategy, str] | None, TracebackType | None]:
    """The outermost strategy method on `exc`'s traceback (strategy, callback), and its last
    frame."""
    tb: TracebackType | None = exc.__traceback__
    outer: tuple[Strategy, str] | None = None
    last: TracebackType | None = None
    while tb is not None:
        frame = tb.tb_frame
        owner = frame.f_locals.get("self")
        if outer is None and isinstance(owner, Strategy):
            outer = (owner, frame.f_code.co_name)
        last = tb
        tb = tb.tb_next
    return outer, last


_STORABLE = (type(None), bool, int, float, str, Decimal, Enum)


def unstorable_in(value: Any, path: str = "") -> tuple[str, Any] | None:
    """Return (key path, value) of the first value in `value` that JSON cannot hold (as the
    database stores it: Decimals and enums as their values, tuples and sets as lists), or None."""
    if isinstance(value, _STORABLE):
        return None
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple | set | frozenset):
        items = enumerate(value)
    else:
        return path, value
    for key, item in items:
        found = unstorable_in(item, f"{path}[{key!r}]")
        if found is not None:
            return found
    return None


def unstorable_state(strategy: Strategy, state: Any) -> str | None:
    """Return one line naming what in `strategy.state()`'s result cannot be stored, or None."""
    found = unstorable_in(state)
    if found is None:
        return None
    path, value = found
    where = f"at {path}" if path else "as the whole state"
    return (
        f"strategy {strategy.id!r} ({type(strategy).__name__}) state() returned a "
        f"{type(value).__name__} {where}, which cannot be stored as JSON; return only dicts, "
        f"lists, str, int, float, bool, None or Decimal; nothing more was traded, fix the "
        f"strategy and run again"
    )

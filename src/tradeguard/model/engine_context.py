"""The decimal context engine code runs in when a strategy's code calls it.

A strategy's callbacks run in a decimal context of its own (`strategies.decimal_context`), and
so does a task a callback starts: a multi-leg strategy's legs go through the gateway the node
lends it from that task. The gateway's risk checks, journal, fills, fees, balances and records
are the node's money code: `getcontext().prec = 6` or a trap on Inexact set by the strategy must
not reach them. A method marked here runs in a copy of Python's default context (28 digits,
half-even: the node's own), whatever context its caller runs in, and its caller's context is
back when it returns (or raises).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from decimal import Context, localcontext
from typing import Any, TypeVar

# Python's default: what the node's money code is written for (copied on every use).
ENGINE = Context()

T = TypeVar("T")


def in_engine_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (a function or a coroutine function) run in a copy of `ENGINE`."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def awaited(*args: Any, **kwargs: Any) -> Any:
            with localcontext(ENGINE):
                return await fn(*args, **kwargs)

        return awaited

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with localcontext(ENGINE):
            return fn(*args, **kwargs)

    return call


def engine_methods(cls: type[T]) -> type[T]:
    """`cls` with each public method it defines run in a copy of `ENGINE` (its properties and
    attributes are left as they are)."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(value):
            setattr(cls, name, in_engine_context(value))
    return cls

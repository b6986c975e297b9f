"""A strategy's own decimal context: what its code sets on `decimal.getcontext()` (fewer digits,
a trap on Inexact, another rounding) stays its own.

The node calls a strategy on the task its own money code runs on, and decimal's context is one
object per task: a strategy's `getcontext().prec = 6` would round every fee, position and P&L
the node computes after it, and a trap on Inexact would make the node's next division raise.
A strategy `create` builds starts from the context its module's import left (the loader imports
a user's module in a copy of the node's; a built-in's is a fresh default one: 28 digits,
half-even); its `__init__` and each callback its class defines run in that context, kept from
one callback to the next, and the node's is put back when the callback returns.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from decimal import Context, getcontext, localcontext, setcontext
from typing import Any

from tradeguard.strategies.base import Strategy

# What the node and the backtest call on a strategy (a vectorised one's hooks included).
CALLBACKS = (
    "on_start", "on_candle", "on_bar", "on_ticker", "on_book", "on_trade", "on_fill", "on_stop",
    "stopping_s", "state", "restore", "subscriptions", "on_row", "prepare", "precompute",
    "signal_rows", "holds_quietly", "skipped_through", "row_for",
)  # fmt: skip
ASYNC_CALLBACKS = ("on_stopping",)

# module name -> the decimal context its import left (the first import of it the loader saw)
_MODULE_CONTEXTS: dict[str, Context] = {}


def remember_module_context(module: str, imported: Context) -> None:
    """Keep the context `module`'s import left, for the strategies built from its classes."""
    _MODULE_CONTEXTS.setdefault(module, imported)


def built_in_own_context(factory: Callable[..., Strategy], *args: Any) -> Strategy:
    """`factory(*args)` run in a copy of the context its module's import left, the strategy it
    built running each of its callbacks in that copy from then on."""
    start = _MODULE_CONTEXTS.get(getattr(factory, "__module__", ""))
    with localcontext(start or Context()):
        strategy = factory(*args)
        own = getcontext()
    return own_decimal_context(strategy, own)


def own_decimal_context(strategy: Strategy, own: Context) -> Strategy:
    """`strategy` with each callback its class defines running in `own`; one its class leaves
    to `Strategy` does nothing and is left as it is.

    The callbacks run in a context-variable context of the strategy's own (`Context.run`, which
    swaps one pointer in and out: setting decimal's context variable on every call and back
    costs several times as much, on every candle), whose decimal context is `own`: what a
    callback sets there, even with `setcontext`, is where its next one starts, and a task it
    starts copies it."""
    mine = contextvars.Context()
    mine.run(setcontext, own)
    wrap = _wrappers(mine)
    cls = type(strategy)
    for name in CALLBACKS + ASYNC_CALLBACKS:
        fn = getattr(strategy, name, None)
        if fn is None or getattr(cls, name, None) is getattr(Strategy, name, None):
            continue
        setattr(strategy, name, _in_async(mine, fn) if name in ASYNC_CALLBACKS else wrap(fn))
    return strategy


def _wrappers(mine: contextvars.Context) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """What wraps each callback of one strategy to run in `mine` (a callback of the strategy's
    calling another is in it already: entered once)."""
    run = mine.run
    inside = False  # one cell the strategy's wrappers share (cheaper to read than a list's item)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if _positional(fn) == 1:  # on_candle, on_ticker, ...: the node's every event, kept lean

            @functools.wraps(fn)
            def one(arg: Any) -> Any:
                nonlocal inside
                if inside:
                    return fn(arg)
                inside = True
                try:
                    return run(fn, arg)
                finally:
                    inside = False

            return one

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal inside
            if inside:
                return fn(*args, **kwargs)
            inside = True
            try:
                return run(fn, *args, **kwargs)
            finally:
                inside = False

        return call

    return wrap


def _positional(fn: Callable[..., Any]) -> int | None:
    """How many parameters `fn` takes, when they are all plain positional ones (None: not)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind not in plain or p.default is not p.empty for p in params):
        return None
    return len(params)


def _in_async(
    mine: contextvars.Context, fn: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """An awaited callback runs in a task of the node's (its awaits cannot enter `mine`): its
    decimal context is set to the strategy's for as long as it runs, and kept for the next."""

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        node = getcontext()
        setcontext(mine.run(getcontext))
        try:
            return await fn(*args, **kwargs)
        finally:
            mine.run(setcontext, getcontext())
            setcontext(node)

    return call

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

import functools
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
    to `Strategy` does nothing and is left as it is."""
    holder = [own]  # the context a callback left, even one it set with `setcontext`
    cls = type(strategy)
    for name in CALLBACKS + ASYNC_CALLBACKS:
        fn = getattr(strategy, name, None)
        if fn is None or getattr(cls, name, None) is getattr(Strategy, name, None):
            continue
        wrap = _in_async if name in ASYNC_CALLBACKS else _in
        setattr(strategy, name, wrap(holder, fn))
    return strategy


def _in(own: list[Context], fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        node = getcontext()
        setcontext(own[0])
        try:
            return fn(*args, **kwargs)
        finally:
            own[0] = getcontext()
            setcontext(node)

    return call


def _in_async(
    own: list[Context], fn: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        node = getcontext()
        setcontext(own[0])
        try:
            return await fn(*args, **kwargs)
        finally:
            own[0] = getcontext()
            setcontext(node)

    return call

"""A strategy's own decimal context: what its code sets on `decimal.getcontext()` (fewer digits,
a trap on Inexact, another rounding) stays its own.

The node calls a strategy on the task its own money code runs on, and decimal's context is one
object per task: a strategy's `getcontext().prec = 6` would round every fee, position and P&L
the node computes after it, and a trap on Inexact would make the node's next division raise.
`own_decimal_context` makes each callback the strategy's class defines run with the strategy's
own context, kept from one callback to the next, and puts the node's back when it returns.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from decimal import Context, getcontext, setcontext
from typing import Any

from tradeguard.strategies.base import Strategy

# What the node and the backtest call on a strategy (a vectorised one's hooks included).
CALLBACKS = (
    "on_start", "on_candle", "on_bar", "on_ticker", "on_book", "on_trade", "on_fill", "on_stop",
    "stopping_s", "state", "restore", "subscriptions", "on_row", "prepare", "precompute",
    "signal_rows", "holds_quietly", "skipped_through", "row_for",
)  # fmt: skip
ASYNC_CALLBACKS = ("on_stopping",)


def own_decimal_context(strategy: Strategy) -> Strategy:
    """`strategy` with each callback its class defines running in a decimal context of its own
    (a fresh default one: 28 digits, half-even); one the class leaves to `Strategy` does nothing
    and is left as it is."""
    own = [Context()]  # the one a callback left, even one it set with `setcontext`
    cls = type(strategy)
    for name in CALLBACKS + ASYNC_CALLBACKS:
        fn = getattr(strategy, name, None)
        if fn is None or getattr(cls, name, None) is getattr(Strategy, name, None):
            continue
        wrap = _in_async if name in ASYNC_CALLBACKS else _in
        setattr(strategy, name, wrap(own, fn))
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

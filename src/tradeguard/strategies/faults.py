"""Name the strategy behind an exception: which one, in which callback, raising what, where."""

from __future__ import annotations

import os
from types import TracebackType

from tradeguard.strategies.base import Strategy


def strategy_fault(exc: BaseException) -> str | None:
    """Return one line naming the strategy whose callback `exc` came out of, or None when no
    strategy's method is on its traceback.

    The outermost strategy frame gives the strategy and its callback (`on_candle`, `on_fill`,
    ...); the innermost frame gives the file and line that raised (the strategy's own code, or
    the call it made into the engine with a value the engine refused).
    """
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

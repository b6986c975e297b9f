"""Keep a venue's dropped connection from printing tracebacks the node already reported.

ccxt's websocket client fails every future waiting on a connection that is refused or lost. The
stream that asked gets the error and logs one warning; the futures no one was awaiting any more
reach asyncio's "exception was never retrieved" report, a traceback per future and per retry.
A background task the node stops has what it raised before the stop logged once, here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

_UNREAD = "exception was never retrieved"


def _network_error(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    try:
        import ccxt
    except ImportError:  # pragma: no cover - ccxt is a dependency
        return False
    return isinstance(exc, ccxt.NetworkError)


@contextmanager
def quiet_unread_network_errors(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """While inside, report unread ccxt network errors at debug level; the rest as before."""
    previous = loop.get_exception_handler()

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _UNREAD in str(context.get("message", "")) and _network_error(context.get("exception")):
            log.debug("unread venue network error: %s", context.get("exception"))
            return
        if previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


async def stop_task(task: asyncio.Task[Any] | None, what: str, logger: logging.Logger) -> None:
    """Cancel `task` if there is one and wait for it to end; log to `logger` what it raised if
    it had ended before the stop (`<what> failed: ...`), as no later look at it will."""
    if task is None:
        return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("%s failed: %s", what, exc, exc_info=exc)

"""A venue's dropped connection prints no "exception was never retrieved" traceback per retry
on the node's terminal; any other unread error is still reported."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import ccxt

from tradeguard.node.loop_errors import quiet_unread_network_errors


def _drop_failed_future(loop: asyncio.AbstractEventLoop, exc: BaseException) -> None:
    fut = loop.create_future()
    fut.set_exception(exc)
    del fut  # never awaited: its __del__ reports the exception


async def test_unread_ccxt_network_errors_are_quiet_and_others_are_not() -> None:
    # Seen live: a sandbox that went away made ccxt fail every future waiting on its websocket,
    # and asyncio printed "Future exception was never retrieved ... NetworkError" (and the same
    # for ccxt's watch_bids_asks task, with a traceback) on each retry.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    outer = loop.get_exception_handler()
    loop.set_exception_handler(lambda _lp, ctx: reported.append(ctx))
    try:
        with quiet_unread_network_errors(loop):
            _drop_failed_future(loop, ccxt.NetworkError("Cannot connect to host 127.0.0.1:1"))
            _drop_failed_future(loop, ValueError("a bug of ours"))
            gc.collect()
            await asyncio.sleep(0)
        assert [type(c.get("exception")).__name__ for c in reported] == ["ValueError"]
        assert "never retrieved" in reported[0]["message"]
        # outside the run the handler is the one it was before
        _drop_failed_future(loop, ccxt.NetworkError("after the run"))
        gc.collect()
        await asyncio.sleep(0)
        assert [type(c.get("exception")).__name__ for c in reported][-1] == "NetworkError"
    finally:
        loop.set_exception_handler(outer)

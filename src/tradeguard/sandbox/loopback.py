"""Serving a sandbox on loopback: the host check, the listening socket, the calls it answered.

```python
check_loopback(host)                                   # ValueError naming any other host
runner, port = await serve(app, host, 0)               # 0 picks a free port, default limits
runner, port = await serve(app, host, 0, ConnLimits(head_timeout_s=1))  # conn_guard.py
app = web.Application(middlewares=[call_recorder(calls, "POLY_"), own_middleware])
```
"""

from __future__ import annotations

import errno
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Self

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger
from aiohttp.typedefs import Middleware

from tradeguard.model.errors import TradeguardError
from tradeguard.sandbox.conn_guard import ConnLimits, GuardedRunner

LOOPBACK = frozenset({"127.0.0.1", "::1"})
# a request body's limit on every sandbox (aiohttp's default, set on each app): a body over it
# gets the venue's JSON error with HTTP 413, not aiohttp's plain text
MAX_BODY_BYTES = 1024**2


def too_large(limit: int = MAX_BODY_BYTES) -> str:
    """What a sandbox says of a body over `limit` bytes."""
    return f"the request body is over {limit} bytes, the limit; send a smaller one"


MAX_CALLS = 10_000  # calls kept by `call_recorder` (the latest)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_loopback(host: str) -> None:
    """Refuse to bind anything but loopback."""
    if host not in LOOPBACK:
        raise ValueError(f"host {host!r}: the sandbox binds loopback only (127.0.0.1 or ::1)")


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server log, where a request it cannot parse is one warning line."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        # a request line or header over 8190 bytes, a malformed request: aiohttp answers 400
        # itself; its traceback tells nothing about our code
        if isinstance(exc_info, HttpProcessingError):
            why = str(exc_info.message).replace("\n", " ")[:200]
            self.logger.warning("%s: %s %s", str(msg) % args, exc_info.code, why)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kw)


SERVER_LOG = _ServerLog(server_logger, {})


async def serve(
    app: web.Application, host: str, port: int, limits: ConnLimits | None = None
) -> tuple[web.AppRunner, int]:
    """Serve `app` on `host`:`port`, each connection held to `limits` (how long a request may
    take to arrive, how many connections at once; conn_guard.py); return its runner (to clean
    up) and the bound port."""
    runner = GuardedRunner(
        app, limits or ConnLimits(), access_log=None, handle_signals=False, logger=SERVER_LOG
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        # a failure outside the input (exit 1), as the README says of a port already in use
        raise TradeguardError(listen_error(host, port, exc)) from None
    sockets = getattr(site._server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1])


class LoopbackServer:
    """A local server that `start()` binds and `stop()` closes; `async with` does both."""

    _port: int
    # how long a client may take to send a request, how many may be connected (conn_guard.py);
    # set before `start()`
    limits: ConnLimits = ConnLimits()

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (the one asked for until `start()`; 0 asks for a free one)."""
        return self._port


def listen_error(host: str, port: int, exc: OSError) -> str:
    """One line naming the address a sandbox could not listen on, and why."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    text = f"sandbox cannot listen on {where}: {(exc.strerror or str(exc)).lower()}"
    if exc.errno == errno.EADDRINUSE:
        text += " (another process holds the port; pick another --port, or 0 for a free one)"
    return text


def call_log() -> deque[dict[str, Any]]:
    """An empty log of the latest calls, for `call_recorder`."""
    return deque(maxlen=MAX_CALLS)


def call_recorder(calls: deque[dict[str, Any]], key_header_prefix: str) -> Middleware:
    """Middleware keeping each call but the admin ones in `calls`: method, path, query and
    whether it carried a key (a header starting with `key_header_prefix`)."""
    prefix = key_header_prefix.upper()

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/admin"):
            calls.append({
                "method": request.method, "path": request.path, "query": dict(request.query),
                "signed": any(h.upper().startswith(prefix) for h in request.headers),
            })  # fmt: skip
        return await handler(request)

    return record

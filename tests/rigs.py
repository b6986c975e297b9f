"""Small servers tests stand up in front of a client: one handler for every method and path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tradeguard.sandbox.loopback import serve


async def answering(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[web.AppRunner, str]:
    """Serve `handler` for every method and path on 127.0.0.1 (a free port); return the runner
    (clean it up) and the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner, port = await serve(app, "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}"

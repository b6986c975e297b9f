"""An aiosmtpd relay on 127.0.0.1 listening on a socket bound before it starts.

A port found free and let go (bind to 0, read it, close, hand it to aiosmtpd) can be taken by
another process, a parallel test worker's server, before the relay binds it: the relay then
fails to start, or the test talks to the other server. Here the socket is bound once and the
relay listens on that same socket, so the port is never free in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Iterator
from typing import Any

from aiosmtpd.controller import Controller


class HeldPortController(Controller):
    """aiosmtpd's threaded Controller, serving on a socket bound when it is made."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self.sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        # the server owns the socket from here and closes it on stop
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


@contextlib.contextmanager
def smtp_relay(handler: Any) -> Iterator[int]:
    """Run `handler` as an SMTP relay on 127.0.0.1 for the block; yield its port."""
    controller = HeldPortController(handler)
    try:
        controller.start()
    except BaseException:
        controller.sock.close()
        raise
    try:
        yield controller.port
    finally:
        controller.stop()

"""How long a client may take to send a request, and how many may be connected at once.

```python
limits = ConnLimits(head_timeout_s=10, body_timeout_s=10, idle_s=75, max_connections=512)
runner = GuardedRunner(app, limits, access_log=None)   # what `loopback.serve` builds
```

aiohttp alone gives a client its keep-alive timeout (about an hour) to send a request head, one
byte every few seconds, and keeps the connection and its task meanwhile: a few hundred such
clients hold every file descriptor of the process. Every local server here applies, per
connection:

- the request head (request line and headers) must arrive whole within `head_timeout_s` of the
  connection's opening, or of the first byte of the next request on a kept-alive connection;
  else the server answers 408 and closes the connection;
- the body must arrive whole within `body_timeout_s` of the end of its head; else 408 (unless
  the answer has begun) and the connection is closed, the handler's read of the body failing;
- a kept-alive connection that sends nothing is closed after `idle_s`;
- one connection more than `max_connections` is answered 503 and closed at once.

A request head that begins in the same bytes as the previous request's end (pipelined) is timed
from those bytes like any other. To see a head begun but not ended, each connection parses with
aiohttp's pure-Python request parser, whose partial head is readable (the compiled one keeps it
inside C). A request sent behind one still being answered is not timed out while that answer
is owed: the client waits for it, and a 408 then would read as that request's answer.
WebSocket frames are not timed: once a connection is upgraded the deadlines stop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from dataclasses import dataclass, fields
from typing import Any

from aiohttp import web
from aiohttp.http_parser import HttpRequestParserPy
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE, RequestHandler, RequestPayloadError

_REASONS = {408: "Request Timeout", 503: "Service Unavailable"}


@dataclass(frozen=True)
class ConnLimits:
    """The per-connection limits of one server (see the module docstring)."""

    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    idle_s: float = 75.0
    max_connections: int = 512

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{f.name} = {value!r}: must be a number")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{f.name} = {value!r}: must be a finite number above 0")
        if not isinstance(self.max_connections, int):
            raise ValueError(f"max_connections = {self.max_connections!r}: must be a whole number")


def refusal(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 answer with a one-line JSON body that closes the connection."""
    body = json.dumps({"error": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedRunner(web.AppRunner):
    """An `AppRunner` whose connections keep `limits`."""

    def __init__(self, app: web.Application, limits: ConnLimits, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=limits.idle_s, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _GuardedServer(
            self.limits,
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )


class _GuardedServer(web.Server):
    def __init__(self, limits: ConnLimits, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits

    def __call__(self) -> RequestHandler:
        return _GuardedHandler(self, loop=self._loop, **self._kwargs)


class _GuardedHandler(RequestHandler):
    """aiohttp's connection handler with the deadlines and the cap of the module docstring."""

    def __init__(self, manager: _GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._home = manager
        self._limits = manager.limits
        self._deadline: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # the body being received, until it is whole
        self._refused = False
        self._cut = False  # closed by a deadline: the handler's failed read is no error of ours
        self._parser = _readable_parser(self, kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cap = self._limits.max_connections
        if len(self._home.connections) >= cap:
            self._refused = True
            self._force_close = True  # what it sends is not parsed
            assert isinstance(transport, asyncio.Transport)
            transport.write(refusal(503, f"{cap} connections already open"))
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self._limits.head_timeout_s)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._body = None
        if self._refused:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._upgraded or self._payload_parser is not None or self._force_close or self._close:
            self._disarm()  # a WebSocket's frames, or a connection closing already
            super().data_received(data)
            return
        parsed = self._request_count
        super().data_received(data)
        if self._upgraded:
            self._disarm()
        elif self._request_count > parsed:  # a head ended in these bytes
            body = self._messages[-1][1] if self._messages else None
            self._body = body if isinstance(body, StreamReader) and not body.is_eof() else None
            if self._body is not None:
                self._arm(self._limits.body_timeout_s)
            else:  # read whole; the next request's time starts at its first byte, maybe here
                self._head_begun()
        elif self._body is not None:
            if self._body.is_eof():
                self._body = None
                self._head_begun()  # the next head may begin in the bytes that ended it
        elif self._deadline is None and data:
            self._arm(self._limits.head_timeout_s)  # the first bytes of a new request

    def _head_begun(self) -> None:
        """Time the next request's head when its first bytes came with the last one's end."""
        parser = self._parser
        if isinstance(parser, HttpRequestParserPy) and (parser._lines or parser._tail):
            self._arm(self._limits.head_timeout_s)
        else:
            self._disarm()

    def _arm(self, after_s: float) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(after_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        current = self._current_request
        if self._body is None:
            if current is not None or self._messages:  # an earlier answer is owed: wait for it
                self._arm(self._limits.head_timeout_s)
                return
            limit, what, unanswered = self._limits.head_timeout_s, "request head", True
        else:
            if current is not None and current.content is not self._body:
                self._arm(self._limits.body_timeout_s)  # behind an earlier request still answered
                return
            limit, what = self._limits.body_timeout_s, "request body"
            if current is not None:  # its handler is reading it: has its answer begun?
                unanswered = current.writer.output_size == 0
            else:  # queued still, or answered already and the rest is being read and dropped
                unanswered = any(payload is self._body for _, payload in self._messages)
        if unanswered:
            transport.write(refusal(408, f"{what} not received whole within {limit:g} s"))
        self._body = None
        self._cut = True
        self.force_close()  # the handler's read of the body fails, its answer is dropped

    def log_exception(self, *args: Any, **kw: Any) -> None:
        if self._cut and isinstance(kw.get("exc_info"), ConnectionError):
            return  # the read of a body cut off above: said by the 408 already
        super().log_exception(*args, **kw)


def _readable_parser(handler: RequestHandler, kwargs: dict[str, Any]) -> HttpRequestParserPy:
    """The request parser aiohttp's handler makes, in its pure-Python form (same settings)."""
    defaults = inspect.signature(RequestHandler.__init__).parameters

    def setting(name: str) -> Any:
        return kwargs.get(name, defaults[name].default)

    return HttpRequestParserPy(
        handler,
        handler._loop,
        setting("read_bufsize"),
        max_line_size=setting("max_line_size"),
        max_field_size=setting("max_field_size"),
        max_headers=setting("max_headers"),
        payload_exception=RequestPayloadError,
        auto_decompress=setting("auto_decompress"),
        max_msg_queue_size=MAX_MSG_QUEUE_SIZE,
    )

"""The HTTP connection itself, before any route sees it: how many, how long, how big a head.

uvicorn alone keeps a connection that sends nothing, half a request line or a body one byte a
minute open for good, and reads request headers of any size into memory. Here:

- at most `api.max_connections` connections (WebSocket streams included) are open at once; one
  more is answered 503 and closed at once, so a flood cannot take every file descriptor the node
  needs for its venues and its database;
- a request must arrive whole (head and body) within `api.request_read_timeout_s` of its first
  byte, or of the connection's opening: else 408 and the connection is closed; a request sent
  behind one still being answered (pipelined) has its time start when that answer is complete;
- a request head (request line and headers) over `api.max_header_bytes` is answered 431 and the
  connection is closed before more of it is read.

Closing a socket with the client's bytes unread resets the connection, and the reset makes the
client's system drop the answer before it is read: a client still sending its body saw a reset,
not the 408. So the answer is sent with the end of our side, and what the client still sends is
read and dropped (up to `_LINGER_BYTES`, for at most `_LINGER_S` or the read timeout, the
longer) before the close.

Over TLS the listener takes plain TCP and each connection begins its own handshake once it is
counted: a connection that does not complete the handshake within `api.request_read_timeout_s`
is closed. One more than `api.max_connections` gets the same 503 as over plain HTTP, which can
only be sent after a handshake: up to `_TLS_REFUSALS` such connections are open at once, from
their handshake to the end of their TLS close (each step within the read timeout, not counted in
the cap); beyond them a connection is closed at once without an answer, so a flood costs a
bounded number of handshakes and file descriptors.

A WebSocket stream whose peer takes nothing more (its socket buffers full, never read) is cut off
(aborted, not closed: a close frame could not be sent) once a send has waited
`api.request_read_timeout_s` for room: else its handler waited on that send for good, holding one
of `api.max_connections`, its socket and a queue of every event.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tradeguard.apiconfig import ApiConfig

_LINGER_BYTES = 1 << 20
_LINGER_S = 2.0
_TLS_REFUSALS = 16
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Busy"}


@dataclass(frozen=True)
class WireLimits:
    """The connection limits of one server (see the module docstring)."""

    max_connections: int
    read_timeout_s: float
    max_header_bytes: int

    @classmethod
    def of(cls, cfg: ApiConfig) -> WireLimits:
        return cls(cfg.max_connections, cfg.request_read_timeout_s, cfg.max_header_bytes)


def refusal(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 answer with a one-line JSON body that closes the connection."""
    body = b'{"detail": "%s"}' % detail.encode()
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


def protocol_for(limits: WireLimits) -> type[GuardedHttp]:
    """Return the uvicorn HTTP protocol class that enforces `limits` (set its `tls` to serve
    HTTPS on a plain TCP listener)."""

    class Guarded(GuardedHttp):
        wire = limits
        refusing: set[GuardedHttp] = set()  # noqa: RUF012 (one set per server's class)

    return Guarded


def stream_protocol_for(limits: WireLimits) -> type[GuardedStream]:
    """Return the uvicorn WebSocket protocol class whose sends wait for room at most `limits`'
    read timeout."""

    class Stream(GuardedStream):
        wire = limits

    return Stream


class GuardedStream(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol that aborts a peer that takes nothing it sends."""

    wire: WireLimits

    async def send(self, message: Any) -> None:
        if not self.writable.is_set():  # the transport's buffer is over its high-water mark
            try:
                await asyncio.wait_for(self.writable.wait(), self.wire.read_timeout_s)
            except TimeoutError:
                self.transport.abort()  # connection_lost follows: this send and the next fail
        await super().send(message)


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring."""

    wire: WireLimits
    tls: ssl.SSLContext | None = None  # the server's TLS context: the handshake is begun here
    refusing: set[GuardedHttp]  # over the cap, in the handshake that carries their 503

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handshake: asyncio.Task[None] | None = None
        self._early: list[bytes] | None = None  # decrypted before the handshake's task resumed
        self._deadline: asyncio.TimerHandle | None = None
        self._head_done = False
        self._head_bytes, self._head_tail = 0, b""
        self._head_tail = b""  # the head's last bytes so far: its blank line may be split
        self._lingered: int | None = None  # bytes dropped after a refusal (None: not refused)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        if len(self.connections) - len(self.refusing) >= self.wire.max_connections:
            if self.tls is None:
                transport.write(self._busy())
            elif len(self.refusing) < _TLS_REFUSALS:
                self.refusing.add(self)
                self.connections.add(self)  # so that a stop ends its handshake too
                self._lingered = 0  # what it sends once secured is read and dropped
                self._handshake = self.loop.create_task(self._start_tls(transport, self.tls))
                return
            transport.close()
            return
        if self.tls is None:
            self._opened(transport)
            return
        self.connections.add(self)  # counted while its handshake runs
        self._early = []
        self._handshake = self.loop.create_task(self._start_tls(transport, self.tls))

    def _busy(self) -> bytes:
        cap = self.wire.max_connections
        return refusal(503, f"{cap} connections already open (api.max_connections)")

    async def _start_tls(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        """Complete the TLS handshake within the read timeout, then serve HTTP over it (or,
        over the cap, answer 503 and close)."""
        # A refusal's TLS close waits for the client's close_notify: within the read timeout too
        # (None: asyncio's 30 s, for a connection served).
        closing = self.wire.read_timeout_s if self in self.refusing else None
        try:
            secured = await self.loop.start_tls(
                transport,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self.wire.read_timeout_s,
                ssl_shutdown_timeout=closing,
            )
        except (OSError, asyncio.CancelledError):  # failed, timed out, gone or shut down
            self._forget()
            transport.close()
            return
        if secured is None or secured.is_closing():
            self._forget()
            transport.close()
            return
        if self in self.refusing:
            self.transport = secured
            secured.write(self._busy())
            # after the answer is flushed, with TLS's close_notify; it stays one of the refusals
            # (its socket is open) until connection_lost
            secured.close()
            return
        self._opened(secured)
        early, self._early = self._early or [], None
        for data in early:
            self.data_received(data)

    def _forget(self) -> None:
        self.connections.discard(self)
        self.refusing.discard(self)

    def _opened(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.flow is None:  # refused, or its handshake never completed: no HTTP state yet
            self._forget()
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._early is not None:
            self._early.append(data)
            return
        if self._lingered is not None:
            self._lingered += len(data)
            if self._lingered > _LINGER_BYTES:
                self.transport.close()
            return
        if not self._head_done:
            # counted before parsing: a head over the cap that arrives whole is refused too
            seen = self._head_tail + data
            end = seen.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._head_tail))
            self._head_tail = seen[-3:]
        cap = self.wire.max_header_bytes
        if self._head_done or self._head_bytes <= cap:
            super().data_received(data)
        elif not self.transport.is_closing():
            self._hang_up(431, f"request head exceeds {cap} bytes (api.max_header_bytes)")

    def shutdown(self) -> None:
        if self.flow is None:  # still in its TLS handshake, or closing the TLS of a refusal
            if self._handshake is not None:
                self._handshake.cancel()
            self.transport.abort()
            return
        if self._lingered is not None:  # answered and refused already: nothing to wait for
            self.transport.close()
            return
        super().shutdown()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._head_done = False
        self._head_bytes, self._head_tail = 0, b""
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._deadline is not None and not self.transport.is_closing():
            self._arm()  # a request read meanwhile: its time starts with its turn

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the stream's own protocol takes the connection from here
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.wire.read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _answer_owed(self) -> bool:
        """Tell whether an earlier request of this connection is still being answered (the
        client waits for it; a 408 now would be read as that request's answer)."""
        if self.pipeline:
            return True
        cycle = self.cycle
        return not self._head_done and cycle is not None and not cycle.response_complete

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._answer_owed():
            self._arm()
            return
        limit = f"{self.wire.read_timeout_s:g} s (api.request_read_timeout_s)"
        self._hang_up(408, f"request not received whole within {limit}")

    def _hang_up(self, status: int, detail: str) -> None:
        """Answer `status` unless a response has begun, end the request's reads, then close
        once the client is done sending (see the module docstring)."""
        # Before the head is whole, self.cycle is the previous request's (answered already).
        cycle = self.cycle if self._head_done else None
        if cycle is None or not cycle.response_started:
            self.transport.write(refusal(status, detail))
        if cycle is not None:
            cycle.disconnected = True  # the route's next read is a disconnect, its answer dropped
            cycle.message_event.set()
        self._disarm()
        self._lingered = 0
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(max(_LINGER_S, self.wire.read_timeout_s), self.transport.close)

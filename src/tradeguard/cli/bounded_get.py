"""One GET of a user-given URL, bounded: one overall deadline, a size cap, no redirects.

A socket timeout bounds each read, not the answer: a server sending a byte every few seconds
never trips it. Here a timer cuts the socket when the deadline passes, whatever it is reading
(headers or body). A redirect is refused, never followed: the URL was checked (a loopback host,
say), where it points to was not.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from urllib.parse import urlsplit


class FetchError(Exception):
    """The GET did not bring a whole answer; str() says why, without the URL."""


def bounded_get(url: str, *, deadline_s: float, max_bytes: int) -> tuple[int, bytes]:
    """(status, body) of GET `url`, body cut at `max_bytes + 1` bytes so the caller can tell
    an oversized answer; an error status comes back like any other, for its body. Raises
    FetchError on a redirect, a network failure, or when the whole answer has not come within
    `deadline_s` seconds."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    start = time.monotonic()
    try:
        # the port always given: without one http.client reads an IPv6 literal's last group
        # as the port ('::1' dialled host ':' port 1)
        port = parts.port or (443 if https else 80)
        conn = cls(parts.hostname or "", port, timeout=deadline_s)
    except (ValueError, http.client.HTTPException) as exc:  # a bad port, a host with spaces
        raise FetchError(_shown(str(exc) or type(exc).__name__)) from None
    cut = threading.Event()
    timer: threading.Timer | None = None
    try:
        conn.connect()
        left = max(deadline_s - (time.monotonic() - start), 0.0)
        timer = threading.Timer(left, _cut, (conn.sock, cut))
        timer.daemon = True
        timer.start()
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            where = _shown(resp.getheader("Location") or "nowhere")
            raise FetchError(f"HTTP {resp.status} redirect to {where}; redirects are not followed")
        body = resp.read(max_bytes + 1)
        # a read with a size never checks the Content-Length: what it still expects
        short = resp.length if len(body) <= max_bytes and resp.length else 0
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if cut.is_set():
            raise FetchError(f"no whole answer within {deadline_s:g} s") from None
        raise FetchError(_shown(str(exc) or type(exc).__name__)) from None
    finally:
        if timer is not None:
            timer.cancel()
        conn.close()
    if cut.is_set():  # the cut may land between the last read and here
        raise FetchError(f"no whole answer within {deadline_s:g} s")
    if short:
        raise FetchError(
            f"the answer ended after {len(body)} of the {len(body) + short} bytes "
            "its Content-Length announced"
        )
    return resp.status, body


def _cut(sock: socket.socket | None, cut: threading.Event) -> None:
    cut.set()
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read, which then sees the end


def _shown(text: str) -> str:
    """`text` safe for one terminal line: controls replaced, at most 200 characters."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean[:200]

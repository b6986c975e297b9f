"""One GET of a user-given URL, bounded: one overall deadline, a size cap, no redirects.

A socket timeout bounds each read, not the answer: a server sending a byte every few seconds
never trips it. Here the deadline starts before the host is looked up: each address is dialled
with what is left of it, and once a TCP connection stands a timer cuts the socket when the
deadline passes, whatever it is reading (the TLS handshake, headers or body). A redirect is
refused, never followed: the URL was checked (a loopback host, say), where it points to was not.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from tradeguard.ctrl_c_reach import start_thread


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
    held: list[socket.socket | None] = [None]  # the socket the timer cuts, once one stands
    timer = threading.Timer(deadline_s, _cut, (held, cut))
    timer.daemon = True
    timer.start()
    try:
        conn.sock = _open(parts.hostname or "", port, https, start + deadline_s, held, cut)
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            where = _shown(resp.getheader("Location") or "nowhere")
            raise FetchError(f"HTTP {resp.status} redirect to {where}; redirects are not followed")
        body = resp.read(max_bytes + 1)
        # a read with a size never checks the Content-Length: what it still expects
        short = resp.length if len(body) <= max_bytes and resp.length else 0
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if cut.is_set() or time.monotonic() >= start + deadline_s:  # cut, or timed out at it
            raise FetchError(f"no whole answer within {deadline_s:g} s") from None
        raise FetchError(_shown(str(exc) or type(exc).__name__)) from None
    finally:
        timer.cancel()
        conn.close()
        if held[0] is not None:
            held[0].close()
    if cut.is_set():  # the cut may land between the last read and here
        raise FetchError(f"no whole answer within {deadline_s:g} s")
    if short:
        raise FetchError(
            f"the answer ended after {len(body)} of the {len(body) + short} bytes "
            "its Content-Length announced"
        )
    return resp.status, body


def _open(
    host: str,
    port: int,
    https: bool,
    deadline: float,
    held: list[socket.socket | None],
    cut: threading.Event,
) -> socket.socket:
    """A connected socket to `host`, TLS done when `https`, all before `deadline`
    (time.monotonic()); `held[0]` is the socket to cut from the moment it is connected."""
    err: OSError = TimeoutError("timed out")
    for address in _addresses(host, port, deadline, cut):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            held[0] = socket.create_connection((address, port), timeout=left)
            break
        except OSError as exc:
            err = exc
    sock = held[0]
    if sock is None:
        if time.monotonic() >= deadline:
            cut.set()
        raise err
    if cut.is_set():  # the deadline passed while the connect was finishing
        raise TimeoutError("timed out")
    if https:
        context = ssl.create_default_context()
        context.set_alpn_protocols(["http/1.1"])  # as http.client's own connection asks
        sock = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        held[0] = sock  # the plain socket now detached: the timer must cut this one
        if cut.is_set():
            raise TimeoutError("timed out")
        sock.do_handshake()
    return sock


def _addresses(host: str, port: int, deadline: float, cut: threading.Event) -> list[str]:
    """The addresses of `host`, looked up on a thread so that a name server that never
    answers is waited on no longer than the deadline."""
    found: list[list[str]] = []
    failed: list[OSError | ValueError] = []  # ValueError: a name idna cannot encode

    def look_up() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.append([str(info[4][0]) for info in infos])
        except (OSError, ValueError) as exc:
            failed.append(exc)

    thread = start_thread(threading.Thread(target=look_up, name="bounded-get-dns", daemon=True))
    thread.join(max(deadline - time.monotonic(), 0.0))
    if failed:
        raise failed[0]
    if not found:
        cut.set()
        raise TimeoutError("timed out")
    return found[0]


def _cut(held: list[socket.socket | None], cut: threading.Event) -> None:
    cut.set()
    sock = held[0]
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read, which then sees the end


def _shown(text: str) -> str:
    """`text` safe for one terminal line: controls replaced, at most 200 characters."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean[:200]

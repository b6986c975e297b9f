"""The bounded GET's one deadline covers the connection too, not only what is read on it: a
host whose every address leaves the connect hanging (a listener whose queue is full drops the
handshake), and a TLS server that accepts the TCP connection and then drips its handshake a
byte at a time, are both cut at the deadline. Before, each address had the whole deadline to
itself and the TLS handshake only a per-read timeout, which a drip never trips."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tradeguard.cli.bounded_get import FetchError, bounded_get


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A loopback port whose accept queue is full: a further connect hangs, never answered."""
    srv = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = srv.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield port
    finally:
        queued.close()
        srv.close()


def test_a_connect_hanging_on_every_address_is_cut_at_the_one_deadline(monkeypatch, full_listener):
    real = socket.getaddrinfo
    addresses: list[Any] = []

    def two_addresses(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "slow.test":
            return real(host, port, *args, **kwargs)
        found = real("127.0.0.1", port, *args, **kwargs)
        addresses.append(found)
        return found * 2  # a host with two addresses, each as slow

    real_dial = socket.create_connection
    waits: list[float] = []

    def dial(address: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> socket.socket:
        waits.append(timeout)
        return real_dial(address, timeout, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    monkeypatch.setattr(socket, "create_connection", dial)
    with pytest.raises(FetchError, match=r"no whole answer within 1\.5 s"):
        bounded_get(f"http://slow.test:{full_listener}/x", deadline_s=1.5, max_bytes=100)
    assert addresses, "the host was never resolved"
    assert waits and sum(waits) <= 1.5, f"the dials were given {waits} s in all"


def _dripping_tls_server() -> tuple[int, threading.Event]:
    """Accepts, then sends a TLS record header announcing 16 KiB, a byte every 0.3 s."""
    srv = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        with srv:
            conn, _ = srv.accept()
            with conn, contextlib.suppress(OSError):
                conn.recv(65536)  # the ClientHello
                for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 60:
                    if done.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(0.3)

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], done


def test_a_tls_handshake_dripping_in_is_cut_at_the_deadline():
    port, done = _dripping_tls_server()
    try:
        with pytest.raises(FetchError) as info:
            bounded_get(f"https://127.0.0.1:{port}/x", deadline_s=1.5, max_bytes=100)
        # before: the 1.5 s bounded each read of the handshake; it ran out with the drip
        assert str(info.value) == "no whole answer within 1.5 s"
    finally:
        done.set()


def test_a_refused_connect_still_says_so_within_the_deadline():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(FetchError, match=r"(?i)refused"):
        bounded_get(f"http://127.0.0.1:{port}/x", deadline_s=1.5, max_bytes=100)

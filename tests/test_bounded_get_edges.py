"""The bounded GET dials the host and port the URL names: an IPv6 literal without a port is
that address on the scheme's port (http.client, given no port, read the literal's last group
as one: http://[::1]/ dialled host ':' port 1). An answer that ends before the length it
announced is no whole answer."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from tradeguard.cli.bounded_get import FetchError, bounded_get


@pytest.mark.parametrize(
    ("url", "dialled"),
    [
        ("http://[::1]/admin/replay", ("::1", 80)),
        ("https://[::1]/api/v1/health", ("::1", 443)),
        ("http://[::1]:8000/api/v1/health", ("::1", 8000)),
        ("http://127.0.0.1/x", ("127.0.0.1", 80)),
    ],
)
def test_the_url_host_and_port_are_dialled(monkeypatch, url, dialled):
    seen: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(tuple(address))
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(FetchError, match="refused"):
        bounded_get(url, deadline_s=1.0, max_bytes=100)
    assert seen == [dialled]


def test_a_port_out_of_range_is_a_fetch_error_not_a_traceback():
    with pytest.raises(FetchError, match=r"(?i)port out of range"):
        bounded_get("http://127.0.0.1:99999/x", deadline_s=1.0, max_bytes=100)


def _answer_once(data: bytes) -> tuple[str, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with srv:
            conn, _ = srv.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(data)
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}/x", thread


def test_an_answer_closed_before_its_content_length_is_refused():
    url, thread = _answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1, 2]")
    with pytest.raises(FetchError, match="6 of the 100 bytes"):
        bounded_get(url, deadline_s=5.0, max_bytes=1000)
    thread.join(5)


def test_a_whole_answer_and_one_over_the_cap_still_come_back():
    url, thread = _answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n[1, 2]")
    assert bounded_get(url, deadline_s=5.0, max_bytes=1000) == (200, b"[1, 2]")
    thread.join(5)
    url, thread = _answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 9)
    assert bounded_get(url, deadline_s=5.0, max_bytes=8) == (200, b"x" * 9)  # caller refuses
    thread.join(5)

"""The bounded GET dials the host and port the URL names: an IPv6 literal without a port is
that address on the scheme's port (http.client, given no port, read the literal's last group
as one: http://[::1]/ dialled host ':' port 1). An answer that ends before the length it
announced is no whole answer."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from rigs import raw_http
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


def test_an_answer_closed_before_its_content_length_is_refused():
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1, 2]"
    with raw_http(_answer(short)) as url, pytest.raises(FetchError, match="6 of the 100 bytes"):
        bounded_get(f"{url}/x", deadline_s=5.0, max_bytes=1000)


def test_a_whole_answer_and_one_over_the_cap_still_come_back():
    with raw_http(_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n[1, 2]")) as url:
        assert bounded_get(f"{url}/x", deadline_s=5.0, max_bytes=1000) == (200, b"[1, 2]")
    over = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 9
    with raw_http(_answer(over)) as url:  # the caller refuses what is over its cap
        assert bounded_get(f"{url}/x", deadline_s=5.0, max_bytes=8) == (200, b"x" * 9)


def _answer(data: bytes) -> Callable[[socket.socket], None]:
    return lambda conn: conn.sendall(data)

"""The bounded GET dials the host and port the URL names: an IPv6 literal without a port is
that address on the scheme's port (http.client, given no port, read the literal's last group
as one: http://[::1]/ dialled host ':' port 1)."""

from __future__ import annotations

import socket
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
    with pytest.raises(FetchError, match="(?i)port out of range"):
        bounded_get("http://127.0.0.1:99999/x", deadline_s=1.0, max_bytes=100)

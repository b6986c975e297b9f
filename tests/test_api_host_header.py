"""The API answers only to the names it is reached by: loopback names (`localhost`,
`*.localhost`), any IP address, and the names in `api.allowed_hosts` (and `api.host` when it is
a name). A DNS-rebinding page (its own name pointed at 127.0.0.1 after it loaded) sends its
name as Host: it read /api/v1/health and the dashboard page, and could reach the stream's
handshake. Such a request is a 400 naming the host and the key; a WebSocket handshake is
refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from test_api_support import bearer, build_app, client, started_node
from tradeguard.api.server import ApiServer

TAKEN = ["127.0.0.1:8000", "localhost", "LOCALHOST.:8000", "dash.localhost", "[::1]:8000",
         "10.1.2.3", "tradeguard.lan:8443", "TradeGuard.LAN"]  # fmt: skip
REFUSED = ["evil.example", "evil.example:8000", "127.0.0.1.nip.io", "localhost.evil.example",
           "x.tradeguard.lan", "2130706433", ""]  # fmt: skip


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    async with started_node(tmp_path, data_dir, rows=30) as node:
        node.config.api.allowed_hosts = ["tradeguard.lan"]
        yield node


async def test_a_request_naming_another_host_is_refused(node) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        for host in TAKEN:
            for path in ("/api/v1/health", "/"):
                r = await http.get(path, headers={"Host": host})
                assert r.status_code in (200, 503), (host, path, r.text)
            r = await http.get("/api/v1/state", headers={**bearer(tokens.viewer), "Host": host})
            assert r.status_code == 200, (host, r.text)
        for host in REFUSED:
            for path in ("/api/v1/health", "/", "/api/v1/state"):
                r = await http.get(path, headers={**bearer(tokens.viewer), "Host": host})
                assert r.status_code == 400, (host, path, r.text)
                detail = r.json()["detail"]
                assert "api.allowed_hosts" in detail and repr(host.lower()) in detail, detail
                assert r.headers["x-frame-options"] == "DENY"


async def test_a_stream_handshake_naming_another_host_is_refused(node) -> None:
    app, _ = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        for host, status in (("evil.example", b"403"), ("127.0.0.1", b"101")):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            line = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            assert line.split()[1] == status, (host, line)
    finally:
        await server.stop()

"""The API shrugs off abuse: huge bodies, spoofed forwarding headers, token guessing, bad frames."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.api.clients import client_address, parse_networks
from tradeguard.api.server import ApiServer

FIFTY_MB = 50 * 1024 * 1024
CHUNK = b"x" * 65_536


async def _refused_while_health_answers(
    server: ApiServer, headers: dict[str, str], chunked: bool, route: str
) -> tuple[int, int, int]:
    """Start a 50 MB upload to POST `route`; return its status, the bytes sent when /health
    answered, and in all."""
    lines = [
        f"POST {route} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {FIFTY_MB}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    sent = [0]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head)
    # Read the answer as soon as it comes: the server resets the connection once it hangs up
    # on an unread body, and a reset drops what the client had not read yet.
    answer = asyncio.create_task(reader.readline())
    uploader = asyncio.create_task(_stream_body(writer, chunked, sent))
    async with httpx.AsyncClient(base_url=server.url) as http:
        health = await http.get("/api/v1/health")
    # The health route's own answer: its grade may be degraded
    # (a busy machine lags the event loop), but it is answered, not queued behind the body.
    assert health.status_code in (200, 503) and health.json()["mode"] == "paper", health.text
    at_health = sent[0]
    status_line = await asyncio.wait_for(answer, 10)
    uploader.cancel()
    writer.close()
    return int(status_line.split()[1]), at_health, sent[0]


async def _stream_body(writer: asyncio.StreamWriter, chunked: bool, sent: list[int]) -> None:
    try:
        while sent[0] < FIFTY_MB:
            writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
            await writer.drain()
            sent[0] += len(CHUNK)
    except (ConnectionError, OSError):
        pass


@pytest.mark.parametrize(
    ("who", "chunked", "route", "expected"),
    [
        ("nobody", False, "/api/v1/kill", 401),
        ("trader", False, "/api/v1/resume", 413),
        ("trader", True, "/api/v1/resume", 413),
        ("trader", True, "/api/v1/kill", 200),  # a kill halts, saying its body was not read
    ],
)
async def test_health_answers_while_a_50_mb_body_is_refused_unread(
    tmp_path, data_dir, who, chunked, route, expected
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        headers = bearer(tokens.trader) if who == "trader" else {}
        status, at_health, sent = await _refused_while_health_answers(
            server, headers, chunked, route
        )
    finally:
        await server.stop()
    assert status == expected
    assert at_health < FIFTY_MB  # health was not held until the whole body had gone in
    assert sent < FIFTY_MB  # refused before the upload finished
    assert node.risk.state.value == ("HALTED" if expected == 200 else "ACTIVE")
    node.close()


async def test_a_body_over_the_limit_gets_413_naming_the_limit(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    big = {"reason": "x" * 70_000}
    async with client(app) as http:
        r = await http.post("/api/v1/resume", json=big, headers=bearer(tokens.trader))
        anonymous = await http.post("/api/v1/kill", json=big)
    assert r.status_code == 413
    assert "65536 bytes (api.max_body_bytes)" in r.json()["detail"]
    assert anonymous.status_code == 401
    assert node.risk.state.value == "ACTIVE"
    node.close()


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node, failures_per_min=10)
    async with client(app) as http:
        codes = [
            (
                await http.get(
                    "/api/v1/state",
                    headers={**bearer("tg_guess"), "X-Forwarded-For": f"198.51.100.{i}"},
                )
            ).status_code
            for i in range(30)
        ]
    assert codes == [401] * 10 + [429] * 20
    failures = node.storage.load_events(kind_prefix="api.auth_failed")
    assert {e.data["client"] for e in failures} == {"127.0.0.1"}
    node.close()


async def test_a_trusted_proxy_names_the_client_for_limits_and_audit(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    node.config.api.trusted_proxies = ["127.0.0.0/8"]
    app, _ = build_app(node, failures_per_min=3)
    spoofer = {**bearer("tg_guess"), "X-Forwarded-For": "203.0.113.7"}
    async with client(app) as http:
        codes = [(await http.get("/api/v1/mode", headers=spoofer)).status_code for _ in range(4)]
        other = await http.get(
            "/api/v1/mode", headers={**bearer("tg_guess"), "X-Forwarded-For": "203.0.113.8"}
        )
    assert codes == [401, 401, 401, 429]
    assert other.status_code == 401  # another client behind the same proxy is not limited
    clients = [e.data["client"] for e in node.storage.load_events(kind_prefix="api.auth_failed")]
    assert sorted(set(clients)) == ["203.0.113.7", "203.0.113.8"]
    node.close()


def test_client_address_reads_forwarded_hops_from_the_right():
    proxies = parse_networks(["10.0.0.0/8"])

    def scope(peer: str, xff: str | None) -> dict:
        headers = [] if xff is None else [(b"x-forwarded-for", xff.encode())]
        return {"client": (peer, 1234), "headers": headers}

    # the client cannot name itself by putting an address in front
    assert client_address(scope("10.0.0.2", "6.6.6.6, 192.0.2.9"), proxies) == "192.0.2.9"
    assert client_address(scope("10.0.0.2", "192.0.2.9, 10.0.0.5"), proxies) == "192.0.2.9"
    assert client_address(scope("192.0.2.1", "6.6.6.6"), proxies) == "192.0.2.1"
    assert client_address(scope("10.0.0.2", "not-an-ip"), proxies) == "10.0.0.2"
    assert client_address(scope("10.0.0.2", None), proxies) == "10.0.0.2"
    assert client_address(scope("127.0.0.1", "6.6.6.6"), ()) == "127.0.0.1"


async def test_malformed_first_stream_frames_close_with_4401_counted_and_audited(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    frames: list[str | bytes] = ['{"token": 123}', "[1, 2]", '{"tok": "x"}', "not json", b"\x00"]
    codes = []
    try:
        for frame in frames:
            async with websockets.connect(f"ws://127.0.0.1:{server.port}/api/v1/stream") as ws:
                await ws.send(frame)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
            codes.append(closed.value.rcvd.code if closed.value.rcvd else None)
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = (await http.get("/metrics", headers=bearer(tokens.viewer))).text
    finally:
        await server.stop()
    assert codes == [4401] * len(frames)
    audited = node.storage.load_events(kind_prefix="api.auth_failed")
    assert [e.data["reason"] for e in audited] == ["malformed first frame"] * len(frames)
    assert all(e.data["channel"] == "stream" for e in audited)
    line = 'tradeguard_api_auth_failures_total{channel="stream",reason="malformed first frame"}'
    assert f"{line} 5.0" in metrics
    node.close()

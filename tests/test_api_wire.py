"""The served API's connections: slow or idle clients time out, heads and counts are capped."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import logging
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from test_api_support import bearer, build_app, replayed_node
from tradeguard.api.server import ApiServer
from tradeguard.model.errors import TradeguardError

READ_TIMEOUT_S = 0.5


@pytest.fixture
async def served(tmp_path, data_dir) -> AsyncIterator[tuple[ApiServer, str]]:
    """A served paper node with a short read timeout and few connections; yields it, a token."""
    node = await replayed_node(tmp_path, data_dir, rows=30)
    node.config.api.request_read_timeout_s = READ_TIMEOUT_S
    node.config.api.max_connections = 8
    node.config.api.max_header_bytes = 8_192
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        yield server, tokens.trader
    finally:
        await server.stop()
        node.close()


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(server: ApiServer, first: bytes = b"") -> Conn:
    """Connect and send `first`; the writer is kept (dropping it would close the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    if first:
        writer.write(first)
        await writer.drain()
    return reader, writer


async def _answer(conn: Conn) -> tuple[int, dict[str, str]]:
    """Read one whole answer (the server closes after it); return its status and JSON body."""
    raw = await asyncio.wait_for(conn[0].read(), 10)
    conn[1].close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _connections(server: ApiServer) -> int:
    assert server._server is not None
    return len(server._server.server_state.connections)


async def test_idle_half_sent_and_dribbled_requests_get_408_and_are_closed(served, caplog):
    server, trader = served
    caplog.set_level(logging.WARNING)
    slow_body = (
        b"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{" % trader.encode()
    )
    conns = [
        await _open(server),
        await _open(server, b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
        await _open(server, slow_body),
    ]
    # /mode, not /health: health grades the node, and a busy machine's loop lag made it 503
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(trader)) as http:
        assert (await http.get("/api/v1/mode")).status_code == 200
    answers = await asyncio.gather(*(_answer(c) for c in conns))
    for status, body in answers:
        assert status == 408
        assert body["detail"] == (
            "request not received whole within 0.5 s (api.request_read_timeout_s)"
        )
    await asyncio.sleep(0.1)
    assert _connections(server) == 0
    assert not [r for r in caplog.records if r.exc_info]  # no traceback from the cut body


async def test_a_head_trickled_a_byte_at_a_time_gets_408_at_the_deadline_not_at_its_end(served):
    server, _ = served
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 40 + b"\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def drip() -> None:
        with contextlib.suppress(OSError):  # cut off: what the test waits for
            for i in range(len(head)):  # 6 s at this pace, each byte well within the deadline
                writer.write(head[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    try:
        raw = await asyncio.wait_for(reader.read(), 10)
    except ConnectionResetError:
        raw = b""
    took = loop.time() - t0
    dripping.cancel()
    writer.close()
    assert READ_TIMEOUT_S * 0.9 <= took < READ_TIMEOUT_S + 1.0, took
    assert raw.startswith(b"HTTP/1.1 408 "), raw


async def test_a_request_head_over_the_cap_is_refused_431_before_it_is_read(served):
    server, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    # Read as the answer comes: the reset that follows the hang-up drops what was not read.
    answer = asyncio.create_task(reader.read(4_096))
    writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    sent = 0
    try:
        for _ in range(1_000):  # up to 64 MB of one header
            writer.write(b"X-Pad: " + b"a" * 65_536 + b"\r\n")
            await writer.drain()
            sent += 65_543
    except (ConnectionError, OSError):
        pass
    raw = await asyncio.wait_for(answer, 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["detail"] == "request head exceeds 8192 bytes (api.max_header_bytes)"
    assert sent < 16 * 1024 * 1024  # hung up long before the client was done


async def test_heads_under_the_cap_and_streams_outlive_the_read_timeout(served):
    server, trader = served
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(trader)) as http:
        padded = await http.get("/api/v1/state", headers={"X-Pad": "a" * 6_000})
        assert padded.status_code == 200
        body = {"pad": "b" * 60_000}  # one big body read in the same chunk as its head
        assert (await http.post("/api/v1/orders", json=body)).status_code == 422
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream?token={trader}"
    async with websockets.connect(url) as ws:
        await asyncio.sleep(READ_TIMEOUT_S * 3)
        await ws.ping()
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"


async def test_connections_over_the_cap_get_503_and_the_api_answers_once_they_go(served):
    server, trader = served
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(8)]
    await asyncio.sleep(0.05)
    status, body = await _answer(await _open(server))
    assert status == 503
    assert body["detail"] == "8 connections already open (api.max_connections)"
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(trader)) as http:
        assert (await http.get("/api/v1/mode")).status_code == 200  # not refused by the cap


async def _next_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one answer of a kept-alive connection: its status and body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode().split("\r\n")
    length = next(int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length"))
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def test_a_request_pipelined_behind_a_slow_answer_is_not_timed_out(served):
    """A client that sends its next request before the answer to the first (pipelining) got a
    408 once the first took longer than the read timeout: the server itself held the second
    request's body unread meanwhile, and the 408, first on the wire, read as the first
    request's answer (that request ran; its own answer was dropped)."""
    server, trader = served

    async def slow() -> dict[str, str]:
        await asyncio.sleep(READ_TIMEOUT_S * 3)
        return {"answer": "slow"}

    server.app.add_api_route("/test/slow", slow)
    body = b'{"symbol": "BTC/USDT"}'
    reader, writer = await _open(
        server,
        b"GET /test/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % (trader.encode(), len(body)),
    )
    await asyncio.sleep(0.05)
    writer.write(body)  # the body in a later packet, as many clients send it
    # and a third request whose head is still arriving while the first is answered
    writer.write(b"GET /api/v1/health HTTP/1.1\r\n")
    await writer.drain()
    first = await _next_answer(reader)
    writer.write(b"Host: 127.0.0.1\r\n\r\n")
    second = await _next_answer(reader)
    third = await _next_answer(reader)
    writer.close()
    assert first == (200, b'{"answer":"slow"}')
    assert second[0] == 422, second  # the order route's own answer to a short body
    assert third[0] == 200, third


async def test_a_slow_client_still_sending_reads_its_408(served):
    """A client still sending its body when the read timeout struck saw the connection reset
    (its unread bytes made the close a reset, which drops the answer unread), not the 408; so
    did one whose second request on a kept-alive connection stalled (no 408 was written)."""
    server, trader = served

    async def dribble() -> AsyncIterator[bytes]:
        for _ in range(7):  # 14 000 bytes over 0.7 s: honest, but slower than the 0.5 s allowed
            yield b" " * 2_000
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(base_url=server.url, headers=bearer(trader)) as http:
        answer = await http.post(
            "/api/v1/orders",
            content=dribble(),
            headers={"content-type": "application/json", "content-length": "14000"},
        )
    assert answer.status_code == 408
    assert answer.json()["detail"] == (
        "request not received whole within 0.5 s (api.request_read_timeout_s)"
    )
    reader, writer = await _open(server, b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await _next_answer(reader))[0] == 200
    writer.write(b"GET /api/v1/health HTTP/1.1\r\n")  # the next request stalls half-sent
    assert (await _next_answer(reader))[0] == 408
    writer.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
async def served_tls(tmp_path, data_dir) -> AsyncIterator[tuple[ApiServer, str, ssl.SSLContext]]:
    """The `served` node over TLS; yields it, a token and a client context trusting it."""
    cert, key = _self_signed(tmp_path)
    node = await replayed_node(tmp_path, data_dir, rows=30)
    api = node.config.api
    api.request_read_timeout_s = READ_TIMEOUT_S
    api.max_connections = 8
    api.tls_certfile, api.tls_keyfile = str(cert), str(key)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        yield server, tokens.trader, ssl.create_default_context(cafile=str(cert))
    finally:
        await server.stop()
        node.close()


async def test_over_tls_kept_alive_requests_streams_and_408_work(served_tls):
    server, trader, context = served_tls
    assert server.url.startswith("https://")
    async with httpx.AsyncClient(
        base_url=server.url, headers=bearer(trader), verify=context
    ) as http:
        for _ in range(3):  # one kept-alive connection
            assert (await http.get("/api/v1/state")).status_code == 200
    url = f"wss://127.0.0.1:{server.port}/api/v1/stream?token={trader}"
    async with websockets.connect(url, ssl=context) as ws:
        await asyncio.sleep(READ_TIMEOUT_S * 3)
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=context, server_hostname="127.0.0.1"
    )
    writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
    status, _ = await _next_answer(reader)
    writer.close()
    assert status == 408


async def test_over_tls_a_connection_over_the_cap_reads_the_same_503(served_tls):
    server, trader, context = served_tls

    async def tls_open() -> Conn:
        return await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=context, server_hostname="127.0.0.1"
        )

    held = [await tls_open() for _ in range(8)]
    status, body = await _answer(await tls_open())
    assert status == 503
    assert body["detail"] == "8 connections already open (api.max_connections)"
    for _, writer in held:
        writer.close()
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(trader), verify=context) as h:
        deadline = asyncio.get_running_loop().time() + 10
        while (code := (await h.get("/api/v1/mode")).status_code) != 200:
            assert asyncio.get_running_loop().time() < deadline, code
            await asyncio.sleep(0.05)


async def test_over_tls_connections_that_never_handshake_are_capped_and_timed_out(served_tls):
    server, _, _ = served_tls
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
    await asyncio.sleep(READ_TIMEOUT_S * 3)
    still_open = 0
    for reader, writer in idle:
        try:
            ended = await asyncio.wait_for(reader.read(1), 0.05) == b""
        except TimeoutError:
            ended = False
        except ConnectionError:
            ended = True
        still_open += not ended
        writer.close()
    assert still_open == 0, f"{still_open} of 20 idle connections held (cap 8)"


async def test_a_refused_connection_still_sending_does_not_hold_up_the_stop(served):
    server, trader = served
    reader, writer = await _open(
        server,
        b"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        b"Content-Length: 1000\r\n\r\n{" % trader.encode(),
    )
    assert (await _next_answer(reader))[0] == 408
    writer.write(b" " * 100)  # still sending, never closing
    loop = asyncio.get_running_loop()
    began = loop.time()
    await server.stop()
    assert loop.time() - began < READ_TIMEOUT_S / 2, loop.time() - began
    writer.close()


async def test_over_tls_a_connection_in_its_handshake_does_not_hold_up_the_stop(served_tls):
    server, _, _ = served_tls
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await server.stop()
    assert loop.time() - began < READ_TIMEOUT_S / 2, loop.time() - began
    for reader, writer in idle:
        assert await asyncio.wait_for(reader.read(1), 1) == b""
        writer.close()


@pytest.mark.parametrize("url_bytes", [9_000, 60_000])
async def test_a_long_url_is_served_or_refused_431_without_a_traceback(
    tmp_path, data_dir, caplog, url_bytes
):
    """Under the default head cap (32 KB) a long URL is served; over it, sent in one piece,
    it is refused 431 (it was served: the cap counted only heads that arrived in parts)."""
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    caplog.set_level(logging.DEBUG)
    try:
        # empty query pairs: any parameter the route does not take is refused (422)
        head = b"GET /api/v1/health?" + b"&" * url_bytes + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        reader, writer = await _open(server, head)
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await server.stop()
        node.close()
    status = raw.split(b" ", 2)[1]
    assert status == (b"200" if url_bytes < 32_768 else b"431"), raw[:200]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_blank_line_split_across_reads_ends_the_head_for_the_cap(served):
    """The body after a head whose blank line came in two reads is not counted as head."""
    server, trader = served
    body = json.dumps({"pad": "b" * 20_000}).encode()
    head = (
        f"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {trader}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r"
    ).encode()
    reader, writer = await _open(server, head)
    await asyncio.sleep(0.05)  # two reads on the server's side
    writer.write(b"\n" + body)
    answer = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert answer.split()[1] == b"422", answer


@pytest.mark.parametrize(
    ("host", "said"), [("9" * 400, "not a host name or address"), ("", "an empty host")]
)
async def test_a_host_that_is_no_address_is_a_clear_error(tmp_path, data_dir, host, said):
    """`tradeguard serve --host 99...9` ended in UnicodeError ('label too long') from the bind;
    `--host ''` listened on every interface."""
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    server = ApiServer(node, host, 0, app=app)
    try:
        with pytest.raises(TradeguardError, match="could not start on") as started:
            await server.start()
        assert said in str(started.value)
        await server.stop()  # it never served: nothing to raise again (it raised UnicodeError)
    finally:
        node.close()


# Completes TLS handshakes with the server one after another and then holds every connection
# without reading or closing it (its TLS layer never answers the server's close_notify).
_HANDSHAKE_FLOOD = """
import socket, ssl, sys, time
port, cafile, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
context = ssl.create_default_context(cafile=cafile)
held, closed = [], 0
for _ in range(n):
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        held.append(context.wrap_socket(sock, server_hostname="127.0.0.1"))
    except OSError:
        closed += 1
        sock.close()
print(len(held), closed, flush=True)
sys.stdin.read()
"""


def _open_on_server(port: int) -> int:
    """The server's end of established TCP connections to `port` (file descriptors it holds)."""
    lines = Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    return sum(
        int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01" for f in map(str.split, lines)
    )


async def test_over_tls_a_flood_over_the_cap_holds_a_bounded_number_of_connections(
    tmp_path, data_dir
):
    """Each refused TLS connection was let go as soon as its 503 was written, while its socket
    stayed open for the TLS close (up to 30 s): a flood of handshakes that never close held
    one file descriptor each, without bound, until the node could accept nobody."""
    cert, key = _self_signed(tmp_path)
    node = await replayed_node(tmp_path, data_dir, rows=30)
    api = node.config.api
    api.request_read_timeout_s = 300  # the flood and the checks end well within it
    api.max_connections = 4
    api.tls_certfile, api.tls_keyfile = str(cert), str(key)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    context = ssl.create_default_context(cafile=str(cert))
    flood = None
    try:
        held = [
            await asyncio.open_connection(
                "127.0.0.1", server.port, ssl=context, server_hostname="127.0.0.1"
            )
            for _ in range(4)
        ]
        flood = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _HANDSHAKE_FLOOD, str(server.port), str(cert), "60",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert flood.stdout is not None
        secured, closed = map(int, (await asyncio.wait_for(flood.stdout.readline(), 240)).split())
        assert (secured, closed) == (16, 44)  # 16 handshakes carry a 503, the rest closed at once
        assert _open_on_server(server.port) <= 4 + 16
        held[0][1].close()  # a place within the cap: a client takes it and is answered
        async with httpx.AsyncClient(
            base_url=server.url, headers=bearer(tokens.viewer), verify=context
        ) as http:
            deadline = asyncio.get_running_loop().time() + 60
            while (code := (await http.get("/api/v1/state")).status_code) != 200:
                assert asyncio.get_running_loop().time() < deadline, code
                await asyncio.sleep(0.05)
    finally:
        if flood is not None:
            flood.kill()
            await flood.wait()
        await server.stop()
        node.close()

"""A receiver that takes the connection and never finishes answering holds one delivery for a
bounded time only: later alerts of its channel go out once it answers again, and other channels
never wait for it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
from collections.abc import Iterator

from aiohttp import web

from conftest import aeventually
from test_alerts_channels import ALERT
from tradeguard.alerts import AlertManager, AlertsConfig, EmailChannel, WebhookChannel
from tradeguard.alerts.channels import ChannelError


def _serve_smtp(conn: socket.socket, inbox: list[bytes]) -> None:
    """A minimal relay: greet, accept every command, keep each message's data."""
    reader = conn.makefile("rb")
    conn.sendall(b"220 relay ready\r\n")
    while line := reader.readline():
        verb = line[:4].upper()
        if verb == b"DATA":
            conn.sendall(b"354 go on\r\n")
            data = b""
            while (chunk := reader.readline()) not in (b".\r\n", b""):
                data += chunk
            inbox.append(data)
            conn.sendall(b"250 queued\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"250 ok\r\n")


@contextlib.contextmanager
def _relay_hung_first(hung: int) -> Iterator[tuple[int, list[bytes]]]:
    """A relay whose first `hung` sessions greet one byte every 0.1 s forever (no read ever
    times out), the later ones answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()
    inbox: list[bytes] = []

    def drip(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"2")
                except OSError:
                    return
                stop.wait(0.1)

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            _serve_smtp(conn, inbox)

    def accept() -> None:
        seen = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            seen += 1
            target = drip if seen <= hung else serve
            threading.Thread(target=target, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], inbox
    finally:
        stop.set()
        listener.close()


async def _http_receiver() -> tuple[web.AppRunner, int, list[str]]:
    """A webhook receiver that never answers a request taken while it was hung (ids starting
    `h-`: a proxy that lost them), and answers the others; the ids it answered."""
    ids: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        alert_id = request.headers.get("X-Alert-Id", "")
        if alert_id.startswith("h-"):
            await asyncio.Event().wait()  # never answered
        ids.append(alert_id)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port, ids


async def test_a_hung_relay_holds_later_emails_for_a_bounded_time_only() -> None:
    cfg = AlertsConfig(timeout_s=0.3, max_retries=20, retry_backoff_s=0.05, retry_backoff_max_s=0.1)
    runner, port, ids = await _http_receiver()  # a healthy webhook
    try:
        with _relay_hung_first(hung=1) as (smtp_port, inbox):
            email = EmailChannel("127.0.0.1", smtp_port, "bot@t.test", ["ops@t.test"],
                                 starttls=False, timeout_s=cfg.timeout_s)  # fmt: skip
            webhook = WebhookChannel(f"http://127.0.0.1:{port}/hook", "generic", cfg.timeout_s)
            manager = AlertManager(cfg, [email, webhook])
            await manager.start()
            first = dataclasses.replace(ALERT, id="a-1")
            manager.enqueue(first)
            # the webhook does not wait for the hung relay
            await aeventually(lambda: len(ids) == 1, 5)
            second = dataclasses.replace(ALERT, title="second", id="a-2")
            manager.enqueue(second)
            # the hung session is cut: the first email, then the second, go out after it
            await aeventually(lambda: len(inbox) == 2, 20)
            await manager.stop(timeout_s=1)
    finally:
        await runner.cleanup()
    assert b"second" in inbox[1]
    assert manager.channel_counters["email"]["sent"] == 2
    assert manager.channel_counters["email"]["failed"] == 0


async def test_an_email_session_that_never_ends_fails_within_its_bound() -> None:
    with _relay_hung_first(hung=1) as (port, _inbox):
        # each read waits 0.5 s for a byte dripped every 0.1 s: the session bound ends it, not
        # a read, even when another test worker keeps the cores busy
        email = EmailChannel("127.0.0.1", port, "b@t.test", ["o@t.test"], starttls=False,
                             timeout_s=0.5)  # fmt: skip
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.wait_for(email.send(ALERT), 20)
        except ChannelError as exc:
            assert "session not over within 2.5 s (alerts.timeout_s x 5)" in str(exc)
        else:
            raise AssertionError("a session that never ends was taken as delivered")
        assert loop.time() - started < 10
        await email.aclose()


async def test_hung_posts_do_not_keep_a_recovered_receiver_waiting() -> None:
    cfg = AlertsConfig(timeout_s=0.3, max_retries=20, retry_backoff_s=0.05, retry_backoff_max_s=0.1)
    runner, port, ids = await _http_receiver()
    try:
        channel = WebhookChannel(f"http://127.0.0.1:{port}/hook", "generic", cfg.timeout_s)
        # a hung receiver: each alert's POST abandoned by its sender, none ever answered
        for n in range(110):
            with contextlib.suppress(TimeoutError, ChannelError):
                await asyncio.wait_for(channel.send(dataclasses.replace(ALERT, id=f"h-{n}")), 0.01)
        # the receiver answers new requests again; those it lost stay unanswered
        manager = AlertManager(cfg, [channel])
        await manager.start()
        manager.enqueue(dataclasses.replace(ALERT, id="after"))
        await aeventually(lambda: "after" in ids, 20)
        await manager.stop(timeout_s=1)
    finally:
        await runner.cleanup()
    assert manager.channel_counters[channel.name]["sent"] == 1


async def test_a_post_that_is_never_answered_fails_within_its_bound() -> None:
    runner, port, _ids = await _http_receiver()
    try:
        channel = WebhookChannel(f"http://127.0.0.1:{port}/hook", "generic", 0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.wait_for(channel.send(dataclasses.replace(ALERT, id="h-x")), 10)
        except ChannelError as exc:
            assert "no answer within 1 s (alerts.timeout_s x 5)" in str(exc)
            assert "/hook" not in str(exc)  # the URL's path is the webhook's credential
        else:
            raise AssertionError("an unanswered POST was taken as delivered")
        assert loop.time() - started < 5
        await channel.aclose()
    finally:
        await runner.cleanup()

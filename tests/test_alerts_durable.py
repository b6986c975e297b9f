"""An alert raised by a committed change survives a SIGKILL before delivery: the next start
delivers it once, with a stable id a receiver can drop a repeat by."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import pytest
from aiohttp import web

from conftest import aeventually
from tradeguard.alerts.channels import WebhookChannel
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.node.builder import wire_alerts
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

CHILD = Path(__file__).with_name("alert_crash_child.py")


def _held_port() -> socket.socket:
    """A socket bound to a free port and not listening: connections are refused (the receiver
    is down) and no other process can take the port before the receiver listens on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def _killed_before_delivery(url: str, port: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), url, str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if line.strip() != b"ready":
        proc.kill()
        _, err = await proc.communicate()
        pytest.fail(err.decode()[-2000:])
    proc.send_signal(signal.SIGKILL)
    await proc.communicate()
    assert proc.returncode == -signal.SIGKILL


async def _restart(url: str, port: int) -> AlertManager:
    db = Database(url)
    db.migrate()
    storage = Storage(db)
    hook = WebhookChannel(f"http://127.0.0.1:{port}/hook", "generic", 1.0)
    manager = AlertManager(AlertsConfig(enabled=True), [hook])
    wire_alerts(manager, storage)
    await manager.start()
    return manager


async def _check(url: str) -> None:
    held = _held_port()
    port = int(held.getsockname()[1])
    try:
        await _killed_before_delivery(url, port)  # the receiver was down all the while
    except BaseException:
        held.close()
        raise
    got: list[tuple[str, dict[str, object]]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((request.headers.get("X-Alert-Id", ""), await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, held).start()  # the receiver comes up on the same port
    try:
        manager = await _restart(url, port)
        await aeventually(lambda: len(got) == 1, timeout_s=20)
        await aeventually(lambda: manager.stats()["sent"] == 1)
        await manager.stop()
        alert_id, body = got[0]
        assert body["title"] == "Position held unprotected"
        assert alert_id and body["id"] == alert_id
        again = await _restart(url, port)  # delivered rows are gone: nothing is sent twice
        await again.stop()
        assert len(got) == 1
    finally:
        await runner.cleanup()


async def test_an_alert_killed_before_delivery_is_delivered_after_restart_sqlite(
    sqlite_url: str,
) -> None:
    await _check(sqlite_url)


async def test_an_alert_killed_before_delivery_is_delivered_after_restart_postgres(
    pg_url: str,
) -> None:
    await _check(pg_url)


def test_a_dead_receiver_does_not_grow_the_table_past_its_cap(sqlite_url: str, caplog) -> None:
    from tradeguard.alerts.durable import AlertOutbox, with_id
    from tradeguard.alerts.rules import Alert

    db = Database(sqlite_url)
    db.migrate()
    outbox = AlertOutbox(Storage(db), limit=3)
    alerts = [with_id(Alert("venue_error", f"error {n}", "", "warning", "v")) for n in range(5)]
    for alert in alerts:
        outbox.add([alert], ["webhook:generic"])
    left = outbox.pending(["webhook:generic"])
    assert [a.title for _, a in left] == ["error 2", "error 3", "error 4"]  # the newest kept
    assert outbox.dropped == 2
    assert "at most 3 are kept" in caplog.text
    outbox.delivered(alerts[3].id, "webhook:generic")
    assert [a.title for _, a in outbox.pending(["webhook:generic"])] == ["error 2", "error 4"]
    assert outbox.pending(["telegram"]) == []  # a channel no longer configured: rows deleted
    assert outbox.pending(["webhook:generic"]) == []
    db.dispose()

"""A webhook receiver slower than alerts.timeout_s on 127.0.0.1: it gets each alert once."""

from __future__ import annotations

import asyncio

from aiohttp import web

from conftest import aeventually
from test_alerts_channels import ALERT
from tradeguard.alerts import AlertManager, AlertsConfig, WebhookChannel


async def test_a_slow_webhook_receiver_gets_each_alert_once() -> None:
    cfg = AlertsConfig(timeout_s=0.4, max_retries=3, retry_backoff_s=0.1, retry_backoff_max_s=0.1)
    bodies: list[object] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        await asyncio.sleep(0.6)  # over the client's read timeout, under the manager's
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        channel = WebhookChannel(f"http://127.0.0.1:{port}/hook", "generic", cfg.timeout_s)
        manager = AlertManager(cfg, [channel])
        await manager.start()
        manager.enqueue(ALERT)
        await aeventually(lambda: manager.counters["sent"] + manager.counters["failed"] == 1, 30)
        await asyncio.sleep(1.5)  # a resend would land after the first answer
        await manager.stop()
    finally:
        await runner.cleanup()
    assert len(bodies) == 1
    assert manager.counters["sent"] == 1

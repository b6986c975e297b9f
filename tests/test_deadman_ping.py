"""The dead-man ping: a live node calls alerts.heartbeat_url while healthy, and only then.

A loopback aiohttp server records the pings of a sandbox node: they come at the interval, stop
while trading is halted, come back on resume and end with the run. A failing ping is logged with
the URL masked and the node trades on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from live_support import sandbox_config, write_vault
from tradeguard.alerts.deadman import DeadManPing, masked_url
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

TOKEN = "5f8b2c1e-9d4a-4e7b-8c3f-1a2b3c4d5e6f"
INTERVAL_S = 0.2


@dataclass
class PingReceiver:
    """Record each ping's arrival (monotonic time, method, path); answer `status`."""

    status: int = 200
    pings: list[tuple[float, str, str]] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.pings.append((time.monotonic(), request.method, request.path))
        return web.Response(status=self.status, text="OK")

    def url(self, path: str = f"/ping/{TOKEN}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.asynccontextmanager
async def ping_receiver() -> AsyncIterator[PingReceiver]:
    rec = PingReceiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rec
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def live_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, method: str = "GET"
) -> AsyncIterator[tuple[TradingNode, asyncio.Task[Any]]]:
    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        config = sandbox_config(tmp_path, ex, [])
        config.alerts.heartbeat_url = url  # type: ignore[assignment]
        config.alerts.heartbeat_interval_s = INTERVAL_S
        config.alerts.heartbeat_method = method  # type: ignore[assignment]
        config.alerts.timeout_s = 1
        node = TradingNode(config)
        await node.start()
        run = asyncio.create_task(node.run_live())
        try:
            yield node, run
        finally:
            node.request_stop()
            with contextlib.suppress(Exception):
                await run
            await node.stop()
            node.close()


async def test_pings_come_at_the_interval_stop_while_halted_and_end_with_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        ping_receiver() as rec,
        live_node(tmp_path, monkeypatch, rec.url(), method="POST") as (node, run),
    ):
        await eventually(lambda: len(rec.pings) >= 4, timeout_s=10)
        ping = node.liveness.ping
        assert isinstance(ping, DeadManPing)
        gaps = [b[0] - a[0] for a, b in zip(rec.pings, rec.pings[1:], strict=False)]
        assert min(gaps) >= INTERVAL_S * 0.8, gaps
        assert {(m, p) for _, m, p in rec.pings} == {("POST", f"/ping/{TOKEN}")}

        await node.kill("dead-man drill", by="operator")
        skipped = ping.counters["skipped"]
        await eventually(lambda: ping.counters["skipped"] >= skipped + 1)
        halted_at = len(rec.pings)
        await eventually(lambda: ping.counters["skipped"] >= skipped + 4, timeout_s=10)
        assert len(rec.pings) == halted_at, "no ping while trading is halted"

        node.risk.resume("operator", "drill over")
        await eventually(lambda: len(rec.pings) >= halted_at + 2, timeout_s=10)

        node.request_stop()
        await run
        stopped_at = len(rec.pings)
        await asyncio.sleep(INTERVAL_S * 4)  # several intervals with no run: no ping
        assert len(rec.pings) == stopped_at


async def test_a_failing_ping_is_logged_masked_and_the_node_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ping_receiver() as rec:
        rec.status = 500
        async with live_node(tmp_path, monkeypatch, rec.url()) as (node, run):
            await eventually(lambda: node.liveness.ping is not None)
            ping = node.liveness.ping
            await eventually(lambda: ping.counters["failed"] >= 3)
            assert not run.done(), "a failing ping never stops the node"
            assert node.liveness.running
            rec.status = 200
            sent = ping.counters["sent"]
            await eventually(lambda: ping.counters["sent"] > sent)
    failures = [r for r in caplog.records if "dead-man ping" in r.getMessage()]
    assert failures and "HTTP 500" in failures[0].getMessage()
    assert f"http://127.0.0.1/{'***'}" in failures[0].getMessage()
    assert TOKEN not in caplog.text


async def test_an_unreachable_ping_url_is_a_logged_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    url = f"http://127.0.0.1:9/hc/{TOKEN}?key=another-secret-key-1234"
    ping = DeadManPing(url, INTERVAL_S, lambda: True, timeout_s=1)
    task = asyncio.create_task(ping.run())
    try:
        await eventually(lambda: ping.counters["failed"] >= 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert masked_url(url) == "http://127.0.0.1/***"
    assert TOKEN not in caplog.text and "another-secret-key-1234" not in caplog.text
    assert "dead-man ping to http://127.0.0.1/***" in caplog.text

"""Alerts wired into the node: a paper run sends position and daily-summary alerts to a webhook."""

from __future__ import annotations

from aiohttp import web

from node_support import node_for, paper_config, write_slice


async def test_paper_run_sends_position_alerts_and_a_daily_summary_to_the_webhook(
    tmp_path, data_dir
):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        data = write_slice(data_dir, tmp_path / "btc.csv", 1800)  # crosses a UTC midnight
        cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, tmp=tmp_path)
        cfg.alerts.webhook.url = f"http://127.0.0.1:{port}/hook"  # type: ignore[assignment]
        node = node_for(cfg)
        assert node.alerts is not None
        await node.start()
        summary = await node.run()
        await node.stop()
        node.close()
    finally:
        await runner.cleanup()
    texts = [r["text"] for r in received]
    assert summary.orders > 0
    assert any(t.startswith("Position opened") or "Position opened" in t for t in texts), texts
    assert any("Daily" in t or "daily" in t for t in texts), texts

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


def _vault(tmp_path, monkeypatch, fields: dict[str, str]) -> None:
    from tradeguard.secrets.vault import ScryptParams, Vault

    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create("correct horse battery staple")
    vault.add("alerts-main", "alerts", fields)
    vault.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", "correct horse battery staple")


async def test_alert_channel_secrets_come_from_the_vault_not_the_config(
    tmp_path, data_dir, monkeypatch
):
    import pytest

    from test_alerts_channels import serve_http
    from tradeguard.model.errors import ConfigError

    async with serve_http() as rec:
        _vault(tmp_path, monkeypatch, {
            "webhook_url": f"{rec.base}/hook", "telegram_bot_token": "123:secret-token",
        })  # fmt: skip
        data = write_slice(data_dir, tmp_path / "btc.csv", 600)
        cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, tmp=tmp_path)
        cfg.alerts.credentials = "alerts-main"
        cfg.alerts.telegram.chat_id = "42"
        cfg.alerts.telegram.api_base = rec.base
        assert "secret-token" not in cfg.model_dump_json()  # nothing of it in the file
        node = node_for(cfg)
        try:
            assert node.alerts is not None and len(node.alerts.channels) == 2
            await node.start()
            await node.run()
            await node.stop()
        finally:
            node.close()
        paths = {p for p, _ in rec.requests}
        assert "/hook" in paths  # the webhook from the vault
        assert "/bot123:secret-token/sendMessage" in paths  # the bot token from the vault
        assert "secret-token" not in node.config.model_dump_json()

        # Set in both places, or a field that is no alert secret: refused, nothing shown.
        both = paper_config(f"sqlite:///{tmp_path / 'b.db'}", data, tmp=tmp_path)
        both.alerts.credentials = "alerts-main"
        both.alerts.webhook.url = "http://127.0.0.1:9/other"  # type: ignore[assignment]
        with pytest.raises(ConfigError, match="keep it in one place") as err:
            node_for(both)
        assert "127.0.0.1:9" not in str(err.value) and rec.base not in str(err.value)
    (tmp_path / "other").mkdir()
    _vault(tmp_path / "other", monkeypatch, {"api_key": "k"})
    odd = paper_config(f"sqlite:///{tmp_path / 'c.db'}", data, tmp=tmp_path)
    odd.alerts.credentials = "alerts-main"
    with pytest.raises(ConfigError, match="api_key are no alert secret"):
        node_for(odd)

"""A quote stream whose websocket is refused says so: degraded, on REST fallback, since when.

A sandbox node (real ccxt) streams BTC/USDT quotes from an in-process sandbox; the sandbox's
`refuse_ws` fault takes the websocket side down while REST goes on. Quotes keep coming from
REST snapshots, and the health answer, the streams list the dashboard reads and
`tradeguard status` (a subprocess) show the stream degraded until the websocket is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect

from live_support import move_books, sandbox_config, two_symbol_sandbox, write_vault
from test_api_support import bearer
from test_dashboard_browser import ARGS, CHROMIUM
from test_health_api import _check, _until, served
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually

STREAMS = "/api/v1/marketdata/streams"


def _market(r: httpx.Response) -> dict[str, Any]:
    return _check(r, "market_data")  # type: ignore[no-any-return]


async def _status(tmp: Path, api: str) -> str:
    conf = tmp / "status.toml"
    conf.write_text(f'[node]\ndatabase_url = "sqlite:///{tmp / "tg.db"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", "status", "--config", str(conf), "--api", api,
        env={**env, "COLUMNS": "200"}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def _dashboard(page: Page, url: str, token: str) -> Any:
    await page.goto(f"{url}/")
    await page.fill("#token-input", token)
    await page.click("#login-form button[type=submit]")
    return page.locator('#stream-rows tr[data-stream="binance/BTC/USDT/quotes"]')


async def test_a_refused_quote_websocket_shows_degraded_on_rest_fallback_until_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, []))
        await node.start()
        run = asyncio.create_task(node.run_live())
        mover = asyncio.create_task(move_books(ex))
        try:
            async with served(node) as (http, tokens):
                assert node.live is not None
                node.live.subscribe([Subscription("quotes", "binance", "BTC/USDT")])
                await eventually(lambda: node.market.last_update_ms("BTC/USDT") is not None)
                up = await _until(http, lambda r: _market(r)["streams"] >= 1)
                assert _market(up)["state"] == "streaming" and _market(up)["status"] == "ok"

                ex.faults.update({"refuse_ws": True})  # the websocket side goes down
                ex.disconnect_websockets()
                down = await _until(
                    http, lambda r: _market(r)["state"] == "rest_fallback", timeout_s=30
                )
                market = _market(down)
                assert down.status_code == 503 and down.json()["status"] == "degraded"
                assert market["status"] == "degraded" and market["rest_fallback"] == 1
                assert market["fallback_since_ms"] > 0 and market["reconnect_attempts"] >= 1

                # quotes still come (from REST snapshots), so nothing is stale: only the
                # fallback state tells the websocket is down
                streams = (await http.get(STREAMS, headers=bearer(tokens.viewer))).json()
                [row] = [s for s in streams["items"] if s["stream"] == "quotes"]
                before = row["messages"]
                assert row["state"] == "rest_fallback" and not row["stale"]
                assert row["reconnects"] >= 1 and row["reconnect_attempts"] >= 1
                assert row["fallback_since_ms"] == market["fallback_since_ms"] and row["error"]
                assert streams["rest_fallback"] == 1

                text = await _status(tmp_path, str(http.base_url))
                assert "on REST fallback (websocket down) since" in text, text
                assert "reconnect attempt(s)" in text, text

                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                    page = await browser.new_page(viewport={"width": 1400, "height": 1500})
                    row_el = await _dashboard(page, str(http.base_url).rstrip("/"), tokens.viewer)
                    await expect(row_el).to_have_attribute("data-state", "rest_fallback")
                    await expect(row_el).to_contain_text("degraded: REST fallback since")
                    await expect(page.locator("#streams-summary")).to_contain_text(
                        "1 degraded (websocket down, on REST)"
                    )
                    ex.faults.update({"refuse_ws": False})  # and comes back
                    back = await _until(http, lambda r: _market(r)["state"] == "streaming", 60)
                    await expect(row_el).to_have_attribute(
                        "data-state", "streaming", timeout=15_000
                    )
                    await expect(row_el).to_contain_text("live")
                    await browser.close()
                assert _market(back)["status"] == "ok" and "fallback_since_ms" not in _market(back)
                streams = (await http.get(STREAMS, headers=bearer(tokens.viewer))).json()
                [row] = [s for s in streams["items"] if s["stream"] == "quotes"]
                assert row["state"] == "streaming" and row["messages"] > before
                assert row["fallback_since_ms"] is None and row["reconnect_attempts"] == 0
                assert "REST fallback" not in await _status(tmp_path, str(http.base_url))
        finally:
            mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mover
            node.request_stop()
            await run
            await node.stop()
            node.close()

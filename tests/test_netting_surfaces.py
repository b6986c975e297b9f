"""Nettings (a YES and a NO contract of one market paid out by Kalshi) are listed like
settlements: GET /api/v1/nettings (paged, viewer role, in the OpenAPI) and a dashboard panel."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from kalshi_node_support import NO, TICKER, YES, buy, kalshi_node
from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app, client
from test_dashboard_browser import ARGS, CHROMIUM
from tradeguard.api.server import ApiServer
from tradeguard.node import TradingNode
from tradeguard.node.builder import build_node

D = Decimal


async def _netted_node(tmp_path: Path, monkeypatch):
    """A node that bought 4 YES then 20 NO on the local Kalshi: 4 pairs netted."""
    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch)
    node = TradingNode(cfg)
    await node.start()
    venue = node.venues["kalshi"]
    await buy(node, YES, "4", str((await venue.fetch_quote(YES)).ask))
    await buy(node, NO, "20", str((await venue.fetch_quote(NO)).ask))
    return server, node


async def test_nettings_are_listed_by_the_api_newest_first_paged_and_for_viewers_only(
    tmp_path: Path, monkeypatch
):
    server, node = await _netted_node(tmp_path, monkeypatch)
    try:
        app, tokens = build_app(node)
        async with client(app) as http:
            got = (await http.get("/api/v1/nettings", headers=bearer(tokens.viewer))).json()
            one = await http.get("/api/v1/nettings?limit=1&offset=1", headers=bearer(tokens.viewer))
            other = await http.get("/api/v1/nettings?venue=poly", headers=bearer(tokens.viewer))
            anonymous = await http.get("/api/v1/nettings")
            bad = await http.get("/api/v1/nettings?limit=0", headers=bearer(tokens.viewer))
        assert got["total"] == 2
        rows = {r["outcome"]: r for r in got["items"]}
        assert {r["symbol"] for r in got["items"]} == {YES, NO}
        assert D(rows["yes"]["contracts"]) == D(rows["no"]["contracts"]) == 4
        assert D(rows["yes"]["price"]) + D(rows["no"]["price"]) == 1
        assert sum(D(r["cash"]) for r in got["items"]) == 4  # 4 pairs paid 1 USD each
        assert all(r["venue"] == "kalshi" and r["strategy_id"] == "s1" for r in got["items"])
        assert one.json()["total"] == 2 and len(one.json()["items"]) == 1
        assert other.json()["items"] == [] and anonymous.status_code == 401
        assert bad.status_code == 422
        assert "get" in app.openapi()["paths"]["/api/v1/nettings"]
    finally:
        await node.stop()
        node.close()
        await server.stop()


async def test_the_dashboard_shows_a_nettings_panel_once_pairs_were_netted(
    tmp_path: Path, monkeypatch
):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    server, node = await _netted_node(tmp_path, monkeypatch)
    app, tokens = build_app(node)
    api = ApiServer(node, "127.0.0.1", 0, app=app)
    await api.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 2000})
            await page.goto(f"{api.url}/")
            await page.fill("#token-input", tokens.viewer)
            await page.click("#login-form button[type=submit]")
            rows = page.locator("#netting-rows tbody tr")
            await expect(rows).to_have_count(2, timeout=20_000)
            await expect(page.locator("#nettings")).to_be_visible()
            await expect(page.locator("#nettings")).to_contain_text(f"{TICKER}:NO/USD")
            await expect(page.locator("#nettings")).to_contain_text(f"{TICKER}:YES/USD")
            await browser.close()
    finally:
        await api.stop()
        await node.stop()
        node.close()
        await server.stop()


async def test_a_nul_in_the_venue_filter_is_refused_in_one_line_on_postgresql(
    tmp_path: Path, data_dir: Path, pg_url: str
):
    # PostgreSQL stores no NUL: the filter reached the query and raised (a 500 and a traceback)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    node = build_node(paper_config(pg_url, data, strategies=False, risk=PERMISSIVE, tmp=tmp_path))
    await node.start()
    try:
        app, tokens = build_app(node)
        async with client(app) as http:
            for route in ("nettings", "settlements"):
                r = await http.get(f"/api/v1/{route}?venue=k%00x", headers=bearer(tokens.viewer))
                assert r.status_code == 422, r.text
                assert r.json()["error"].startswith("invalid request: query.venue = ")
                ok = await http.get(f"/api/v1/{route}?venue=kalshi", headers=bearer(tokens.viewer))
                assert ok.status_code == 200 and ok.json()["total"] == 0
    finally:
        await node.stop()
        node.close()

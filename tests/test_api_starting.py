"""The API serves while the node starts (`tradeguard run` binds it first): until the venues'
markets are loaded, health is not green and an order is refused with a reason to retry, not
`UNKNOWN_INSTRUMENT`."""

from __future__ import annotations

from test_api_support import bare_paper_config, bearer, build_app, client
from tradeguard.node import build_node

BUY = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}


async def test_health_and_orders_wait_for_the_markets_after_a_restart(tmp_path, data_dir):
    node = build_node(bare_paper_config(tmp_path, data_dir, rows=30))
    app, tokens = build_app(node)
    async with client(app) as http:
        health = await http.get("/api/v1/health")
        assert health.status_code == 503, health.text
        assert health.json()["checks"]["startup"]["state"] == "starting"
        early = await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
        assert early.status_code == 503, early.text
        assert early.json()["code"] == "STARTING"
        assert early.json()["reason"] == "starting: markets not loaded yet, retry"
        await node.start()
        assert (await http.get("/api/v1/health")).status_code == 200
        r = await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
        # past the instrument check now: refused only for want of a price (no candle yet)
        assert r.json()["code"] == "STALE_MARKET_DATA", r.text
    node.close()

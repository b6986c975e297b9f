"""The served API: the WebSocket stream pushes events, /metrics exposes the node."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets

from test_api_support import bearer, build_app, next_candle, replayed_node, resting_buy
from tradeguard.api.server import ApiServer
from tradeguard.model import OrderIntent, OrderType, Side


async def _until(ws: Any, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Read stream messages until one of `kind` arrives (bounded)."""
    async with asyncio.timeout(timeout_s):
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("kind") == kind or msg.get("type") == kind:
                return msg


async def test_the_stream_pushes_a_fill_event_as_json(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        url = f"ws://127.0.0.1:{server.port}/api/v1/stream"
        async with websockets.connect(f"{url}?token={tokens.viewer}") as ws:
            hello = await _until(ws, "hello")
            assert hello["role"] == "viewer"
            result = await node.submit(
                OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.001"),
                            OrderType.MARKET, signal={"why": "stream test"})
            )  # fmt: skip
            assert result.ok
            next_candle(node)
            fill = await _until(ws, "fill")
        assert fill["symbol"] == "BTC/USDT"
        assert fill["data"]["client_order_id"] == result.order.client_order_id
        assert Decimal(fill["data"]["amount"]) == Decimal("0.001")
    finally:
        await server.stop()
        node.close()


async def test_the_stream_accepts_the_token_as_first_message_and_refuses_a_bad_one(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        url = f"ws://127.0.0.1:{server.port}/api/v1/stream"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"token": tokens.viewer}))
            assert (await _until(ws, "hello"))["token_id"]
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"token": "tg_wrong"}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    finally:
        await server.stop()
        node.close()


async def test_metrics_expose_orders_denials_equity_breakers_latency_and_loop_lag(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        await resting_buy(node)
        await node.submit(
            OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("1"), OrderType.MARKET)
        )  # denied: over max_order_notional_usd
        metrics = app.state.api.metrics
        for _ in range(200):  # the lag task samples every 0.25 s; wait for one sample (bounded)
            if metrics.loop_lag.collect()[0].samples[-1].value > 0:
                break
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=server.url) as http:
            refused = await http.get("/metrics")
            r = await http.get("/metrics", headers=bearer(tokens.viewer))
    finally:
        await server.stop()
        node.close()
    assert refused.status_code == 401
    text = r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert 'tradeguard_orders_total{status="submitted",venue="paper"} 1.0' in text
    assert 'tradeguard_risk_denials_total{code="MAX_ORDER_NOTIONAL"} 1.0' in text
    assert "tradeguard_equity 10000.0" in text or "tradeguard_equity 9999" in text
    assert 'tradeguard_breaker_state{breaker="kill_switch"} 0.0' in text
    assert 'tradeguard_venue_latency_seconds_count{op="submit",venue="paper"} 1.0' in text
    assert "tradeguard_event_loop_lag_seconds_count" in text
    assert "tradeguard_trading_state 0.0" in text


async def test_dashboard_and_its_assets_are_served_without_any_outside_reference(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as http:
        pages = [await http.get(p) for p in ("/", "/static/app.js", "/static/style.css")]
    node.close()
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert "EMERGENCY STOP" in pages[0].text
    for page in pages:
        assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in page.text

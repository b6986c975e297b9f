"""A token bound to a bot reads that bot alone: the account-wide reads (balances, positions,
orders, fills, trades, equity, strategies, events, arbitrage, state, metrics, the stream) refuse
it with 403 naming its scope, while the bot's own routes keep answering, over real HTTP."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets
from starlette.routing import Route

from bots_support import rig
from test_api_route_walk_auth import PUBLIC, walk
from tradeguard.api.server import ApiServer

# the bot's own reads: each answers only the bound bot's rows (or refuses another bot's)
OWN = {
    "/api/v1/safety/bots",
    "/api/v1/safety/status",
    "/api/v1/bots/status/summary",
    "/api/v1/bots/{bot_id}/stats",
    "/api/v1/trades/status/{trade_id}",
    "/api/v1/trades/recent/{bot_id}",
}


def _account_reads(app) -> list[str]:
    paths = []
    for path, route in walk(app.routes):
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        if path not in OWN and ("GET", path) not in PUBLIC:  # public: no account figures
            paths.append(path.replace("{", "").replace("}", ""))
    return paths


async def test_a_bot_token_is_refused_every_account_wide_read(tmp_path, data_dir):
    # every one of these answered 200 to alpha's token with the whole account's rows
    r = await rig(tmp_path, data_dir)
    server = ApiServer(r.node, "127.0.0.1", 0, app=r.app)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            paths = _account_reads(r.app)
            assert {"/api/v1/balances", "/api/v1/positions", "/api/v1/orders", "/api/v1/fills",
                    "/api/v1/trades", "/api/v1/equity", "/api/v1/events", "/api/v1/state",
                    "/api/v1/arb/summary", "/metrics"} <= set(paths)  # fmt: skip
            opened = {}
            for path in paths:
                answer = await http.get(path, headers=r.alpha)
                if answer.status_code != 403:
                    opened[path] = answer.status_code
                    continue
                detail = answer.json()["detail"]
                assert "bound to bot 'alpha'" in detail and "/api/v1/safety" in detail, detail
            assert opened == {}, opened
            # the same routes still answer a viewer's token
            for path in ("/api/v1/positions", "/api/v1/state", "/api/v1/balances"):
                answer = await http.get(path, headers=r.trader)
                assert answer.status_code == 200, (path, answer.text)
    finally:
        await server.stop()
        await r.http.aclose()
        r.node.close()


async def test_a_bot_token_still_reads_its_own_bot_and_no_other(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        bots = (await r.http.get("/api/v1/safety/bots", headers=r.alpha)).json()["items"]
        assert [b["bot_id"] for b in bots] == ["alpha"]
        status = (await r.http.get("/api/v1/safety/status", headers=r.alpha)).json()
        assert [b["bot_id"] for b in status["bots"]] == ["alpha"]
        assert (await r.http.get("/api/v1/bots/status/summary", headers=r.alpha)).status_code == 200
        assert (await r.http.get("/api/v1/bots/alpha/stats", headers=r.alpha)).status_code == 200
        assert (await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)).status_code == 200
        other = await r.http.get("/api/v1/trades/recent/beta", headers=r.alpha)
        assert other.status_code == 403 and "cannot act for 'beta'" in other.json()["detail"]
        assert (await r.http.get("/api/v1/bots/beta/stats", headers=r.alpha)).status_code == 403
        stop = await r.http.post("/api/v1/safety/emergency-stop", headers=r.alpha)
        assert stop.status_code == 200 and stop.json()["scope"] == "bot", stop.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_the_event_stream_refuses_a_bot_token(tmp_path, data_dir):
    # the stream pushed every event of the account (orders, fills, other bots) to alpha's token
    r = await rig(tmp_path, data_dir)
    server = ApiServer(r.node, "127.0.0.1", 0, app=r.app)
    await server.start()
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"

    async def first(headers: dict[str, str]) -> str:
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                return str(json.loads(await asyncio.wait_for(ws.recv(), 5))["type"])
        except websockets.ConnectionClosed as exc:
            got = exc.rcvd
            return f"closed {got.code} {got.reason}" if got else "closed with no frame"

    try:
        refused = await first(r.alpha)
        assert refused.startswith("closed 4403") and "bound to bot 'alpha'" in refused, refused
        assert await first(r.trader) == "hello"
    finally:
        await server.stop()
        await r.http.aclose()
        r.node.close()

"""GET /state tells where a replay stands in its data (`replay`: candles done of the data's),
while it runs and once it ended: a replay stopped on request shows where it stopped (41 of 72),
not the data's end; a live or sandbox run has no replay figures (null)."""

from __future__ import annotations

import asyncio

import httpx

from node_support import node_for, paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app
from tradeguard.api.server import ApiServer

ROWS = 3_000


async def test_the_state_tells_where_a_replay_stands_and_where_it_stopped(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", ROWS)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)
    cfg.node.checkpoint_every = 100
    node = node_for(cfg)
    await node.start()
    stop_at = 2_041
    done = [0]

    async def listener(symbol, price, reason) -> None:
        done[0] += 1
        if done[0] == stop_at:
            node.request_stop()

    node.price_listeners.append(listener)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    seen: list[tuple[int, int]] = []
    try:
        async with asyncio.timeout(120), httpx.AsyncClient(base_url=server.url) as http:
            r = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
            assert r.json()["replay"] == {"candles_done": 0, "candles_total": 0}  # not begun
            replay = asyncio.create_task(node.run(until_end=False))
            while not replay.done():
                r = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
                figures = r.json()["replay"]
                seen.append((figures["candles_done"], figures["candles_total"]))
            await replay
            r = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
            assert r.json()["replay"] == {"candles_done": stop_at, "candles_total": ROWS}
    finally:
        await server.stop()
        node.close()
    mid = [d for d, t in seen if t == ROWS and 0 < d < stop_at]
    assert len(mid) >= 2, seen[:10]  # the answers follow the replay
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

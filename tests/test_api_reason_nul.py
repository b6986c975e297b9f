"""A kill's (resume's, bot stop's) reason holding a NUL character is refused with a 422: on
PostgreSQL the halt's persistence raised (the state is JSONB, which stores no NUL) before the
open orders were cancelled, and after a restart the node was ACTIVE again."""

from __future__ import annotations

import json

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.model import TradingState


async def test_a_kill_whose_reason_holds_a_nul_is_refused_before_anything_is_done(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        r = await http.post("/api/v1/kill", content=json.dumps({"reason": "a\u0000b"}), headers=hdr)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "reason", r.text
    assert node.risk.state is not TradingState.HALTED
    node.close()

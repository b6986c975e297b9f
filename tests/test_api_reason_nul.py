"""A kill's reason holding a NUL character is stored with the NUL written as its escape (a
resume's or pause's reason is refused with a 422): on PostgreSQL the halt's persistence raised
(the state is JSONB, which stores no NUL) before the open orders were cancelled, and after a
restart the node was ACTIVE again. A kill halts whatever its body holds."""

from __future__ import annotations

import json

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.model import TradingState


async def test_a_kill_whose_reason_holds_a_nul_halts_with_the_nul_escaped(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        r = await http.post("/api/v1/kill", content=json.dumps({"reason": "a\u0000b"}), headers=hdr)
    assert r.status_code == 200, r.text
    assert r.json()["ignored"][0]["field"] == "reason", r.text
    assert node.risk.state is TradingState.HALTED
    assert r.json()["report"]["reason"] == "a\\x00b" and "\x00" not in node.risk.state_reason
    node.close()

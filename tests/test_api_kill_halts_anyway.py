"""A kill or an emergency stop halts on any authenticated request and then says what it
ignored: a query parameter it does not take (`?flatten=true`, which is a body field), a body
that is no JSON object, a field it does not know or a value it cannot take. Each of these was a
422 and trading went on. What it ignored is listed in the answer's `ignored`, worded as a 422's
errors are; a reason holding control characters is kept with them escaped."""

from __future__ import annotations

import json

import pytest

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.model import TradingState

ROUTES = ["/api/v1/kill", "/api/v1/safety/emergency-stop"]
# (query, body, the field `ignored` names first)
ASKED = [
    ("?flatten=true", "", "query.flatten"),
    ("?reason=x&flatten=1", "", "query.reason"),
    ("", "[]", "(body)"),
    ("", '"x"', "(body)"),
    ("", "{not json", "(body)"),
    ("", '{"reason": "a", "reason": "b"}', "(body)"),
    ("", '{"flaten": true}', "flaten"),
    ("", '{"flatten": "yes please"}', "flatten"),
    ("", '{"reason": ""}', "reason"),
    ("", '{"reason": 7}', "reason"),
    ("", '{"bot_id": "../etc"}', "bot_id"),
]


@pytest.mark.parametrize("route", ROUTES)
async def test_a_kill_with_anything_malformed_still_halts_and_lists_what_it_ignored(
    tmp_path, data_dir, route
):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        for query, body, field in ASKED:
            if route.endswith("/kill") and field == "bot_id":
                continue
            assert node.risk.state is TradingState.ACTIVE
            r = await http.post(route + query, content=body, headers=hdr)
            assert r.status_code == 200, (query, body, r.text)
            assert node.risk.state is TradingState.HALTED, (query, body)
            ignored = r.json()["ignored"]
            assert ignored and ignored[0]["field"] == field, (query, body, ignored)
            assert all(i["message"] for i in ignored), ignored
            report = r.json()["report"]
            assert report["flatten"] is False, (query, body)  # nothing malformed flattens
            assert report["reason"].startswith("emergency stop from the"), report
            node.risk.resume("test", "next request")
        r = await http.post(route, json={"reason": "venue down"}, headers=hdr)
        assert r.status_code == 200 and "ignored" not in r.json(), r.text
        assert r.json()["report"]["reason"] == "venue down"
    node.close()


async def test_a_kill_reason_with_control_characters_halts_and_is_kept_escaped(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        for route in ROUTES:
            body = {"reason": "venue down\n2026-01-01 INFO risk: resumed\x1b[2J"}
            r = await http.post(route, content=json.dumps(body), headers=hdr)
            assert r.status_code == 200, r.text
            assert node.risk.state is TradingState.HALTED
            assert r.json()["ignored"][0]["field"] == "reason", r.text
            reason = r.json()["report"]["reason"]
            assert reason == "venue down\\n2026-01-01 INFO risk: resumed\\x1b[2J", reason
            assert "\n" not in node.risk.state_reason and "\\n2026" in node.risk.state_reason
            node.risk.resume("test", "next route")
    node.close()


async def test_a_kill_without_a_valid_token_still_halts_nothing(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        for route in ROUTES:
            r = await http.post(route + "?flatten=true", headers=bearer(tokens.viewer))
            assert r.status_code == 403, r.text
            r = await http.post(route + "?flatten=true", headers=bearer("tg_nonsense"))
            assert r.status_code == 401, r.text
    assert node.risk.state is TradingState.ACTIVE
    node.close()


async def test_a_kill_with_a_body_past_the_size_limit_halts_and_says_it_was_not_read(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    big = json.dumps({"reason": "x" * (node.config.api.max_body_bytes + 10)})
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        for route in ROUTES:
            r = await http.post(route, content=big, headers=hdr)
            assert r.status_code == 200, r.text
            assert r.headers["connection"] == "close"
            assert node.risk.state is TradingState.HALTED
            ignored = r.json()["ignored"]
            assert ignored[0]["field"] == "(body)" and "api.max_body_bytes" in ignored[0]["message"]
            node.risk.resume("test", "next route")
        r = await http.post("/api/v1/resume", content=big, headers=hdr)
        assert r.status_code == 413, r.text  # any other route is refused unread, as before
    node.close()

"""`api.require_totp_for_kill`: a plain emergency stop over the API asks for the second factor."""

from __future__ import annotations

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.config import ApiConfig
from tradeguard.model import TradingState


def test_kill_needs_no_totp_by_default():
    assert ApiConfig().require_totp_for_kill is False


async def test_kill_without_totp_is_refused_403_when_required(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post("/api/v1/kill", json={}, headers=bearer(tokens.trader))
    assert r.status_code == 403, r.text
    detail = r.json()["detail"]
    assert "X-TOTP" in detail and "api.require_totp_for_kill" in detail
    assert node.risk.state is TradingState.ACTIVE
    refused = node.storage.load_events(kind_prefix="api.kill_refused")
    assert refused and refused[0].data["token_id"] == tokens.trader_id
    node.close()


async def test_kill_with_a_wrong_totp_is_refused_403_when_required(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    app, tokens = build_app(node)
    wrong = "000000" if tokens.trader_totp.now() != "000000" else "111111"
    async with client(app) as http:
        r = await http.post(
            "/api/v1/kill", json={}, headers={**bearer(tokens.trader), "X-TOTP": wrong}
        )
    assert r.status_code == 403, r.text
    assert "TOTP code is wrong" in r.json()["detail"]
    assert node.risk.state is TradingState.ACTIVE
    node.close()


async def test_kill_with_a_valid_totp_halts_when_required(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/kill",
            json={"reason": "unlock week"},
            headers=bearer(tokens.trader, tokens.trader_totp),
        )
    assert r.status_code == 200, r.text
    assert node.risk.state is TradingState.HALTED
    node.close()


async def test_plain_kill_without_totp_still_halts_when_not_required(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post("/api/v1/kill", json={}, headers=bearer(tokens.trader))
    assert r.status_code == 200, r.text
    assert node.risk.state is TradingState.HALTED
    node.close()


async def test_the_safety_services_emergency_stop_needs_totp_to_halt_the_node_when_required(
    tmp_path, data_dir
):
    from bots_support import add_bot

    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    add_bot(node, "alpha")
    app, tokens = build_app(node)
    route = "/api/v1/safety/emergency-stop"
    async with client(app) as http:
        refused = await http.post(route, json={"reason": "drill"}, headers=bearer(tokens.trader))
        assert refused.status_code == 403, refused.text
        assert "api.require_totp_for_kill" in refused.json()["detail"]
        assert node.risk.state is TradingState.ACTIVE
        # one bot's stop is not a kill of the node: no second factor for it
        bot = await http.post(route, json={"bot_id": "alpha"}, headers=bearer(tokens.trader))
        assert bot.status_code == 200 and bot.json()["scope"] == "bot"
        assert node.risk.state is TradingState.ACTIVE
        ok = await http.post(route, json={"reason": "drill"},
                             headers=bearer(tokens.trader, tokens.trader_totp))  # fmt: skip
        assert ok.status_code == 200, ok.text
    assert ok.json()["scope"] == "node" and node.risk.state is TradingState.HALTED
    node.close()


async def test_a_kill_or_emergency_stop_without_a_body_halts_with_the_default_reason(
    tmp_path, data_dir
):
    # `curl -X POST -H "Authorization: ..." .../kill` was 422 "(body): Field required": the
    # stop a user sends in a hurry did nothing.
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post("/api/v1/kill", headers=bearer(tokens.trader))
        assert r.status_code == 200, r.text
        assert r.json()["trading_state"] == "HALTED"
        assert "emergency stop from the API" in node.risk.state_reason
        node.risk.resume("test", "drill over")
        r = await http.post("/api/v1/safety/emergency-stop", headers=bearer(tokens.trader))
        assert r.status_code == 200, r.text
        assert r.json()["scope"] == "node" and node.risk.state is TradingState.HALTED
        # a body that is no object halts too, and is named as ignored
        r = await http.post("/api/v1/kill", content=b"[]", headers=bearer(tokens.trader))
        assert r.status_code == 200 and r.json()["ignored"][0]["field"] == "(body)", r.text
    node.close()


async def test_a_totp_code_of_digits_other_than_0_9_is_refused_as_a_wrong_form(tmp_path, data_dir):
    """A header is read as Latin-1, where ¹ ² ³ are digits to str.isdigit: six of them passed
    the code's form check and reached the constant-time compare, which raises on non-ASCII
    text (a 500 and a traceback instead of the refusal, uncounted against the token)."""
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/kill",
            json={},
            headers={**bearer(tokens.trader), "X-TOTP": b"\xb9\xb2\xb3\xb9\xb2\xb3"},  # type: ignore[dict-item]
        )
    assert r.status_code == 403, r.text
    assert "6-digit code" in r.json()["detail"]
    assert node.risk.state is TradingState.ACTIVE
    node.close()

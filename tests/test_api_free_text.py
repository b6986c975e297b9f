"""Free text a client sends (a resume's or pause's reason, an order's tag, a signal's keys and
strings) is one line of printable text, as on the command line: a newline, CR, escape sequence,
NUL, line separator or bidi override is a 422 naming the field, showing the value escaped and
saying the rule. Such a reason was stored, audited and echoed as sent, so it could forge a log
line or redraw the operator's terminal. A kill's or emergency stop's reason is kept with such
characters escaped instead: a kill halts whatever it holds (test_api_kill_halts_anyway)."""

from __future__ import annotations

import json

import pytest

from cli_support import run_cli
from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.model import TradingState

HOSTILE = [
    "ok\n2026-01-01 INFO risk: resumed",
    "ok\rforged",
    "\x1b[2J\x1b]0;title\x07",
    "a\x00b",
    "ok\u2028next",
    "cost \u202e0001 USD",
    "tab\there",
]
BUY = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}
SIGNAL = {"bot_id": "alpha", "symbol": "BTC/USDT", "side": "buy", "score": "0.5"}


def _bodies(text: str) -> list[tuple[str, dict[str, object], str]]:
    """(route, body, the field the refusal must name) for every free-text field."""
    return [
        ("/api/v1/resume", {"reason": text}, "reason"),
        ("/api/v1/strategies/sma/pause", {"reason": text}, "reason"),
        ("/api/v1/strategies/sma/resume", {"reason": text}, "reason"),
        ("/api/v1/orders", {**BUY, "tag": text}, "tag"),
        ("/api/v1/risk/validate", {**BUY, "tag": text}, "tag"),
        ("/api/v1/orders", {**BUY, "signal": {"note": text}}, "signal"),
        ("/api/v1/orders", {**BUY, "signal": {text: 1}}, "signal"),
        ("/api/v1/safety/validate-trade", {**SIGNAL, "signal": {"why": [text]}}, "signal"),
        ("/api/v1/trades/execute", {**SIGNAL, "signal": {"why": {"a": text}}}, "signal"),
    ]


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
async def test_free_text_with_a_control_character_is_refused_naming_the_field(
    tmp_path, data_dir, text
):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.admin), "Content-Type": "application/json"}
    async with client(app) as http:
        for route, body, field in _bodies(text):
            r = await http.post(route, content=json.dumps(body), headers=hdr)
            assert r.status_code == 422, (route, body, r.text)
            assert r.text.isascii() and r.text.isprintable(), r.text  # escaped, never raw
            error = r.json()["errors"][0]
            assert error["field"].split(".")[0] == field, (route, r.text)
            assert "one line of text: no control character" in error["message"], r.text
            assert json.dumps(text)[1:-1] in r.json()["error"] or field == "signal", r.text
    assert node.risk.state is TradingState.ACTIVE
    assert node.storage.load_orders() == []
    node.close()


async def test_plain_text_of_any_script_is_taken(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    reason = "Börse down — 取引所 停止 (see ticket #42)"
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders",
            json={**BUY, "tag": "manuel é", "signal": {"note": reason}},
            headers=bearer(tokens.trader),
        )
        assert r.status_code == 201, r.text
        r = await http.post("/api/v1/kill", json={"reason": reason}, headers=bearer(tokens.trader))
    assert r.status_code == 200, r.text
    assert r.json()["report"]["reason"] == reason
    assert node.risk.state is TradingState.HALTED
    node.close()


BLANK = [" ", "   ", "\u00a0\u3000"]


@pytest.mark.parametrize("text", BLANK, ids=repr)
async def test_a_reason_of_only_spaces_is_refused_as_on_the_command_line(
    tmp_path, data_dir, capsys, text
):
    """`tradeguard kill --reason "  "` is a usage error (nothing recorded says why); the API
    took the same reason and stored it for a resume or a pause."""
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.risk.halt("test", "a halt to resume from")
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.admin), "Content-Type": "application/json"}
    routes = ["/api/v1/resume", "/api/v1/strategies/sma/pause", "/api/v1/strategies/sma/resume"]
    async with client(app) as http:
        for route in routes:
            r = await http.post(route, content=json.dumps({"reason": text}), headers=hdr)
            assert r.status_code == 422, (route, r.text)
            error = r.json()["errors"][0]
            assert error["field"] == "reason" and "other than a space" in error["message"], r.text
    assert node.risk.state is TradingState.HALTED
    node.close()
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    result = run_cli(capsys, "kill", "--reason", text, "--db", db)
    assert result.returncode == 2 and "--reason" in result.stderr, result

"""User 4's safety service end to end through the API: the circuit breakers and the emergency
stop as a bot meets them, and hostile requests (wrong types, bodies the parser gives up on,
huge bodies, spoofed headers) refused with one clear line and no order."""

from __future__ import annotations

import json
import urllib.parse
from decimal import Decimal
from typing import Any

from bots_support import SYMBOL, BotRig, add_bot, mid, quote, rig

D = Decimal


async def _trade(r: BotRig, bot: str, side: str, headers: dict[str, str]) -> dict[str, Any]:
    """Validate then, when approved, execute; return the last answer."""
    body = {"bot_id": bot, "symbol": SYMBOL, "side": side, "score": "0.5"}
    v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=headers)
    assert v.status_code == 200, v.text
    if not v.json()["approved"]:
        return dict(v.json())
    e = await r.http.post("/api/v1/trades/execute",
                          json={**body, "confirmation_id": v.json()["confirmation_id"]},
                          headers=headers)  # fmt: skip
    assert e.status_code == 201, e.text
    return dict(e.json())


async def _losing_round(r: BotRig, bot: str, start: Decimal) -> None:
    entry = await _trade(r, bot, "buy", r.trader)
    assert entry.get("status") == "submitted", entry.get("reasons")
    await quote(r.node, start)  # the entry fills
    close = await _trade(r, bot, "sell", r.trader)
    assert close.get("status") == "submitted", close
    await quote(r.node, start - 300)  # the close fills 300 lower: a loss


async def test_a_losing_streak_stops_entries_until_the_bot_is_enabled_again(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "streak", max_losing_streak=2, require_confirmation=True)
        start = mid(r.node)
        for _ in range(2):
            await _losing_round(r, "streak", start)
            for _ in range(6):  # a minute a quote: past the engine's 300 s cooldown after a loss
                await quote(r.node, start)
        stopped = await _trade(r, "streak", "buy", r.trader)
        assert stopped["approved"] is False and stopped["codes"] == ["BOT_LOSING_STREAK"], stopped
        assert "2 losing trades in a row" in stopped["reasons"][0]
        stats = (await r.http.get("/api/v1/bots/streak/stats", headers=r.trader)).json()
        assert stats["trades"] == 2 and stats["wins"] == 0
        on = await r.http.post("/api/v1/bots/streak/enable", headers=r.trader)
        assert on.status_code == 200
        again = await _trade(r, "streak", "buy", r.trader)
        assert again["status"] == "submitted", again
    finally:
        await r.http.aclose()
        r.node.close()


async def test_the_node_wide_emergency_stop_refuses_every_order_and_says_how_to_flatten(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    try:
        start = mid(r.node)
        assert (await _trade(r, "alpha", "buy", r.alpha))["status"] == "submitted"
        await quote(r.node, start)
        halt = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.trader)  # fmt: skip
        assert halt.status_code == 200 and halt.json()["scope"] == "node", halt.text
        before = len(r.node.orders.orders)
        entry = await _trade(r, "alpha", "buy", r.alpha)
        assert entry["approved"] is False, entry
        # HALTED lets no close through but the kill's own flatten, and says so
        close = await _trade(r, "alpha", "sell", r.alpha)
        assert close["approved"] is False and close["codes"] == ["TRADING_HALTED"], close
        assert "kill with flatten" in close["reasons"][0]
        assert len(r.node.orders.orders) == before
        status = (await r.http.get("/api/v1/safety/status", headers=r.alpha)).json()
        assert status["halted"] is True
    finally:
        await r.http.aclose()
        r.node.close()


async def test_bodies_the_json_parser_gives_up_on_are_refused_naming_the_limit(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        head = '{"bot_id": "alpha", "symbol": "BTC/USDT", "side": "buy", "signal": '
        for raw, said in (
            (head + "[" * 5000 + "]" * 5000 + "}", "nests too deeply (at most 64"),
            (head + '{"a": 1' + "0" * 5000 + "}}", 'key "a" holds a number of 5001 digits'),
        ):
            hdr = {**r.alpha, "Content-Type": "application/json"}
            resp = await r.http.post("/api/v1/safety/validate-trade", content=raw, headers=hdr)
            assert resp.status_code == 422, resp.text
            doc = resp.json()
            assert [e["field"] for e in doc["errors"]] == ["(body)"], doc
            assert said in doc["error"], doc
        # a key named twice is one trade to a reader of the first and another to the second
        twice = '{"bot_id": "alpha", "symbol": "BTC/USDT", "side": "sell", "side": "buy"}'
        hdr = {**r.alpha, "Content-Type": "application/json"}
        dup = await r.http.post("/api/v1/safety/validate-trade", content=twice, headers=hdr)
        assert dup.status_code == 422, dup.text
        at = twice.rindex('"side"')
        assert f'key "side" given twice at character {at}' in dup.json()["error"], dup.text
        assert not r.node.orders.orders
        # other refusals keep their own answer
        missing = await r.http.get("/api/v1/trades/status/bt_none", headers=r.alpha)
        assert missing.status_code == 404 and "no bot trade" in missing.json()["detail"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_wrong_types_huge_bodies_and_spoofed_headers_stop_no_bot(tmp_path, data_dir):
    """An emergency stop halts on any request its caller may make: a bot it cannot read from
    the body is no bot named, so a token bound to no bot halts the node (the safe side), and
    says what it ignored. Spoofed headers are no caller and stop nothing."""
    r = await rig(tmp_path, data_dir)
    try:
        route = "/api/v1/safety/emergency-stop"
        huge = '{"bot_id": "beta", "reason": "' + "a" * 2_000_000 + '"}'
        for body, field in (({"bot_id": 5}, "bot_id"), ({"bot_id": ["beta"]}, "bot_id"),
                            ({"reason": None}, "reason"), ({"bot_id": "BETA"}, "bot_id"),
                            ([1, 2], "(body)"), (huge, "(body)")):  # fmt: skip
            content = body if isinstance(body, str) else json.dumps(body)
            hdr = {**r.trader, "Content-Type": "application/json"}
            resp = await r.http.post(route, content=content, headers=hdr)
            assert resp.status_code == 200 and resp.json()["scope"] == "node", resp.text
            assert resp.json()["ignored"][0]["field"] == field, resp.text
            assert r.node.risk.state.value == "HALTED"
            r.node.risk.resume("test", "next body")
        spoofed: list[dict[str, str]] = [
            {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"},  # no token at all
            {"Authorization": "Bearer " + "x" * 10_000},
            {**r.alpha, "X-Bot-Id": "beta", "X-Forwarded-User": "admin"},  # bound to alpha
        ]
        codes = []
        for hdr in spoofed:
            resp = await r.http.post(route, json={"bot_id": "beta"}, headers=hdr)
            codes.append(resp.status_code)
        assert codes == [401, 401, 403]
        # nothing of the above stopped beta or halted the node
        bots = (await r.http.get("/api/v1/safety/bots", headers=r.trader)).json()["items"]
        assert {b["bot_id"]: b["enabled"] for b in bots} == {"alpha": True, "beta": True}
        assert r.node.risk.state.value == "ACTIVE"
        # a text body is not read as JSON: the node halts, beta is not stopped by name
        text = await r.http.post(route, content=b'{"bot_id": "beta"}',
                                 headers={**r.trader, "Content-Type": "text/plain"})  # fmt: skip
        assert text.status_code == 200 and text.json()["scope"] == "node", text.text
        assert "application/json" in text.json()["ignored"][0]["message"], text.text
        # a field it does not know is ignored; the bot named is stopped
        one = await r.http.post(route, json={"bot_id": "beta", "flatten": True}, headers=r.trader)
        assert one.status_code == 200 and one.json()["scope"] == "bot", one.text
        assert one.json()["ignored"][0]["field"] == "flatten", one.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_deep_body_is_refused_whatever_the_recursion_limit(tmp_path, data_dir):
    """The parser's own limit is the interpreter's recursion limit, which a library may raise
    (py_ecc sets 100,000): 5,000 nested arrays then parsed, and the refusal depended on what
    else the process had imported. The depth is checked before parsing."""
    import sys

    from tradeguard.api.strict_json import MAX_DEPTH, _parse

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        r = await rig(tmp_path, data_dir)
        try:
            head = '{"bot_id": "alpha", "symbol": "BTC/USDT", "side": "buy", "signal": '
            raw = head + "[" * 5000 + "]" * 5000 + "}"
            hdr = {**r.alpha, "Content-Type": "application/json"}
            resp = await r.http.post("/api/v1/safety/validate-trade", content=raw, headers=hdr)
            assert resp.status_code == 422, resp.text
            assert "at most 64 arrays and objects" in resp.json()["error"]
            assert not r.node.orders.orders
        finally:
            await r.http.aclose()
            r.node.close()
    finally:
        sys.setrecursionlimit(before)
    # as deep as allowed parses; brackets inside strings do not count
    nested: list[object] = []
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    assert _parse(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) == nested
    assert _parse(b'{"s": "\\"' + b"[" * 200 + b'"}') == {"s": '"' + "[" * 200}


async def test_a_score_past_its_range_gets_the_422_every_field_gets(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        for field in ("score", "temperature"):
            body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", field: "999999999999"}
            for route in ("/api/v1/safety/validate-trade", "/api/v1/trades/execute"):
                resp = await r.http.post(route, json=body, headers=r.alpha)
                assert resp.status_code == 422, resp.text
                [error] = resp.json()["errors"]  # the shape every other 422 has
                assert error["field"] == field, error
                assert error["value"] == '"999999999999"', error
                assert "1000000" in error["message"], error
        assert r.node.orders.orders == {}
    finally:
        r.node.close()


async def test_an_exit_percentage_out_of_range_gets_the_422_every_field_gets(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        base = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.6",
                "confirmation_id": "cf_x"}  # fmt: skip
        for field in ("stop_loss_pct", "take_profit_pct", "trailing_distance_pct"):
            for value in ("0", "0.000", "150", "100.5"):
                resp = await r.http.post(
                    "/api/v1/trades/execute", json={**base, field: value}, headers=r.alpha
                )
                assert resp.status_code == 422, resp.text
                [error] = resp.json()["errors"]  # the shape every other 422 has
                assert (error["field"], error["value"]) == (field, f'"{value}"'), error
                assert "above 0 and at most 100" in error["message"], error
        for value in ("100", "0.5", "0.05", "2.5", "99.99999999"):  # still taken
            resp = await r.http.post(
                "/api/v1/trades/execute", json={**base, "stop_loss_pct": value}, headers=r.alpha
            )
            assert resp.status_code in (200, 201), resp.text  # denied: cf_x is no confirmation
        assert r.node.orders.orders == {}
    finally:
        r.node.close()


async def test_a_lone_surrogate_in_a_body_is_refused_before_any_order(tmp_path, data_dir):
    """JSON may escape half of a UTF-16 pair (`"\\ud800"`), which no UTF-8 text can hold: the
    signal was sent to the venue, then the answer and every later read of the bot's trades
    failed with a 500 (a bot retrying a 500 buys twice)."""
    r = await rig(tmp_path, data_dir)
    try:
        hdr = {**r.alpha, "Content-Type": "application/json"}
        head = '{"bot_id": "alpha", "symbol": "BTC/USDT", "side": "buy", "score": "0.5", '
        for tail in ('"signal": {"note": "\\ud800"}}', '"signal": {"\\udc00": 1}}',
                     '"signal": {"tags": ["ok", "x\\udfff"]}}'):  # fmt: skip
            for route in ("/api/v1/safety/validate-trade", "/api/v1/trades/execute"):
                resp = await r.http.post(route, content=head + tail, headers=hdr)
                assert resp.status_code == 422, resp.text
                [error] = resp.json()["errors"]
                assert error["field"] == "(body)", error
                assert "lone UTF-16 surrogate" in error["message"], error
                at = (head + tail).index("\\ud")
                assert f"at character {at}" in error["message"], error
        assert r.node.orders.orders == {}
        # an emergency stop stops anyway (alpha's token: alpha), saying it read no body
        stop = await r.http.post("/api/v1/safety/emergency-stop", headers=hdr,
                                 content='{"bot_id": "alpha", "reason": "\\ud83d"}')  # fmt: skip
        assert stop.status_code == 200 and stop.json()["scope"] == "bot", stop.text
        assert "surrogate" in stop.json()["ignored"][0]["message"], stop.text
        await r.http.post("/api/v1/bots/alpha/enable", headers=r.trader)
        # a whole pair is one character (U+1F600) and trades as any other text
        pair = head + '"signal": {"note": "\\ud83d\\ude00"}}'
        ok = await r.http.post("/api/v1/safety/validate-trade", content=pair, headers=hdr)
        assert ok.status_code == 200 and ok.json()["approved"], ok.text
        confirmed = pair[:-1] + f', "confirmation_id": "{ok.json()["confirmation_id"]}"}}'
        e = await r.http.post("/api/v1/trades/execute", content=confirmed, headers=hdr)
        assert e.status_code == 201, e.text
        recent = await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)
        assert recent.status_code == 200, recent.text
        assert recent.json()["items"][0]["signal"] == {"note": "\U0001f600"}, recent.text
    finally:
        await r.http.aclose()
        r.node.close()


HOSTILE_IDS = ["cf_1\n", "cf_1\r", "cf 1", "cf_\x07", "сf_1", "ｃf_1", "c" * 10_000, ""]


async def test_every_id_a_client_sends_has_a_pattern_and_a_422_naming_it(tmp_path, data_dir):
    """A confirmation id, a bot name, a trade or client order id holding a newline, a control
    character, a look-alike letter (Cyrillic `с`, full-width `ｃ`) or 10 KB was taken as given:
    looked up, echoed into a 404, written to the audit log."""
    r = await rig(tmp_path, data_dir)
    try:
        body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.5"}
        for value in HOSTILE_IDS:
            sent = {**body, "confirmation_id": value}
            resp = await r.http.post("/api/v1/trades/execute", json=sent, headers=r.alpha)
            assert resp.status_code == 422, (value, resp.text)
            error = resp.json()["errors"][0]
            assert error["field"] == "confirmation_id", resp.text
            assert error["message"] == "must be 1 to 64 of A-Z, a-z, 0-9, '_', '-'", resp.text
        paths = [
            ("get", "/api/v1/trades/status/{}", "trade_id"),
            ("get", "/api/v1/bots/{}/stats", "bot_id"),
            ("post", "/api/v1/bots/{}/enable", "bot_id"),
            ("get", "/api/v1/trades/recent/{}", "bot_id"),
            ("get", "/api/v1/orders/{}", "client_order_id"),
            ("post", "/api/v1/orders/{}/cancel", "client_order_id"),
            ("post", "/api/v1/strategies/{}/pause", "strategy_id"),
            ("post", "/api/v1/strategies/{}/resume", "strategy_id"),
            ("get", "/api/v1/strategies/{}", "strategy_id"),
            ("get", "/api/v1/strategies/{}/trades", "strategy_id"),
            ("get", "/api/v1/bots/{}", "strategy_id"),
            ("get", "/api/v1/bots/{}/trades", "strategy_id"),
        ]
        for value in [v for v in HOSTILE_IDS if v and v != "cf 1"] + ["a b"]:
            for method, path, field in paths:
                url = path.format(urllib.parse.quote(value, safe=""))
                resp = await r.http.request(method, url, headers=r.trader)
                assert resp.status_code == 422, (path, value, resp.text)
                error = resp.json()["errors"][0]
                assert error["field"] == f"path.{field}", resp.text
                assert "documented form" not in error["message"], resp.text  # the rule itself
        assert not r.node.orders.orders
        # a well-formed id nobody has is still the 404 it was
        missing = await r.http.get("/api/v1/orders/no-such_order.1", headers=r.trader)
        assert missing.status_code == 404, missing.text
        # and so is a venue's own id of an order adopted from it: a Polymarket hash is 66
        for adopted in ("0x" + "ab" * 32, "x" * 128):
            missing = await r.http.get(f"/api/v1/orders/{adopted}", headers=r.trader)
            assert missing.status_code == 404, missing.text
        too_long = await r.http.get("/api/v1/orders/" + "x" * 129, headers=r.trader)
        assert too_long.status_code == 422, too_long.text
    finally:
        await r.http.aclose()
        r.node.close()

"""The API's routes do what they say against a real replayed paper node."""

from __future__ import annotations

from decimal import Decimal

from test_api_support import (
    bearer,
    build_app,
    client,
    next_candle,
    replayed_node,
    resting_buy,
)
from tradeguard.api.auth import Role, TokenStore
from tradeguard.model import OrderStatus, TradingState

BUY = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}


async def test_external_intent_approved_returns_an_order_id_and_the_order_appears(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
        assert r.status_code == 201, r.text
        cid = r.json()["client_order_id"]
        assert r.json()["status"] == "submitted"
        listed = await http.get("/api/v1/orders", headers=bearer(tokens.viewer))
        assert cid in [o["client_order_id"] for o in listed.json()["items"]]
        one = await http.get(f"/api/v1/orders/{cid}", headers=bearer(tokens.viewer))
        assert one.json()["signal"]["source"] == f"api:trader({tokens.trader_id})"
    assert node.storage.get_order(cid) is not None
    events = node.storage.load_events(kind_prefix="api.order")
    assert events[0].data["token_id"] == tokens.trader_id
    assert tokens.trader not in str(events[0].data)
    node.close()


async def test_external_intent_denied_returns_the_reason_code_and_places_nothing(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    before = len(node.storage.load_orders())
    async with client(app) as http:
        big = {**BUY, "amount": "1"}  # ~46,000 USDT: over max_order_notional_usd=500
        r = await http.post("/api/v1/orders", json=big, headers=bearer(tokens.trader))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "denied"
    assert body["code"] == "MAX_ORDER_NOTIONAL"
    assert "max_order_notional_usd" in body["reason"]
    assert len(node.storage.load_orders()) == before
    node.close()


async def test_intent_with_the_kill_flatten_tag_is_refused(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json={**BUY, "tag": "kill-flatten", "reduce_only": True},
            headers=bearer(tokens.admin),
        )  # fmt: skip
    assert r.status_code == 422
    assert "reserved for the kill switch" in r.json()["error"]
    assert node.storage.load_orders() == []
    node.close()


async def test_invalid_amount_is_a_422_naming_the_field_value_and_limit(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        as_float = await http.post(
            "/api/v1/orders", json={**BUY, "amount": 0.1}, headers=bearer(tokens.trader)
        )
        too_big = await http.post(
            "/api/v1/orders", json={**BUY, "amount": "1e20"}, headers=bearer(tokens.trader)
        )
    assert as_float.status_code == 422
    err = as_float.json()["errors"][0]
    assert err["field"] == "amount" and err["value"] == "0.1"
    assert "decimal string" in err["message"]
    assert too_big.status_code == 422
    assert "<= 1000000000000" in too_big.json()["error"]
    node.close()


async def test_validate_answers_without_placing_or_counting_anything(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    trades_before = node.risk.trades_today
    async with client(app) as http:
        ok = await http.post("/api/v1/risk/validate", json=BUY, headers=bearer(tokens.trader))
        no = await http.post(
            "/api/v1/risk/validate", json={**BUY, "amount": "1"}, headers=bearer(tokens.trader)
        )
    assert ok.status_code == 200 and ok.json()["approved"] is True
    assert no.json() | {} and no.json()["approved"] is False
    assert no.json()["code"] == "MAX_ORDER_NOTIONAL"
    assert no.json()["limit"] == "500"
    assert node.storage.load_orders() == []
    assert node.orders.open_orders() == []
    assert node.risk.trades_today == trades_before
    assert node.storage.load_events(kind_prefix="risk.") == []
    node.close()


async def test_kill_with_open_orders_halts_and_cancels_them(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    cids = [await resting_buy(node) for _ in range(3)]
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/kill", json={"reason": "api test"}, headers=bearer(tokens.trader)
        )
        state = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
    assert r.status_code == 200, r.text
    assert r.json()["trading_state"] == "HALTED"
    assert sorted(r.json()["report"]["cancelled"]) == sorted(cids)
    assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in cids)
    assert state.json()["kill_switch"]["engaged"] is True
    assert node.risk.state is TradingState.HALTED
    kill_events = node.storage.load_events(kind_prefix="api.kill")
    assert kill_events[0].data["token_id"] == tokens.trader_id
    node.close()


async def test_kill_with_flatten_needs_a_totp_code(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post("/api/v1/kill", json={"flatten": True}, headers=bearer(tokens.trader))
    assert r.status_code == 401
    assert "X-TOTP" in r.json()["detail"]
    assert node.risk.state is TradingState.ACTIVE
    node.close()


async def test_resume_needs_totp_and_then_leaves_halted(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    await node.kill("test", "pytest")
    app, tokens = build_app(node)
    async with client(app) as http:
        body = {"reason": "checked the cause"}
        missing = await http.post("/api/v1/resume", json=body, headers=bearer(tokens.trader))
        wrong = await http.post(
            "/api/v1/resume", json=body,
            headers={**bearer(tokens.trader), "X-TOTP": "000000"
                     if tokens.trader_totp.now() != "000000" else "111111"},
        )  # fmt: skip
        assert node.risk.state is TradingState.HALTED
        good = await http.post(
            "/api/v1/resume", json=body, headers=bearer(tokens.trader, tokens.trader_totp)
        )
        replayed = await http.post(
            "/api/v1/resume", json=body, headers=bearer(tokens.trader, tokens.trader_totp)
        )
    assert missing.status_code == 401 and wrong.status_code == 401
    assert good.status_code == 200, good.text
    assert good.json() == {"trading_state": "ACTIVE", "from": "HALTED", "to": "ACTIVE"}
    assert node.risk.state is TradingState.ACTIVE
    assert replayed.status_code == 401 and "already used" in replayed.json()["detail"]
    assert node.risk.last_resume is not None
    assert node.risk.last_resume["by"] == f"api:trader({tokens.trader_id})"
    node.close()


async def test_orders_and_fills_paginate_with_limit_and_offset(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    cids = [await resting_buy(node) for _ in range(5)]
    app, tokens = build_app(node)
    async with client(app) as http:
        h = bearer(tokens.viewer)
        first = await http.get("/api/v1/orders?limit=2&offset=0", headers=h)
        second = await http.get("/api/v1/orders?limit=2&offset=2", headers=h)
        rest = await http.get("/api/v1/orders?limit=2&offset=4", headers=h)
        too_many = await http.get("/api/v1/orders?limit=501", headers=h)
    seen = [o["client_order_id"] for p in (first, second, rest) for o in p.json()["items"]]
    assert [p.json()["count"] for p in (first, second, rest)] == [2, 2, 1]
    assert sorted(seen) == sorted(cids) and len(set(seen)) == 5
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "query.limit"
    assert too_many.json()["errors"][0]["le"] == "500"
    node.close()


async def test_a_paper_trade_shows_as_position_trade_and_strategy(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json={**BUY, "strategy_id": "signals", "signal": {"rsi": "28"}},
            headers=bearer(tokens.trader),
        )  # fmt: skip
        assert r.status_code == 201
        next_candle(node)
        h = bearer(tokens.viewer)
        positions = (await http.get("/api/v1/positions", headers=h)).json()["items"]
        trades = (await http.get("/api/v1/trades", headers=h)).json()["items"]
        bots = (await http.get("/api/v1/bots", headers=h)).json()["items"]
        per_bot = (await http.get("/api/v1/strategies/signals/trades", headers=h)).json()
        balances = (await http.get("/api/v1/balances", headers=h)).json()["items"]
        equity = (await http.get("/api/v1/equity", headers=h)).json()
    assert positions[0]["symbol"] == "BTC/USDT"
    assert Decimal(positions[0]["quantity"]) == Decimal("0.001")
    assert trades[0]["signal"]["rsi"] == "28" and trades[0]["strategy_id"] == "signals"
    assert [b["id"] for b in bots] == ["signals"]
    assert bots[0]["position"] == "0.001"
    assert per_bot["items"][0]["trade_id"] == trades[0]["trade_id"]
    assert {b["asset"] for b in balances} == {"USDT", "BTC"}
    assert len(equity["points"]) >= 1
    node.close()


async def test_mode_switch_is_refused_with_how_to_restart(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        same = await http.put("/api/v1/mode", json={"mode": "paper"}, headers=bearer(tokens.trader))
        to_sandbox = await http.put(
            "/api/v1/mode", json={"mode": "sandbox"}, headers=bearer(tokens.trader)
        )
        live_no_totp = await http.put(
            "/api/v1/mode", json={"mode": "live"}, headers=bearer(tokens.trader)
        )
        live = await http.put(
            "/api/v1/mode", json={"mode": "live"}, headers=bearer(tokens.trader, tokens.trader_totp)
        )
    assert same.status_code == 200 and same.json()["changed"] is False
    assert to_sandbox.status_code == 409 and "restart" in to_sandbox.json()["error"]
    assert live_no_totp.status_code == 401
    assert live.status_code == 409 and "--confirm-live" in live.json()["error"]
    assert node.mode.value == "paper"
    node.close()


async def test_paper_reset_needs_a_one_time_confirmation_and_restores_balances(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    cid = await resting_buy(node)
    async with client(app) as http:
        await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
        next_candle(node)
        assert node.portfolio.open_positions()
        h = bearer(tokens.admin)
        ask = await http.post("/api/v1/paper/reset", json={}, headers=h)
        code = ask.json()["confirm"]
        bad = await http.post(
            "/api/v1/paper/reset", json={"confirm": "nope"}, headers=bearer(tokens.admin)
        )
        assert node.portfolio.open_positions()
        ask2 = await http.post("/api/v1/paper/reset", json={}, headers=h)
        done = await http.post(
            "/api/v1/paper/reset", json={"confirm": ask2.json()["confirm"]},
            headers=bearer(tokens.admin, tokens.admin_totp),
        )  # fmt: skip
        stale = await http.post(
            "/api/v1/paper/reset", json={"confirm": code},
            headers={**bearer(tokens.admin), "X-TOTP": tokens.admin_totp.now()},
        )  # fmt: skip
    assert ask.status_code == 200 and len(code) > 10
    assert bad.status_code == 401  # no X-TOTP
    assert done.status_code == 200, done.text
    assert done.json()["report"]["cancelled"] == [cid]
    assert node.portfolio.open_positions() == []
    assert node.portfolio.book("paper").total("USDT") == Decimal("10000")
    assert node.portfolio.book("paper").total("BTC") == 0
    venue_bal = {b.asset: b.total for b in await node.venues["paper"].fetch_balances() if b.total}
    assert venue_bal == {"USDT": Decimal("10000")}
    assert node.storage.load_position_rows(status="open") == []
    assert stale.status_code == 401  # the TOTP code was spent by the reset
    node.close()


async def test_health_needs_no_token_but_state_does(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    async with client(app) as http:
        health = await http.get("/api/v1/health")
        state = await http.get("/api/v1/state")
        ok = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert state.status_code == 401
    assert ok.json()["trading_state"] == "ACTIVE"
    assert ok.json()["risk"]["limits"]["daily_loss"]["limit"] is not None
    node.close()


async def test_state_shows_a_fill_a_paper_reset_and_a_kill_at_once(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    view = bearer(tokens.viewer)
    async with client(app) as http:
        before = (await http.get("/api/v1/state", headers=view)).json()
        await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
        next_candle(node)
        filled = (await http.get("/api/v1/state", headers=view)).json()
        ask = await http.post("/api/v1/paper/reset", json={}, headers=bearer(tokens.admin))
        done = await http.post(
            "/api/v1/paper/reset", json={"confirm": ask.json()["confirm"]},
            headers=bearer(tokens.admin, tokens.admin_totp),
        )  # fmt: skip
        reset = (await http.get("/api/v1/state", headers=view)).json()
        await http.post(
            "/api/v1/kill", json={"reason": "state test"}, headers=bearer(tokens.trader)
        )
        killed = (await http.get("/api/v1/state", headers=view)).json()
    assert before["open_positions"] == 0 and Decimal(before["equity"]) == Decimal("10000")
    assert filled["open_positions"] == 1 and Decimal(filled["fees"]) > 0
    assert done.status_code == 200, done.text
    assert reset["open_positions"] == 0 and Decimal(reset["equity"]) == Decimal("10000")
    assert node.venues["paper"].net_position("BTC/USDT") == 0
    assert killed["trading_state"] == "HALTED" and killed["kill_switch"]["engaged"] is True
    assert killed["kill_switch"]["last"]["reason"] == "state test"
    node.close()


async def test_amounts_in_fullwidth_or_other_unicode_digits_are_a_422_naming_the_field(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    answers = {}
    async with client(app) as http:
        for label, amount in (("fullwidth", "１"), ("arabic-indic", "٠.٥"), ("devanagari", "१")):
            r = await http.post(
                "/api/v1/orders", json={**BUY, "amount": amount}, headers=bearer(tokens.trader)
            )
            answers[label] = r
    for r in answers.values():
        assert r.status_code == 422
        err = r.json()["errors"][0]
        assert err["field"] == "amount" and "ASCII digits" in err["message"]
    assert node.storage.load_orders() == []
    node.close()


async def test_amounts_grouping_digits_with_underscores_are_a_422_naming_the_field(
    tmp_path, data_dir
):
    # Decimal reads "0.00_1" as 0.001 and "1_0" as 10; the schema's pattern takes neither
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        for amount in ("0.00_1", "1_0"):
            r = await http.post(
                "/api/v1/orders", json={**BUY, "amount": amount}, headers=bearer(tokens.trader)
            )
            assert r.status_code == 422, r.text
            err = r.json()["errors"][0]
            assert err["field"] == "amount" and "'_'" in err["message"], err
    assert node.storage.load_orders() == []
    node.close()


async def test_an_intent_whose_signal_holds_nan_is_refused_before_the_journal(tmp_path, data_dir):
    import json

    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    raw = json.dumps({**BUY, "signal": {"rsi": float("nan")}})  # Python writes a bare NaN
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        r = await http.post("/api/v1/orders", content=raw, headers=hdr)
    assert r.status_code == 422, r.text
    assert "signal.rsi = nan: not a finite number" in r.json()["error"]
    assert node.storage.count_orders() == 0
    node.close()


async def test_a_code_asked_of_a_token_without_totp_says_how_to_set_one_up(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    await node.kill("test", "pytest")
    app, _ = build_app(node)
    _, plain = TokenStore(node.db, node.storage).create("ops", Role.ADMIN)
    async with client(app) as http:
        r = await http.post("/api/v1/resume", json={"reason": "x"}, headers=bearer(plain))
    assert r.status_code == 401, r.text
    detail = r.json()["detail"]
    # a code the token cannot have is not asked for: the answer says what to set up
    assert "has no TOTP second factor" in detail, detail
    assert "tradeguard token totp-setup --name ops" in detail, detail
    assert node.risk.state is TradingState.HALTED
    node.close()


async def test_an_integer_past_python_s_digits_inside_a_list_is_refused_naming_its_key(
    tmp_path, data_dir
):
    """A 5,000-digit integer is refused by the key holding it also when it sits in a list:
    it passed the parser as a stand-in object, into the signal (or a 500 once the body held a
    \\u escape)."""
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    long = "9" * 5000
    async with client(app) as http:
        for signal in (f'{{"xs": [1, {long}]}}', f'{{"xs": ["\\u00e9", [{long}]]}}'):
            raw = '{"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001", '
            raw += f'"signal": {signal}}}'
            r = await http.post("/api/v1/orders", content=raw, headers=hdr)
            assert r.status_code == 422, r.text[:300]
            assert '"xs" holds a number of 5000 digits' in r.json()["error"], r.text[:300]
    assert node.storage.count_orders() == 0
    node.close()

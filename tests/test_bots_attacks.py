"""A bot's signals as an attacker sends them: racing, replayed, for another bot, floods."""

from __future__ import annotations

import asyncio

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.storage.bot_rows import BotRows


async def _validate(r, headers, bot="alpha", score="0.75", side="buy"):
    body = {"bot_id": bot, "symbol": SYMBOL, "side": side, "score": score}
    return await r.http.post("/api/v1/safety/validate-trade", json=body, headers=headers)


async def _execute(r, headers, conf_id, bot="alpha", score="0.75", side="buy"):
    body = {"bot_id": bot, "symbol": SYMBOL, "side": side, "score": score,
            "confirmation_id": conf_id}  # fmt: skip
    return await r.http.post("/api/v1/trades/execute", json=body, headers=headers)


async def test_two_entries_racing_for_the_one_position_open_one(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        first = (await _validate(r, r.alpha)).json()
        second = (await _validate(r, r.alpha)).json()
        assert first["approved"] and second["approved"], (first, second)
        answers = await asyncio.gather(
            _execute(r, r.alpha, first["confirmation_id"]),
            _execute(r, r.alpha, second["confirmation_id"]),
        )
        statuses = sorted(a.json()["status"] for a in answers)
        assert statuses == ["denied", "submitted"], [a.json() for a in answers]
        denied = next(a.json() for a in answers if a.json()["status"] == "denied")
        assert denied["code"] == "BOT_ONE_POSITION", denied
        alpha_orders = [o for o in r.node.orders.orders.values() if o.strategy_id == "alpha"]
        assert len(alpha_orders) == 1
        await quote(r.node, mid(r.node))
    finally:
        await r.http.aclose()
        r.node.close()


async def test_one_confirmation_sent_twice_at_once_executes_once(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "gamma", one_position_per_symbol=False)
        conf = (await _validate(r, r.trader, bot="gamma")).json()["confirmation_id"]
        answers = await asyncio.gather(
            *(_execute(r, r.trader, conf, bot="gamma") for _ in range(5))
        )
        statuses = sorted(a.json()["status"] for a in answers)
        assert statuses == ["denied"] * 4 + ["submitted"], [a.json() for a in answers]
        gamma = [o for o in r.node.orders.orders.values() if o.strategy_id == "gamma"]
        assert len(gamma) == 1
    finally:
        await r.http.aclose()
        r.node.close()


def _order(bot="alpha", side="buy", amount="0.0005", **extra):
    return {"strategy_id": bot, "venue": "paper", "symbol": SYMBOL, "side": side,
            "amount": amount, **extra}  # fmt: skip


async def test_a_plain_order_as_a_bot_cannot_open_what_its_gate_refuses(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        stop = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.alpha)  # fmt: skip
        assert stop.status_code == 200, stop.text
        # the stopped bot's id on the plain order route, with a trader token: no entry
        sent = await r.http.post("/api/v1/orders", json=_order(), headers=r.trader)
        out = sent.json()
        assert out["status"] == "denied" and out["code"] == "BOT_DISABLED", out
        assert "/api/v1/trades/execute" in out["reason"], out
        # nor for an enabled bot: its limits, cooldown and one position live on the bot routes
        sent = await r.http.post("/api/v1/orders", json=_order("beta"), headers=r.trader)
        out = sent.json()
        assert out["status"] == "denied" and out["code"] == "BOT_ORDER_ROUTE", out
        assert not [o for o in r.node.orders.orders.values() if o.strategy_id in ("alpha", "beta")]
        # a strategy id no bot has trades as before
        plain = await r.http.post("/api/v1/orders", json=_order("manual"), headers=r.trader)
        assert plain.json()["status"] == "submitted", plain.json()
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_flood_of_confirmed_entries_past_the_cooldown_trades_once(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        # a bot that may add to its position: only its cooldown holds the flood back
        add_bot(r.node, "delta", one_position_per_symbol=False, cooldown_s=600,
                max_position_usd="1000")  # fmt: skip
        confs = [(await _validate(r, r.trader, bot="delta")).json() for _ in range(8)]
        assert all(c["approved"] for c in confs), confs
        answers = await asyncio.gather(
            *(_execute(r, r.trader, c["confirmation_id"], bot="delta") for c in confs)
        )
        out = [a.json() for a in answers]
        assert sorted(o["status"] for o in out) == ["denied"] * 7 + ["submitted"], out
        assert {o["code"] for o in out if o["status"] == "denied"} == {"BOT_COOLDOWN"}, out
        await quote(r.node, mid(r.node))
        # and later ones, one by one, too
        late = (await _validate(r, r.trader, bot="delta")).json()
        assert late["approved"] is False and "BOT_COOLDOWN" in late["codes"], late
    finally:
        await r.http.aclose()
        r.node.close()


async def test_an_emergency_stop_racing_an_entry_leaves_no_entry_working(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        conf = (await _validate(r, r.alpha)).json()["confirmation_id"]
        stop_body = {"reason": "drill"}
        entry, stop = await asyncio.gather(
            _execute(r, r.alpha, conf),
            r.http.post("/api/v1/safety/emergency-stop", json=stop_body, headers=r.alpha),
        )
        assert stop.status_code == 200, stop.text
        working = [o for o in r.node.orders.open.values() if o.strategy_id == "alpha"]
        assert working == [], (entry.json(), stop.json(), working)
        await quote(r.node, mid(r.node))  # the next candle fills nothing of alpha's
        held = r.node.portfolio.positions.get(("paper", SYMBOL, "alpha"))
        assert held is None or held.quantity == 0, (entry.json(), stop.json())
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_retried_execute_is_refused_naming_the_trade_its_confirmation_made(
    tmp_path, data_dir
):
    # A client whose execute timed out sends it again: never a second order, and the answer
    # says which trade the first one made, so the client can look it up.
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "gamma", one_position_per_symbol=False)
        conf = (await _validate(r, r.trader, bot="gamma")).json()["confirmation_id"]
        first = (await _execute(r, r.trader, conf, bot="gamma")).json()
        assert first["status"] == "submitted", first
        again = (await _execute(r, r.trader, conf, bot="gamma")).json()
        assert again["status"] == "denied" and again["code"] == "CONFIRMATION_REFUSED", again
        assert "already used" in again["reason"], again
        assert f"by trade {first['trade_id']} (submitted: GET" in again["reason"], again
        assert f"/api/v1/trades/status/{first['trade_id']}" in again["reason"], again
        gamma = [o for o in r.node.orders.orders.values() if o.strategy_id == "gamma"]
        assert len(gamma) == 1
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_confirmation_used_by_a_node_killed_before_its_trade_says_so(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        conf = (await _validate(r, r.alpha)).json()["confirmation_id"]
        # what a node killed between redeeming the id and storing the trade leaves behind
        assert BotRows(r.node.db).redeem_confirmation(conf, r.node.clock.now_ms())
        again = (await _execute(r, r.alpha, conf)).json()
        assert again["status"] == "denied" and again["code"] == "CONFIRMATION_REFUSED", again
        assert "was already used (no trade is recorded with it yet" in again["reason"], again
        assert not [o for o in r.node.orders.orders.values() if o.strategy_id == "alpha"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_score_and_a_temperature_that_differ_are_refused_naming_both(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.6",
                "temperature": "0.9"}  # fmt: skip
        for route in ("/api/v1/safety/validate-trade", "/api/v1/trades/execute"):
            got = await r.http.post(route, json=body, headers=r.alpha)
            assert got.status_code == 422, got.text
            err = got.json()["errors"][0]
            assert err["field"] == "temperature" and err["value"] == '"0.9"', err
            assert 'score "0.6" and temperature "0.9" both size the trade' in err["message"]
        same = await r.http.post("/api/v1/safety/validate-trade",
                                 json={**body, "temperature": "0.60"}, headers=r.alpha)  # fmt: skip
        assert same.status_code == 200 and same.json()["approved"], same.text
    finally:
        await r.http.aclose()
        r.node.close()

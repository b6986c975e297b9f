"""The safety routes against a running paper node: validate, confirm, execute, one position."""

from __future__ import annotations

import json
from decimal import Decimal

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.api.bot_desk import BotDesk


async def _validate(r, headers, bot="alpha", score="0.75", side="buy"):
    body = {"bot_id": bot, "symbol": SYMBOL, "side": side, "score": score}
    return await r.http.post("/api/v1/safety/validate-trade", json=body, headers=headers)


async def _execute(r, headers, conf_id, bot="alpha", score="0.75", **extra):
    body = {"bot_id": bot, "symbol": SYMBOL, "side": "buy", "score": score,
            "confirmation_id": conf_id, **extra}  # fmt: skip
    return await r.http.post("/api/v1/trades/execute", json=body, headers=headers)


async def test_validate_sizes_by_score_and_execute_records_score_and_rule(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        v = await _validate(r, r.alpha)
        assert v.status_code == 200, v.text
        out = v.json()
        assert out["approved"] is True and out["reasons"] == []
        # linear 0.5..1 -> 20..60 USD: a score of 0.75 sizes 40 USD
        assert Decimal(out["size_usd"]) == Decimal("40")
        assert out["confirmation_id"].startswith("cf_")
        e = await _execute(r, r.alpha, out["confirmation_id"])
        assert e.status_code == 201, e.text
        trade = e.json()
        assert trade["status"] == "submitted"
        assert trade["score"] == "0.75" and trade["size_rule"].startswith("linear")
        assert trade["confirmations"] == [out["confirmation_id"]]
        order = r.node.orders.orders[trade["client_order_id"]]
        assert order.strategy_id == "alpha"
        assert order.amount * mid(r.node) <= Decimal("40")
        s = await r.http.get(f"/api/v1/trades/status/{trade['trade_id']}", headers=r.alpha)
        assert s.status_code == 200 and s.json()["score"] == "0.75"
        recent = await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)
        assert [t["trade_id"] for t in recent.json()["items"]] == [trade["trade_id"]]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_confirmation_reused_expired_or_mismatched_is_refused(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        # a bot that may add to its position, so that only the used id refuses the second
        add_bot(r.node, "gamma", one_position_per_symbol=False)
        conf = (await _validate(r, r.trader, bot="gamma")).json()["confirmation_id"]
        assert (await _execute(r, r.trader, conf, bot="gamma")).status_code == 201
        again = (await _execute(r, r.trader, conf, bot="gamma")).json()
        assert again["status"] == "denied" and "already used" in again["reason"]
        # a fresh id, but for beta's trade, presented by a trader for alpha
        other = (await _validate(r, r.trader, bot="beta")).json()["confirmation_id"]
        wrong = (await _execute(r, r.trader, other)).json()
        assert wrong["code"] == "CONFIRMATION_REFUSED" and "issued for beta" in wrong["reason"]
        late = (await _validate(r, r.trader, bot="beta")).json()["confirmation_id"]
        r.node.clock.advance_to(r.node.clock.now_ms() + 31_000)  # confirmation_ttl_s = 30
        expired = (await _execute(r, r.trader, late, bot="beta")).json()
        assert expired["status"] == "denied" and "expired" in expired["reason"]
        missing = (await _execute(r, r.trader, None, bot="beta")).json()
        assert missing["code"] == "CONFIRMATION_REQUIRED"
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_confirmation_is_refused_for_a_bigger_or_smaller_trade_than_validated(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    try:
        small = (await _validate(r, r.alpha, score="0.5")).json()
        assert Decimal(small["size_usd"]) == Decimal("20")
        # the bot validates 20 USD, then presents the id with a score that sizes 60 USD
        big = (await _execute(r, r.alpha, small["confirmation_id"], score="1")).json()
        assert big["status"] == "denied" and big["code"] == "CONFIRMATION_REFUSED"
        assert big["reason"] == (
            f"confirmation {small['confirmation_id']!r} was issued for 20.00 USD, not 60.00 USD; "
            "validate the trade again"
        )
        assert r.node.orders.orders == {}  # nothing was sent
        mid_size = (await _validate(r, r.alpha, score="0.75")).json()
        less = (await _execute(r, r.alpha, mid_size["confirmation_id"], score="0.5")).json()
        assert (
            less["code"] == "CONFIRMATION_REFUSED" and "40.00 USD, not 20.00 USD" in less["reason"]
        )
        # the refused ids were not spent: the validated trade still goes through
        ok = await _execute(r, r.alpha, small["confirmation_id"], score="0.5")
        assert ok.status_code == 201 and ok.json()["status"] == "submitted"
    finally:
        await r.http.aclose()
        r.node.close()


async def test_n_agreeing_signals_are_needed_inside_the_window(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "gamma", confirmations_needed=2, confirmation_window_s=60)
        first = (await _validate(r, r.trader, bot="gamma")).json()
        short = (await _execute(r, r.trader, first["confirmation_id"], bot="gamma")).json()
        assert short["code"] == "SIGNALS_NEEDED" and "1 agreeing" in short["reason"]
        second = (await _validate(r, r.trader, bot="gamma")).json()
        assert second["agreeing_signals"] == 2
        ok = await _execute(r, r.trader, second["confirmation_id"], bot="gamma")
        assert ok.status_code == 201, ok.text
        assert len(ok.json()["confirmations"]) == 2
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_second_entry_is_denied_until_the_position_is_closed(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        conf = (await _validate(r, r.alpha, score="0.5")).json()["confirmation_id"]
        assert (await _execute(r, r.alpha, conf, score="0.5")).status_code == 201
        await quote(r.node, mid(r.node))  # the paper venue fills the market order
        pos = r.node.portfolio.positions[("paper", SYMBOL, "alpha")]
        assert pos.quantity > 0
        denied = (await _validate(r, r.alpha, score="0.5")).json()
        assert denied["approved"] is False and "BOT_ONE_POSITION" in denied["codes"]
        assert "confirmation_id" not in denied
        # selling closes it (no new entry), then a new entry is approved again
        sell = (await _validate(r, r.alpha, side="sell")).json()
        assert sell["approved"] and sell["reducing"]
        held = abs(r.node.portfolio.closable(pos)) * mid(r.node)
        body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "sell",
                "confirmation_id": sell["confirmation_id"]}  # fmt: skip
        closed = await r.http.post("/api/v1/trades/execute", json=body, headers=r.alpha)
        assert closed.status_code == 201, closed.text
        # the record says the trade closed the position, not how a score would have sized it
        assert closed.json()["size_rule"].startswith("closes the position"), closed.json()
        assert sell["size_rule"].startswith("closes the position"), sell
        # and its size is the position at the mid, not the 0 USD a signal without a score sizes
        assert Decimal(sell["size_usd"]) == held.quantize(Decimal("0.01")), (sell, held)
        assert closed.json()["size_usd"] == sell["size_usd"], closed.json()
        await quote(r.node, mid(r.node))
        assert r.node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity == 0
        again = (await _validate(r, r.alpha, score="0.5")).json()
        # only the risk engine's cooldown after a (fee-)losing trade holds it now
        assert again["codes"] == ["COOLDOWN"], again
        stats = (await r.http.get("/api/v1/bots/alpha/stats", headers=r.alpha)).json()
        assert (stats["trades"], stats["wins"]) == (1, 0)
        assert [(b["bucket"], b["trades"]) for b in stats["by_score"]] == [("0.5-0.6", 1)]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_bot_token_is_refused_for_another_bot_and_on_plain_routes(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        other = await _validate(r, r.alpha, bot="beta")
        assert other.status_code == 403 and "bound to bot 'alpha'" in other.json()["detail"]
        stop = await r.http.post("/api/v1/safety/emergency-stop", json={"bot_id": "beta"},
                                 headers=r.alpha)  # fmt: skip
        assert stop.status_code == 403
        order = {"venue": "paper", "symbol": SYMBOL, "side": "buy", "amount": "0.001",
                 "strategy_id": "beta"}  # fmt: skip
        plain = await r.http.post("/api/v1/orders", json=order, headers=r.alpha)
        assert plain.status_code == 403
        assert not [o for o in r.node.orders.orders.values() if o.strategy_id == "beta"]
        recent = await r.http.get("/api/v1/trades/recent/beta", headers=r.alpha)
        assert recent.status_code == 403
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_disabled_bot_and_a_foreign_symbol_are_denied_with_reasons(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "delta", enabled=False)
        off = (await _validate(r, r.trader, bot="delta")).json()
        assert off["approved"] is False and "BOT_DISABLED" in off["codes"]
        add_bot(r.node, "eps", symbols=["ETH/USDT"])
        body = {"bot_id": "eps", "symbol": SYMBOL, "side": "buy", "score": "0.9"}
        foreign = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        assert "BOT_SYMBOL" in foreign.json()["codes"]
        weak = (await _validate(r, r.trader, score="0.2")).json()
        assert weak["approved"] is False and "BOT_SIZE_ZERO" in weak["codes"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_emergency_stop_disables_the_bot_and_status_shows_it(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        stop = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.alpha)  # fmt: skip
        assert stop.status_code == 200 and stop.json()["scope"] == "bot"
        status = (await r.http.get("/api/v1/safety/status", headers=r.alpha)).json()
        assert [(b["bot_id"], b["enabled"]) for b in status["bots"]] == [("alpha", False)]
        assert BotDesk.for_node(r.node).bot("alpha")[1] is False
        halt = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.trader)  # fmt: skip
        assert halt.json()["scope"] == "node" and r.node.risk.state.value == "HALTED"
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_bot_configured_without_confirmation_executes_without_an_id(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "gamma", require_confirmation=False)
        direct = await _execute(r, r.trader, None, bot="gamma")
        assert direct.status_code == 201, direct.text
        assert direct.json()["confirmations"] == []
        # alpha keeps its own setting: still refused without one
        refused = (await _execute(r, r.trader, None)).json()
        assert refused["code"] == "CONFIRMATION_REQUIRED"
    finally:
        await r.http.aclose()
        r.node.close()


async def test_the_status_summary_shows_active_trades_with_live_p_and_l(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        conf = (await _validate(r, r.alpha, score="0.5")).json()["confirmation_id"]
        assert (await _execute(r, r.alpha, conf, score="0.5", stop_loss_pct="5")).status_code == 201
        start = mid(r.node)
        await quote(r.node, start)  # the entry fills
        pos = r.node.portfolio.positions[("paper", SYMBOL, "alpha")]
        await quote(r.node, start + 100)  # the market moves 100 up
        s = await r.http.get("/api/v1/bots/status/summary", headers=r.alpha)
        assert s.status_code == 200, s.text
        doc = s.json()
        assert [b["bot_id"] for b in doc["bots"]] == ["alpha"]  # a bound token sees its own
        [trade] = doc["bots"][0]["active_trades"]
        mark = Decimal(trade["mark"])
        assert trade["side"] == "long" and Decimal(trade["quantity"]) == pos.quantity
        assert Decimal(trade["entry"]) == pos.avg_entry and mark == r.node.market.mid(SYMBOL)
        assert Decimal(trade["unrealized_pnl"]) == (mark - pos.avg_entry) * pos.quantity > 0
        assert trade["exits"]["stop_loss_pct"] == "5"
        assert doc["active_trades"] == 1 and doc["unrealized_pnl"] == trade["unrealized_pnl"]
        everyone = (await r.http.get("/api/v1/bots/status/summary", headers={
            "Authorization": r.trader["Authorization"]})).json()  # fmt: skip
        assert {b["bot_id"] for b in everyone["bots"]} == {"alpha", "beta"}
        assert next(b for b in everyone["bots"] if b["bot_id"] == "beta")["active_trades"] == []
        anonymous = await r.http.get("/api/v1/bots/status/summary")
        assert anonymous.status_code == 401
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_body_that_is_not_json_is_named_as_such(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        for raw in (b"{", b'{"bot_id": "alpha",}', b"\xff\xfe"):
            hdr = {**r.alpha, "Content-Type": "application/json"}
            resp = await r.http.post("/api/v1/safety/validate-trade", content=raw, headers=hdr)
            assert resp.status_code == 422, resp.text
            doc = resp.json()
            assert [e["field"] for e in doc["errors"]] == ["(body)"], doc
            assert doc["error"].startswith("invalid request: (body): the body is not valid JSON (")
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_signal_json_cannot_carry_back_is_refused_before_any_order(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        conf = (await _validate(r, r.alpha)).json()["confirmation_id"]
        hdr = {**r.alpha, "Content-Type": "application/json"}
        body = {
            "bot_id": "alpha",
            "symbol": SYMBOL,
            "side": "buy",
            "score": "0.75",
            "confirmation_id": conf,
            "signal": {"rsi": float("nan"), "z": [1, float("inf")]},
        }
        raw = json.dumps(body)  # Python writes NaN and Infinity, as many bots' JSON does
        before = len(r.node.orders.orders)
        resp = await r.http.post("/api/v1/trades/execute", content=raw, headers=hdr)
        assert resp.status_code == 422, resp.text  # it used to send the order, then answer 500
        assert resp.json()["errors"][0]["field"] == "signal"
        assert "signal.rsi = nan: not a finite number" in resp.json()["error"]
        assert len(r.node.orders.orders) == before
        deep = {
            "bot_id": "alpha",
            "symbol": SYMBOL,
            "side": "buy",
            "signal": {"a": [[[[[[[[[1]]]]]]]]]},
        }
        nested = await r.http.post("/api/v1/safety/validate-trade", json=deep, headers=r.alpha)
        assert nested.status_code == 422 and "nested deeper than 8" in nested.json()["error"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_an_entry_still_working_holds_the_next_entry_back(tmp_path, data_dir):
    # Two confirmations taken while the bot was flat, executed one after the other: the first
    # market order has not filled yet (the paper venue fills on the next candle), so the bot
    # holds no position, but its entry is working. The second entry used to pass and the bot
    # ended with two positions' worth, above max_position_usd.
    r = await rig(tmp_path, data_dir)
    try:
        first = (await _validate(r, r.alpha, score="1")).json()["confirmation_id"]
        second = (await _validate(r, r.alpha, score="1")).json()["confirmation_id"]
        ok = await _execute(r, r.alpha, first, score="1")
        assert ok.status_code == 201, ok.text
        assert r.node.orders.open_order_count("alpha", SYMBOL) == 1
        again = (await _validate(r, r.alpha, score="1")).json()
        assert again["approved"] is False and "BOT_ONE_POSITION" in again["codes"], again
        dup = await _execute(r, r.alpha, second, score="1")
        assert dup.status_code == 200, dup.text
        assert dup.json()["code"] == "BOT_ONE_POSITION", dup.json()
        assert "working" in dup.json()["reason"]
        assert r.node.orders.open_order_count("alpha", SYMBOL) == 1
        await quote(r.node, mid(r.node))  # the one entry fills
        pos = r.node.portfolio.positions[("paper", SYMBOL, "alpha")]
        assert pos.quantity * mid(r.node) <= Decimal("60")
        # with adding allowed, the working entry counts towards max_position_usd (100)
        add_bot(r.node, "delta", one_position_per_symbol=False)
        a = (await _validate(r, r.trader, bot="delta", score="1")).json()["confirmation_id"]
        b = (await _validate(r, r.trader, bot="delta", score="1")).json()["confirmation_id"]
        assert (await _execute(r, r.trader, a, bot="delta", score="1")).status_code == 201
        over = (await _execute(r, r.trader, b, bot="delta", score="1")).json()
        assert over["code"] == "BOT_MAX_POSITION", over
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_time_stop_that_is_not_a_whole_number_is_refused_before_any_order(
    tmp_path, data_dir
):
    # JSON true was read as 1: the position was closed by a time stop a second after entry
    r = await rig(tmp_path, data_dir)
    try:
        conf = (await _validate(r, r.alpha)).json()["confirmation_id"]
        for bad in (True, False, "60", [60], 60.5):
            resp = await _execute(r, r.alpha, conf, time_stop_s=bad)
            assert resp.status_code == 422, (bad, resp.text)
            assert resp.json()["errors"][0]["field"] == "time_stop_s", resp.text
        assert r.node.orders.orders == {}
        ok = await _execute(r, r.alpha, conf, time_stop_s=60)
        assert ok.status_code == 201, ok.text
        assert ok.json()["exits"]["time_stop_s"] == 60
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_signal_without_a_score_is_not_sized_above_the_bots_rule(tmp_path, data_dir):
    # A bot sized by a step table (at most 30 USD) got max_order_usd (60) for a signal that
    # carried no score at all: more than its strongest score would ever buy.
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "tab", sizing={"kind": "table", "steps": [["0.6", "10"], ["0.8", "30"]]})
        body = {"bot_id": "tab", "symbol": SYMBOL, "side": "buy"}
        out = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        doc = out.json()
        assert doc["approved"] is False and doc["codes"] == ["BOT_SIZE_ZERO"], doc
        assert Decimal(doc["size_usd"]) == 0
        assert "needs a score" in doc["size_rule"], doc
        strong = (await _validate(r, r.trader, bot="tab", score="0.9")).json()
        assert strong["approved"] and Decimal(strong["size_usd"]) == Decimal("30"), strong
        # a bot with the fixed rule still trades max_order_usd without a score
        add_bot(r.node, "fix", sizing={"kind": "fixed"})
        body = {"bot_id": "fix", "symbol": SYMBOL, "side": "buy"}
        fixed = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        assert fixed.json()["approved"] and Decimal(fixed.json()["size_usd"]) == Decimal("60")
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_score_or_pct_sent_as_a_json_number_says_to_send_a_string(tmp_path, data_dir):
    # `"score": 0.9` was answered "Input should be a valid string", naming no way out.
    r = await rig(tmp_path, data_dir)
    try:
        body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": 0.9}
        v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.alpha)
        assert v.status_code == 422, v.text
        assert (
            'score = 0.9: must be a decimal string such as "0.82", got the JSON number 0.9'
            in (v.json()["error"])
        ), v.text
        body = {**body, "score": "0.9", "confirmation_id": "cf_x", "stop_loss_pct": 2}
        e = await r.http.post("/api/v1/trades/execute", json=body, headers=r.alpha)
        assert e.status_code == 422, e.text
        assert 'stop_loss_pct = 2: must be a decimal string such as "2.5"' in e.json()["error"]
        assert r.node.orders.orders == {}
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_bot_given_another_bot_s_confirmation_reads_it_as_unknown(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        other = (await _validate(r, r.trader, bot="beta")).json()["confirmation_id"]
        out = (await _execute(r, r.alpha, other)).json()
        # was: "was issued for beta buy BTC/USDT": another bot's name, side and symbol
        assert out["code"] == "CONFIRMATION_REFUSED", out
        assert out["reason"].startswith(f"confirmation {other!r} is unknown"), out
        assert "beta" not in out["reason"], out
        recent = await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)
        assert "beta" not in json.dumps(recent.json()), recent.json()
        # the operator reads what it was
        status = await r.http.get(f"/api/v1/trades/status/{out['trade_id']}", headers=r.trader)
        assert "issued for beta" in status.json()["reason"], status.json()
    finally:
        await r.http.aclose()
        r.node.close()

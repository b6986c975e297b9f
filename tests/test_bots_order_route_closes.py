"""A reduce_only order under a bot's name on POST /api/v1/orders: it closes the bot's own
position, never the account's, so it cannot open, grow or flip what the bot holds."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bots_support import SYMBOL, mid, quote, rig


def _order(bot: str, side: str, amount: str, **extra: object) -> dict[str, object]:
    return {"strategy_id": bot, "venue": "paper", "symbol": SYMBOL, "side": side,
            "amount": amount, **extra}  # fmt: skip


def _held(r, sid: str) -> Decimal:
    pos = r.node.portfolio.positions.get(("paper", SYMBOL, sid))
    return pos.quantity if pos is not None else Decimal(0)


async def _fill(r, body: dict[str, object]) -> None:
    sent = (await r.http.post("/api/v1/orders", json=body, headers=r.trader)).json()
    assert sent["status"] == "submitted", sent
    await quote(r.node, mid(r.node))


async def test_a_stopped_bot_holding_nothing_cannot_sell_the_accounts_coins(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        await _fill(r, _order("manual", "buy", "0.001"))  # the account holds BTC, alpha none
        stop = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.alpha)  # fmt: skip
        assert stop.status_code == 200, stop.text
        body = _order("alpha", "sell", "0.0005", reduce_only=True)
        checked = (await r.http.post("/api/v1/risk/validate", json=body, headers=r.trader)).json()
        assert checked["approved"] is False and checked["code"] == "BOT_NOT_REDUCING", checked
        sent = (await r.http.post("/api/v1/orders", json=body, headers=r.trader)).json()
        assert sent["status"] == "denied" and sent["code"] == "BOT_NOT_REDUCING", sent
        assert "alpha holds 0" in sent["reason"] and "0.0005" in sent["reason"], sent
        await quote(r.node, mid(r.node))
        assert _held(r, "alpha") == 0
        assert _held(r, "manual") == Decimal("0.001")
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_bot_close_bigger_than_its_position_is_refused(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        await _fill(r, _order("manual", "buy", "0.002"))
        # alpha's entry goes through its gate; its own close then sells what it holds
        conf = (
            await r.http.post(
                "/api/v1/safety/validate-trade",
                headers=r.alpha,
                json={"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75"},
            )
        ).json()
        done = (await r.http.post("/api/v1/trades/execute", headers=r.alpha, json={
            "bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75",
            "confirmation_id": conf["confirmation_id"]})).json()  # fmt: skip
        assert done["status"] == "submitted", done
        await quote(r.node, mid(r.node))
        held = _held(r, "alpha")
        assert held > 0
        # twice what alpha holds: the account's net would cover it, alpha's position would flip
        body = _order("alpha", "sell", str(held * 2), reduce_only=True)
        sent = (await r.http.post("/api/v1/orders", json=body, headers=r.trader)).json()
        assert sent["status"] == "denied" and sent["code"] == "BOT_NOT_REDUCING", sent
        # a buy while long grows it
        body = _order("alpha", "buy", str(held), reduce_only=True)
        sent = (await r.http.post("/api/v1/orders", json=body, headers=r.trader)).json()
        assert sent["status"] == "denied" and sent["code"] == "BOT_NOT_REDUCING", sent
        # two closes of the whole position sent at once: one works, the other is refused
        above = (mid(r.node) * Decimal("1.01")).quantize(Decimal("0.01"))  # it rests
        body = _order("alpha", "sell", str(held), reduce_only=True, type="limit", price=str(above))
        answers = await asyncio.gather(
            *(r.http.post("/api/v1/orders", json=body, headers=r.trader) for _ in range(2))
        )
        out = sorted((a.json() for a in answers), key=lambda o: o["status"])
        assert [o["status"] for o in out] == ["denied", "submitted"], out
        assert out[0]["code"] == "BOT_NOT_REDUCING" and "already work" in out[0]["reason"], out
        assert "/api/v1/bots/alpha/close-positions" in out[0]["reason"], out
        # the one exact close still passes (as a market order it fills on the next candle)
        first = out[1]["client_order_id"]
        cancel = await r.http.post(f"/api/v1/orders/{first}/cancel", headers=r.trader)
        assert cancel.status_code == 200, cancel.text
        await _fill(r, _order("alpha", "sell", str(held), reduce_only=True))
        assert _held(r, "alpha") == 0
        assert _held(r, "manual") == Decimal("0.002")
    finally:
        await r.http.aclose()
        r.node.close()


async def test_risk_validate_answers_a_bot_refusal_in_the_shape_of_any_other(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        url = "/api/v1/risk/validate"
        plain = await r.http.post(url, json=_order("manual", "buy", "0.0005"), headers=r.trader)
        entry = await r.http.post(url, json=_order("beta", "buy", "0.0005"), headers=r.trader)
        close = await r.http.post(url, json=_order("beta", "sell", "0.0005", reduce_only=True),
                                  headers=r.trader)  # fmt: skip
        assert plain.json()["approved"] is True, plain.json()
        for denied, code in ((entry, "BOT_ORDER_ROUTE"), (close, "BOT_NOT_REDUCING")):
            out = denied.json()
            assert out["approved"] is False and out["code"] == code, out
            # a client reads one shape: every key a risk decision has, the rule named
            assert set(out) == set(plain.json()), out
            assert out["rule"] == "bot", out
    finally:
        await r.http.aclose()
        r.node.close()


async def _bot_trade(r, side: str) -> dict[str, object]:
    ask = {"bot_id": "alpha", "symbol": SYMBOL, "side": side, "score": "0.75"}
    conf = await r.http.post("/api/v1/safety/validate-trade", json=ask, headers=r.alpha)
    assert conf.json()["approved"], conf.json()
    body = {**ask, "confirmation_id": conf.json()["confirmation_id"]}
    done = (await r.http.post("/api/v1/trades/execute", json=body, headers=r.alpha)).json()
    assert done["status"] == "submitted", done
    await quote(r.node, mid(r.node))
    return done


async def test_a_close_sent_as_a_bot_cannot_pass_for_one_of_its_venue_exits(tmp_path, data_dir):
    # The bot's own machinery tells its venue exits by signal keys; an order from outside
    # carrying them was left resting when the bot closed, and sold again once it filled.
    r = await rig(tmp_path, data_dir)
    try:
        await _fill(r, _order("manual", "buy", "0.002"))
        await _bot_trade(r, "buy")
        held = _held(r, "alpha")
        above = (mid(r.node) * Decimal("1.01")).quantize(Decimal("0.01"))
        for signal in ({"native": True}, {"exit_plan": f"paper|{SYMBOL}|alpha"}):
            body = _order("alpha", "sell", str(held), reduce_only=True, type="limit",
                          price=str(above), signal=signal)  # fmt: skip
            sent = await r.http.post("/api/v1/orders", json=body, headers=r.trader)
            assert sent.status_code == 422, sent.text
            assert "signal" in sent.text and next(iter(signal)) in sent.text, sent.text
        assert not [o for o in r.node.orders.open.values() if o.strategy_id == "alpha"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_strategy_intent_under_a_bots_name_is_held_to_the_same_gate(tmp_path, data_dir):
    # A strategy's id may not be a bot's name, but the context takes an intent of any id: one
    # under a stopped bot's name opened a position for it, past its stop and its limits.
    from tradeguard.model.enums import OrderType, Side
    from tradeguard.model.order import OrderIntent

    r = await rig(tmp_path, data_dir)
    try:
        stop = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.alpha)  # fmt: skip
        assert stop.status_code == 200, stop.text
        entry = OrderIntent("alpha", "paper", SYMBOL, Side.BUY, Decimal("0.01"), OrderType.MARKET)
        close = OrderIntent("alpha", "paper", SYMBOL, Side.SELL, Decimal("0.01"),
                            OrderType.MARKET, reduce_only=True)  # fmt: skip
        r.node._ctx.emit(entry)
        r.node._ctx.emit(close)
        await r.node._drain()
        await quote(r.node, mid(r.node))
        assert not [o for o in r.node.orders.orders.values() if o.strategy_id == "alpha"]
        assert _held(r, "alpha") == 0
        events = await r.http.get("/api/v1/events", params={"kind_prefix": "risk.denied"},
                                  headers=r.trader)  # fmt: skip
        denied = [e for e in events.json()["items"] if e["strategy_id"] == "alpha"]
        codes = sorted(e["data"]["code"] for e in denied)
        assert codes == ["BOT_DISABLED", "BOT_NOT_REDUCING"], denied
    finally:
        await r.http.aclose()
        r.node.close()

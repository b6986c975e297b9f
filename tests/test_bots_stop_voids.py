"""A bot's emergency stop (or disable) voids the confirmations it handed out before: enabling it
again by hand does not let a signal approved before the stop trade afterwards."""

from __future__ import annotations

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.api.bot_desk import BotDesk
from tradeguard.config import BotConfig
from tradeguard.node import build_node


async def test_a_confirmation_from_before_an_emergency_stop_is_refused_after_enable(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    await quote(r.node, mid(r.node))
    try:
        signal = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        v = await r.http.post("/api/v1/safety/validate-trade", json=signal, headers=r.alpha)
        conf = v.json()["confirmation_id"]
        stop = await r.http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                                 headers=r.alpha)  # fmt: skip
        assert stop.status_code == 200, stop.text
        assert (await r.http.post("/api/v1/bots/alpha/enable", headers=r.trader)).status_code == 200
        e = await r.http.post("/api/v1/trades/execute", json={**signal, "confirmation_id": conf},
                              headers=r.alpha)  # fmt: skip
        out = e.json()
        assert out["status"] == "denied" and out["code"] == "CONFIRMATION_REFUSED", out
        assert "voided" in out["reason"] and "validate the trade again" in out["reason"], out
        assert [o for o in r.node.orders.orders.values() if o.strategy_id == "alpha"] == []
        # a fresh approval trades
        fresh = (await r.http.post("/api/v1/safety/validate-trade", json=signal,
                                   headers=r.alpha)).json()["confirmation_id"]  # fmt: skip
        e = await r.http.post("/api/v1/trades/execute", json={**signal, "confirmation_id": fresh},
                              headers=r.alpha)  # fmt: skip
        assert e.status_code == 201, e.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_signals_that_agreed_before_a_stop_do_not_count_after_it(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", confirmations_needed=2)
    await quote(r.node, mid(r.node))
    try:
        signal = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        before = await r.http.post("/api/v1/safety/validate-trade", json=signal, headers=r.trader)
        assert before.json()["agreeing_signals"] == 1, before.text
        await r.http.post("/api/v1/safety/emergency-stop", json={"bot_id": "gamma"},
                          headers=r.trader)  # fmt: skip
        await r.http.post("/api/v1/bots/gamma/enable", headers=r.trader)
        after = (await r.http.post("/api/v1/safety/validate-trade", json=signal,
                                   headers=r.trader)).json()  # fmt: skip
        assert after["agreeing_signals"] == 1, after  # the one since the stop
        e = await r.http.post("/api/v1/trades/execute",
                              json={**signal, "confirmation_id": after["confirmation_id"]},
                              headers=r.trader)  # fmt: skip
        assert e.json()["code"] == "SIGNALS_NEEDED", e.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_signal_approved_before_a_stop_counts_not_once_its_confirmation_expired(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", confirmations_needed=2)  # ids live 30 s; the window is 300 s
    await quote(r.node, mid(r.node))
    try:
        signal = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        before = await r.http.post("/api/v1/safety/validate-trade", json=signal, headers=r.trader)
        assert before.json()["agreeing_signals"] == 1, before.text
        await quote(r.node, mid(r.node))  # 60 s later: that id has expired, the window holds it
        await r.http.post("/api/v1/safety/emergency-stop", json={"bot_id": "gamma"},
                          headers=r.trader)  # fmt: skip
        await r.http.post("/api/v1/bots/gamma/enable", headers=r.trader)
        after = (await r.http.post("/api/v1/safety/validate-trade", json=signal,
                                   headers=r.trader)).json()  # fmt: skip
        assert after["agreeing_signals"] == 1, after  # the one since the stop
        e = await r.http.post("/api/v1/trades/execute",
                              json={**signal, "confirmation_id": after["confirmation_id"]},
                              headers=r.trader)  # fmt: skip
        assert e.json()["code"] == "SIGNALS_NEEDED", e.text
        assert [o for o in r.node.orders.orders.values() if o.strategy_id == "gamma"] == []
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_config_that_disables_the_bot_voids_its_confirmations(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", confirmation_ttl_s=3600)
    await quote(r.node, mid(r.node))
    signal = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
    v = await r.http.post("/api/v1/safety/validate-trade", json=signal, headers=r.trader)
    conf = v.json()["confirmation_id"]
    await r.http.aclose()
    config, price, bar = r.node.config, mid(r.node), r.node.market.candles[SYMBOL]
    r.node.close()
    # the next start with `enabled = false` for the bot, then an enable by hand
    node = build_node(config.model_copy(update={"bots": [BotConfig(name="gamma", enabled=False)]}))
    await node.start()
    try:
        node.market.on_candle(bar)
        await quote(node, price)
        desk = BotDesk.for_node(node)
        assert desk.bot("gamma")[1] is False
        desk.set_enabled("gamma", True)
        out = await desk.execute("gamma", {**signal, "confirmation_id": conf}, "test")
        assert out["code"] == "CONFIRMATION_REFUSED" and "voided" in out["reason"], out
        assert [o for o in node.orders.orders.values() if o.strategy_id == "gamma"] == []
    finally:
        node.close()

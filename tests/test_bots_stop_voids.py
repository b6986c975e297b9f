"""A bot's emergency stop (or disable) voids the confirmations it handed out before: enabling it
again by hand does not let a signal approved before the stop trade afterwards."""

from __future__ import annotations

from bots_support import SYMBOL, mid, quote, rig


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

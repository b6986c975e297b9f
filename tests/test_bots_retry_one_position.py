"""A retried execute of a bot that holds one position per symbol is told it is a retry.

The retry of an entry that traded meets that entry's own position and cooldown: the bot's
checks ran first and answered `BOT_ONE_POSITION` (cooling down), which names no trade, so a
client whose first execute timed out could not tell its signal had traded, nor find the trade.
"""

from __future__ import annotations

from bots_support import SYMBOL, add_bot, rig


async def test_a_retry_of_a_traded_entry_names_its_trade_not_the_position_it_opened(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "gamma", cooldown_s=60)  # one position per symbol, as by default
        ask = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        valid = await r.http.post("/api/v1/safety/validate-trade", json=ask, headers=r.trader)
        body = {**ask, "confirmation_id": valid.json()["confirmation_id"]}
        first = (await r.http.post("/api/v1/trades/execute", json=body, headers=r.trader)).json()
        assert first["status"] == "submitted", first
        again = (await r.http.post("/api/v1/trades/execute", json=body, headers=r.trader)).json()
        assert again["status"] == "denied" and again["code"] == "CONFIRMATION_REFUSED", again
        assert f"already used by trade {first['trade_id']} (submitted" in again["reason"], again
        gamma = [o for o in r.node.orders.orders.values() if o.strategy_id == "gamma"]
        assert len(gamma) == 1
        # a new signal is still refused by the bot's own checks, as before
        fresh = await r.http.post("/api/v1/safety/validate-trade", json=ask, headers=r.trader)
        assert fresh.json()["codes"][0] == "BOT_ONE_POSITION", fresh.json()
    finally:
        await r.http.aclose()
        r.node.close()

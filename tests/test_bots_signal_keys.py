"""A bot's signal may not carry the keys of its own venue exits (`native`, `exit_plan`): a close
carrying them was not counted as working, so a second close passed BOT_CLOSE_WORKING."""

from __future__ import annotations

import pytest

from bots_support import SYMBOL, add_bot, mid, quote, rig


@pytest.mark.parametrize("key", ["native", "exit_plan"])
async def test_a_signal_with_a_bot_exit_key_is_refused_naming_it(tmp_path, data_dir, key):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False)
    await quote(r.node, mid(r.node))
    try:
        body = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        entry = await r.http.post("/api/v1/trades/execute", json=body, headers=r.trader)
        assert entry.status_code == 201, entry.text
        await quote(r.node, mid(r.node))  # filled: gamma holds BTC
        close = {**body, "side": "sell", "signal": {key: "paper|BTC/USDT|gamma"}}
        for route in ("/api/v1/trades/execute", "/api/v1/safety/validate-trade"):
            out = await r.http.post(route, json=close, headers=r.trader)
            assert out.status_code == 422, out.text
            assert f"signal.{key} is reserved" in out.text
        sells = [o for o in r.node.orders.orders.values() if o.side.value == "sell"]
        assert sells == []
    finally:
        await r.http.aclose()
        r.node.close()

"""A bot's signal may not carry the keys the node reserves for its own orders
(`model.signal_keys`): a close carrying a venue exit's (`native`, `exit_plan`) was not counted as
working, so a second close passed BOT_CLOSE_WORKING; one carrying `settlement` or `arb` was taken
for the node's settlement or a cycle's leg."""

from __future__ import annotations

import pytest

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.model.signal_keys import NODE_SIGNAL_KEYS


@pytest.mark.parametrize("key", sorted(NODE_SIGNAL_KEYS))
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
            assert f"signal.{key} = 'paper|BTC/USDT|gamma' is reserved" in out.text
        sells = [o for o in r.node.orders.orders.values() if o.side.value == "sell"]
        assert sells == []
    finally:
        await r.http.aclose()
        r.node.close()

"""The arbitrage unwind's tag is the executors' own: an order from outside that carries it
would pass where risk refuses every other entry (max_trades_per_day reached, REDUCING)."""

from __future__ import annotations

from test_api_support import bearer, build_app, client, replayed_node

BUY = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}


async def test_an_intent_with_the_arb_unwind_tag_is_refused(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    node.risk.trades_today = 1000  # the day's max_trades_per_day is used up
    async with client(app) as http:
        plain = await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
        tagged = await http.post(
            "/api/v1/orders", json={**BUY, "tag": "arb-unwind"}, headers=bearer(tokens.trader)
        )
    assert plain.json()["code"] == "MAX_TRADES_PER_DAY", plain.text
    assert tagged.status_code == 422, tagged.text
    assert "'arb-unwind' is reserved for the arbitrage executors' unwinds" in tagged.json()["error"]
    assert node.storage.load_orders() == []
    node.close()


async def test_an_intent_booked_to_holdings_is_refused(tmp_path, data_dir):
    """`holdings` owns the account's trades made by hand, whose fills move balances only: an
    order sent under it opened no position, so its stop_loss was never watched."""
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    order = {**BUY, "strategy_id": "holdings", "stop_loss": "1000"}
    async with client(app) as http:
        sent = await http.post("/api/v1/orders", json=order, headers=bearer(tokens.trader))
        kept = await http.post(
            "/api/v1/orders", json={**order, "strategy_id": "manual"}, headers=bearer(tokens.trader)
        )
    assert sent.status_code == 422, sent.text
    assert "strategy_id 'holdings'" in sent.json()["error"], sent.text
    assert kept.status_code == 201, kept.text
    assert [o.strategy_id for o in node.storage.load_orders()] == ["manual"]
    node.close()

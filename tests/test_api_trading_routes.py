"""`/api/trading/mode|state|reset`: the plan's paths answer as `/api/v1/*` does."""

from __future__ import annotations

from decimal import Decimal

from test_api_support import bearer, build_app, client, replayed_node, resting_buy
from tradeguard.model.enums import TradingMode


async def test_trading_mode_and_state_answer_as_the_v1_routes(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    h = bearer(tokens.viewer)
    async with client(app) as http:
        mode = await http.get("/api/trading/mode", headers=h)
        mode_v1 = await http.get("/api/v1/mode", headers=h)
        state = await http.get("/api/trading/state", headers=h)
        anonymous = await http.get("/api/trading/state")
    assert mode.status_code == 200 and mode.json() == mode_v1.json()
    assert mode.json()["mode"] == "paper"
    assert state.status_code == 200
    assert state.json()["trading_state"] == node.risk.state.value == "ACTIVE"
    assert anonymous.status_code == 401
    node.close()


async def test_trading_reset_asks_for_a_confirmation_then_restores_the_paper_account(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    cid = await resting_buy(node)
    async with client(app) as http:
        as_trader = await http.post("/api/trading/reset", json={}, headers=bearer(tokens.trader))
        ask = await http.post("/api/trading/reset", json={}, headers=bearer(tokens.admin))
        without_code = node.orders.open_order_count("manual", "BTC/USDT")
        done = await http.post(
            "/api/trading/reset", json={"confirm": ask.json()["confirm"]},
            headers=bearer(tokens.admin, tokens.admin_totp),
        )  # fmt: skip
    assert as_trader.status_code == 403
    assert ask.status_code == 200 and len(ask.json()["confirm"]) > 10
    assert without_code == 1  # asking alone changes nothing
    assert done.status_code == 200, done.text
    assert done.json()["report"]["cancelled"] == [cid]
    assert node.portfolio.book("paper").total("USDT") == Decimal("10000")
    node.close()


async def test_trading_reset_is_refused_outside_paper(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    node.mode = TradingMode.LIVE
    app, tokens = build_app(node)
    async with client(app) as http:
        got = await http.post("/api/trading/reset", json={}, headers=bearer(tokens.admin))
    assert got.status_code == 409
    assert got.json()["error"] == "no paper account to reset in live mode"
    node.close()

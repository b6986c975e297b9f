"""A disabled or emergency-stopped bot may still close its position (closes only shrink risk);
its entries stay refused, and a close that would open or flip a position is refused. Through the
API against the sandbox venue (real ccxt)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from native_exits_support import KEY, bot_qty, enter, live_alpha
from test_api_support import build_app, client
from tradeguard.api.auth import Role, TokenStore
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


def _api(node: TradingNode) -> tuple[httpx.AsyncClient, dict[str, str]]:
    app, _ = build_app(node)
    _, token = TokenStore(node.db, node.storage).create("alpha-bot", Role.TRADER, bot="alpha")
    return client(app), {"Authorization": f"Bearer {token}"}


async def _trade(
    http: httpx.AsyncClient, h: dict[str, str], side: str, **extra: Any
) -> dict[str, Any]:
    """Validate, then execute with the confirmation when approved; return the last answer."""
    body = {"bot_id": "alpha", "symbol": "BTC/USDT", "side": side, "score": "0.5", **extra}
    v = await http.post("/api/v1/safety/validate-trade", json=body, headers=h)
    assert v.status_code == 200, v.text
    if not v.json()["approved"]:
        return dict(v.json())
    e = await http.post("/api/v1/trades/execute",
                        json={**body, "confirmation_id": v.json()["confirmation_id"]},
                        headers=h)  # fmt: skip
    assert e.status_code in (200, 201), e.text
    return dict(e.json())


async def _filled_entry(node: TradingNode) -> None:
    await enter(node)
    await eventually(lambda: bot_qty(node) > 0 and not node.orders.open)


async def test_an_emergency_stopped_bot_closes_its_position_but_cannot_enter(tmp_path):
    async with seeded_exchange() as ex, live_alpha(tmp_path, ex, native=False) as node:
        http, h = _api(node)
        await _filled_entry(node)
        stop = await http.post("/api/v1/safety/emergency-stop", json={"reason": "drill"},
                               headers=h)  # fmt: skip
        assert stop.status_code == 200 and stop.json()["enabled"] is False, stop.text
        entry = await _trade(http, h, "buy")
        assert entry["approved"] is False and entry["codes"][0] == "BOT_DISABLED"
        assert "may close its positions" in entry["reasons"][0]
        held = bot_qty(node)
        close = await _trade(http, h, "sell", reduce_only=True)
        assert close["status"] == "submitted" and close["reducing"] is True, close
        assert D(close["amount"]) <= held
        await eventually(lambda: node.orders.orders[close["client_order_id"]].status
                         is OrderStatus.FILLED)  # fmt: skip
        # what the close leaves is dust below the lot step, never a short
        assert D(0) <= bot_qty(node) < D("0.00001")
        # With nothing left to close, a second "close" would open a short: refused, not sent.
        before = len(node.orders.orders)
        again = await _trade(http, h, "sell", reduce_only=True)
        assert again["approved"] is False and "BOT_NOT_REDUCING" in again["codes"], again
        assert "would open a position" in " ".join(again["reasons"])
        assert len(node.orders.orders) == before
        await http.aclose()


async def test_a_reduce_only_trade_on_the_side_of_the_position_is_refused(tmp_path):
    async with seeded_exchange() as ex, live_alpha(tmp_path, ex, native=False) as node:
        http, h = _api(node)
        await _filled_entry(node)
        before = len(node.orders.orders)
        grow = await _trade(http, h, "buy", reduce_only=True)
        assert grow["approved"] is False and grow["codes"][0] == "BOT_NOT_REDUCING", grow
        assert f"holds {bot_qty(node)}" in grow["reasons"][0]
        # the flag must be a JSON boolean: a string is refused with the field named
        body = {"bot_id": "alpha", "symbol": "BTC/USDT", "side": "sell", "reduce_only": "yes"}
        bad = await http.post("/api/v1/safety/validate-trade", json=body, headers=h)
        assert bad.status_code == 422 and "reduce_only" in bad.text, bad.text
        assert len(node.orders.orders) == before
        await http.aclose()


async def test_the_emergency_stop_keeps_the_exits_resting_on_the_venue(tmp_path):
    async with seeded_exchange() as ex, live_alpha(tmp_path, ex) as node:
        http, h = _api(node)
        await enter(node, stop_loss_pct="2", take_profit_pct="5")
        await eventually(lambda: KEY in node.bot_exits.plans
                         and len(node.bot_exits.plans[KEY].native_orders) == 2)  # fmt: skip
        resting = set(node.bot_exits.plans[KEY].native_orders)
        stop = await http.post("/api/v1/safety/emergency-stop", json={}, headers=h)
        assert stop.status_code == 200, stop.text
        assert set(stop.json()["closes_kept"]) == resting and stop.json()["cancelled"] == []
        assert resting <= set(node.orders.open)
        # the stopped bot's own close still works: it lifts the exits resting, then sells
        out = await _trade(http, h, "sell")
        assert out["status"] == "submitted", out
        await eventually(lambda: bot_qty(node) < D("0.00001") and not node.orders.open)
        await http.aclose()

"""Under a loss limit's REDUCING (`risk.on_loss_halt = "reduce"`) a bot may close its position
but not open one: the entry is refused with the state's reason, the close is sent and fills.
Through the API against the sandbox venue (real ccxt)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from native_exits_support import bot_qty, live_alpha
from test_bots_disabled_close import _api, _filled_entry, _trade
from tradeguard.model.enums import OrderStatus, TradingState
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


async def test_a_bot_closes_but_cannot_enter_after_a_drawdown_reduce(tmp_path):
    async with seeded_exchange() as ex, live_alpha(tmp_path, ex, native=False) as node:
        node.risk.config.on_loss_halt = "reduce"
        http, h = _api(node)
        await _filled_entry(node)
        risk, now = node.risk, node.clock.now_ms()
        equity = node.portfolio.equity()
        risk.observe_equity(now, equity * 2)  # the peak: twice the equity now
        risk.observe_equity(now + 1, equity)  # 50% below it: the drawdown limit trips
        assert risk.state is TradingState.REDUCING and risk.state_by == "breaker:drawdown"
        held = bot_qty(node)
        close = await _trade(http, h, "sell", reduce_only=True)
        assert close["status"] == "submitted" and close["reducing"] is True, close
        assert D(close["amount"]) <= held
        await eventually(lambda: node.orders.orders[close["client_order_id"]].status
                         is OrderStatus.FILLED)  # fmt: skip
        assert D(0) <= bot_qty(node) < D("0.00001")
        entry = await _trade(http, h, "buy")  # holding nothing now: only the state refuses it
        assert entry["approved"] is False and "TRADING_REDUCING" in entry["codes"], entry
        assert "equity peak" not in " ".join(entry["reasons"]), entry["reasons"]
        # the bot's own status says which mode tripped and what it did, not the account's figures
        state = (await http.get("/api/v1/safety/status", headers=h)).json()
        assert state["loss_halt"]["mode"] == "reduce" and state["loss_halt"]["holds"], state
        assert state["loss_halt"]["did"].startswith("REDUCING"), state
        assert "reason" not in state["loss_halt"], state
        await http.aclose()

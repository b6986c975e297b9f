"""The sandbox's account histories as Binance documents them: myTrades weighs 20, but 5 with
`orderId`; allOrders refuses a startTime and endTime more than 24 hours apart (-1127)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY

DAY = 86_400_000
S = "BTC/USDT"


def _used(client: Any) -> int:
    headers = {str(k).lower(): v for k, v in (client.last_response_headers or {}).items()}
    return int(headers["x-mbx-used-weight-1m"])


def _order_id(ex: SandboxExchange) -> str:
    account = ex.auth.keys[ALICE_KEY].account_id
    placed = ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", ex.now_ms(), qty=Decimal("0.001"))
    assert placed.order is not None
    return str(placed.order.order_id)


async def test_my_trades_weighs_5_with_an_order_id_and_20_without(
    ex: SandboxExchange, client: Any
) -> None:
    oid = _order_id(ex)
    await client.fetch_my_trades(S)
    before = _used(client)
    rows = await client.fetch_my_trades(S, None, None, {"orderId": oid})
    assert [r["order"] for r in rows] == [oid]
    assert _used(client) - before == 5
    before = _used(client)
    await client.fetch_my_trades(S)
    assert _used(client) - before == 20


async def test_all_orders_refuses_a_window_over_a_day(ex: SandboxExchange, client: Any) -> None:
    _order_id(ex)
    now = client.milliseconds()
    with pytest.raises(ccxt.BadRequest, match="-1127"):
        await client.fetch_orders(S, now - DAY - 1, None, {"endTime": now})
    rows = await client.fetch_orders(S, now - DAY, None, {"endTime": now})
    assert len(rows) == 1

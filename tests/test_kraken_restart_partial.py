"""A Kraken order partly filled, its first fill found by the venue's polling and booked, the node
SIGKILLed, the order filled further while it was down: each start books every fill once."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from rigs import killed_child
from running_support import started_clean
from test_kraken_node import _config, _kraken_venue, _totals, vault  # noqa: F401
from tradeguard.model import OrderStatus
from tradeguard.sandbox.kraken.testing import CAROL_KEY, seeded_kraken
from tradeguard.sandbox.testing import eventually

CHILD = Path(__file__).with_name("kraken_partial_child.py")
D = Decimal


@pytest.mark.usefixtures("vault")
async def test_a_partial_fill_polled_before_a_sigkill_is_booked_once_across_restarts(
    tmp_path: Path,
) -> None:
    async with seeded_kraken() as kx:
        cfg = _config(tmp_path, [_kraken_venue(kx)])
        child = asyncio.create_task(killed_child(CHILD, tmp_path, cfg, timeout_s=180))
        account = kx.account_id(CAROL_KEY)
        await eventually(lambda: bool(kx.engine.open_orders(account)) or child.done(), 120)
        assert not child.done(), child.result()
        kx.trade_through("BTC/USD", "SELL", "50000", "0.0005")
        await child  # it died once the fill was booked
        kx.trade_through("BTC/USD", "SELL", "50000", "0.001")  # while the node is down
        for _restart in range(2):
            async with started_clean(cfg) as node:
                fills = node.storage.load_fills(venue="kraken")
                assert sorted(f.trade_id for f in fills) == ["TSBX-00000001", "TSBX-00000002"]
                assert sum((f.amount for f in fills), D(0)) == D("0.0015")
                [order] = node.storage.load_orders(venue="kraken")
                assert (order.status, order.filled) == (OrderStatus.PARTIALLY_FILLED, D("0.0015"))
                stored = {b.asset: b.total for b in node.storage.load_balances("kraken")}
                assert {a: q for a, q in stored.items() if q} == _totals(kx, CAROL_KEY)
                assert node.storage.load_balance_adjustments("kraken") == []

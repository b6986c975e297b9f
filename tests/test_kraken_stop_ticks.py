"""Trigger prices of native Kraken stops against the pair's tick: a trigger off the tick is
refused by the node's venue before sending, as a limit price is, instead of being rounded by
ccxt to `pair_decimals` (a stop resting at another price than the one journaled)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_support import carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY

D = Decimal


def _stop(cid: str, symbol: str, trigger: str, limit: str | None) -> Order:
    type_ = OrderType.STOP_LOSS_LIMIT if limit else OrderType.STOP_LOSS
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol=symbol, side=Side.SELL, amount=D("0.01"),
        type=type_, trigger_price=D(trigger), time_in_force=TimeInForce.GTC,
        price=D(limit) if limit else None, reduce_only=True,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


@pytest.mark.parametrize(
    ("symbol", "trigger", "limit"),
    [
        ("BTC/USD", "48999.987", None),  # finer than ccxt's pair_decimals: it would round
        ("BTC/USD", "48999.987", "48900"),
        ("ETH/USD", "2900.1", None),  # on pair_decimals, off the 0.25 tick
        ("ETH/USD", "2900.1", "2899.75"),
    ],
)
async def test_an_off_tick_trigger_is_refused_before_sending(
    kx: KrakenSandbox, symbol: str, trigger: str, limit: str | None
) -> None:
    kx.add_market("ETH/USD", "ETH", "USD", "0.25", "0.0001", "0.001", "0.5")
    kx.set_book("ETH/USD", bids=[("2999.75", "5")], asks=[("3000.25", "5")])
    async with carol_venue(kx) as venue:
        with pytest.raises(DefinitiveVenueError, match=f"trigger.*{trigger}.*tick"):
            await venue.submit(_stop("tg0trig00001-1", symbol, trigger, limit))
    assert kx.engine.open_orders(kx.account_id(CAROL_KEY)) == []  # never sent

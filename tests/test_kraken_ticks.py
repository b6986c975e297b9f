"""A Kraken pair whose tick is not a power of ten (AssetPairs `tick_size` 0.25, `pair_decimals`
2): the node's Kraken venue takes the tick from `tick_size`, so it refuses an off-tick price
before sending and a price on the tick rests on the sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_support import carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY

D = Decimal


def _buy(cid: str, price: str) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="ETH/USD", side=Side.BUY, amount=D("0.01"),
        type=OrderType.LIMIT, price=D(price), time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


async def test_a_quarter_tick_comes_from_tick_size_not_pair_decimals(kx: KrakenSandbox) -> None:
    kx.add_market("ETH/USD", "ETH", "USD", "0.25", "0.0001", "0.001", "0.5")
    kx.set_book("ETH/USD", bids=[("2999.75", "5")], asks=[("3000.25", "5")])
    async with carol_venue(kx) as venue:
        market = venue.client.market("ETH/USD")
        assert market["precision"]["price"] == 0.01  # what ccxt made of pair_decimals
        inst = venue.instruments["ETH/USD"]
        assert inst.price_tick == D("0.25")
        with pytest.raises(DefinitiveVenueError, match="tick"):
            await venue.submit(_buy("tg0tick00001-1", "2900.1"))
        assert kx.engine.open_orders(kx.account_id(CAROL_KEY)) == []  # never sent
        report = await venue.submit(_buy("tg0tick00002-1", "2900.75"))
        assert report.status is OrderStatus.ACCEPTED
        [resting] = kx.engine.open_orders(kx.account_id(CAROL_KEY))
        assert resting.price == D("2900.75")

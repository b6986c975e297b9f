"""AddOrder's numbers on the Kraken sandbox are plain decimals: Python's Decimal also reads
`4_9000`, ` 49000 ` and `4.9E4`, which Kraken does not take; each is refused naming the field
and nothing rests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt
import pytest

from tradeguard.sandbox.kraken.client import make_kraken_client
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET


@pytest.fixture
async def carol(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, CAROL_KEY, CAROL_SECRET)
    await c.load_markets()
    yield c
    await c.close()


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"ordertype": "stop-loss", "price": "4_9000"}, "price"),
        ({"ordertype": "stop-loss-limit", "price": "49000", "price2": "48_900"}, "price2"),
        ({"ordertype": "stop-loss", "price": " 49000 "}, "price"),
        ({"ordertype": "limit", "price": "4.9E4"}, "price"),
        ({"ordertype": "limit", "price": "49000", "volume": "0_01"}, "volume"),
        ({"ordertype": "limit", "price": "49000\n"}, "price"),
    ],
)  # fmt: skip
async def test_numbers_beyond_plain_decimals_are_refused(
    kx: KrakenSandbox, carol: Any, fields: dict[str, str], name: str
) -> None:
    request = {"pair": "XBTUSD", "type": "sell", "volume": "0.01", **fields}
    with pytest.raises(ccxt.ExchangeError, match=f"EGeneral:Invalid arguments:{name}"):
        await carol.private_post_addorder(request)
    assert kx.engine.open_orders(kx.account_id(CAROL_KEY)) == []

"""AddOrder's `userref` takes a whole number in ASCII digits: int() also read "٣" as 3, "1_0"
as 10 and " 7" as 7, so such an order was placed under a reference no client sent."""

from __future__ import annotations

import time

import pytest

from test_kraken_sandbox import _signed
from tradeguard.sandbox.kraken.testing import KrakenSandbox

ORDER = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01", "price": "40000"}


@pytest.mark.parametrize("ref", ["\u0663", "1_0", " 7", "+7", "\uff17"])
async def test_a_userref_not_in_ascii_digits_is_refused_and_places_nothing(
    kx: KrakenSandbox, ref: str
) -> None:
    doc = await _signed(kx, "/0/private/AddOrder", time.time_ns(), {**ORDER, "userref": ref})
    assert doc["error"] == ["EGeneral:Invalid arguments:userref"], doc
    opened = await _signed(kx, "/0/private/OpenOrders", time.time_ns(), {})
    assert opened["result"]["open"] == {}


async def test_a_userref_in_ascii_digits_is_kept(kx: KrakenSandbox) -> None:
    doc = await _signed(kx, "/0/private/AddOrder", time.time_ns(), {**ORDER, "userref": "-42"})
    assert doc["error"] == [], doc
    opened = await _signed(kx, "/0/private/OpenOrders", time.time_ns(), {})
    assert [o["userref"] for o in opened["result"]["open"].values()] == [-42]

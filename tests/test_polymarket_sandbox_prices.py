"""The official client's public price calls (midpoint, price, spread) against our local CLOB."""

from __future__ import annotations

import asyncio

import pytest
from py_clob_client_v2.exceptions import PolyApiException

from test_polymarket_sandbox import NO_TOKEN, YES_TOKEN, started
from tradeguard.sandbox.polymarket.server import PolymarketExchange


async def test_official_client_reads_midpoint_price_and_spread_of_both_tokens():
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)  # YES bid 0.45, ask 0.47

        def read(token: str) -> tuple:
            return (client.get_midpoint(token), client.get_price(token, "BUY"),
                    client.get_price(token, "SELL"), client.get_spread(token))  # fmt: skip

        yes, no = await asyncio.gather(
            asyncio.to_thread(read, YES_TOKEN), asyncio.to_thread(read, NO_TOKEN)
        )
    # BUY is the best bid, SELL the best ask (as the venue documents it)
    assert yes == ({"mid": "0.46"}, {"price": "0.45"}, {"price": "0.47"}, {"spread": "0.02"})
    assert no == ({"mid": "0.54"}, {"price": "0.53"}, {"price": "0.55"}, {"spread": "0.02"})


async def test_a_price_of_an_unknown_token_or_an_empty_side_is_a_404():
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)
        ex.add_market("quiet", "11", "12")  # no order rests on it
        with pytest.raises(PolyApiException) as empty:
            await asyncio.to_thread(client.get_midpoint, "11")
        with pytest.raises(PolyApiException) as unknown:
            await asyncio.to_thread(client.get_price, "999", "BUY")
    assert empty.value.status_code == 404 and unknown.value.status_code == 404

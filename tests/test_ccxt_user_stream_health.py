from __future__ import annotations

import asyncio
from typing import Any

import ccxt.pro as ccxtpro

from tradeguard.clock import Clock
from tradeguard.venues.ccxt_venue import CcxtVenue
from tradeguard.venues.user_stream import UserStreamState


async def test_a_user_stream_the_exchange_does_not_offer_does_not_mark_the_connected_one_down() -> (
    None
):
    # Coinbase (as Gemini, Bitstamp, Alpaca...) streams orders but has no watchBalance or
    # watchMyTrades: those two raise NotSupported on every call.
    client = ccxtpro.coinbase({"apiKey": "k", "secret": "s"})
    assert client.has.get("watchOrders") and not client.has.get("watchBalance")
    venue = CcxtVenue("cb", lambda: client, Clock(), ws_backoff_s=0.05, ws_backoff_max_s=0.1)
    venue.user_stream = UserStreamState()
    venue._user_socket_open = lambda: True  # type: ignore[method-assign]  # the orders socket

    async def orders() -> list[Any]:
        await asyncio.sleep(0.05)
        return []

    tasks = [
        asyncio.create_task(venue._watch("orders", orders, lambda _: None)),
        asyncio.create_task(venue._watch("myTrades", client.watch_my_trades, lambda _: None)),
        asyncio.create_task(venue._watch("balance", client.watch_balance, lambda _: None)),
        asyncio.create_task(venue._watch_socket(every_s=0.02)),
    ]
    try:
        seen = []
        for _ in range(40):
            await asyncio.sleep(0.025)
            seen.append(venue.user_stream.to_json(0)["state"])
        assert seen[-10:] == ["connected"] * 10, seen
        assert venue.user_stream.reconnects == 0
    finally:
        venue._closing = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()

"""The Kraken venue's two ccxt clients on one API key (REST, and the private streams' own, which
asks for websocket tokens): Kraken refuses a nonce not above the key's last one, so concurrent
private calls of the two must never refuse each other's."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.pro as ccxt

from kraken_support import carol_venue
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY


async def test_the_sandbox_refuses_a_nonce_not_above_the_keys_last(kx: KrakenSandbox) -> None:
    async with carol_venue(kx) as venue:
        key = kx.kraken_keys.keys[CAROL_KEY]
        await venue.client.fetch_balance()
        last = key.last_nonce
        client = venue.client
        real = client.nonce
        client.nonce = lambda: last  # the same nonce again (ccxt's own counter forgotten)
        client.options["lastNonce"] = 0
        try:
            await client.fetch_balance()
        except ccxt.InvalidNonce as exc:
            assert "EAPI:Invalid nonce" in str(exc)
        else:
            raise AssertionError("a nonce equal to the key's last was taken")
        finally:
            client.nonce = real
        assert key.last_nonce == last


async def test_concurrent_private_calls_of_both_clients_are_never_refused(
    kx: KrakenSandbox,
) -> None:
    async with carol_venue(kx) as venue:
        refused: list[str] = []

        async def many(call: Any) -> None:
            for _ in range(30):
                try:
                    await call()
                except ccxt.InvalidNonce as exc:
                    refused.append(str(exc))

        rest, stream = venue.client, venue.user_client
        await asyncio.gather(
            many(rest.fetch_balance),
            many(rest.fetch_open_orders),
            many(stream.private_post_getwebsocketstoken),
            many(stream.private_post_getwebsocketstoken),
        )
        assert refused == []

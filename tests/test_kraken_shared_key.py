"""Two Kraken venues of one node on one API key (two [[venues]] entries naming the same
credentials): Kraken refuses a nonce not above the key's last one, so their requests must not
refuse each other's."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tradeguard.clock import Clock
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue


async def test_two_venues_on_one_key_do_not_refuse_each_others_requests() -> None:
    async with seeded_kraken() as kx:
        venues = []
        for name in ("kraken-a", "kraken-b"):
            factory = ccxt_client_factory(
                "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
            )
            venues.append(KrakenCcxtVenue(name, factory, Clock(), stream_user_data=False))
        for v in venues:
            await v.load_instruments()
        refused: list[str] = []

        async def balances(v: KrakenCcxtVenue) -> None:
            for _ in range(25):
                try:
                    got = {b.asset: b.total for b in await v.fetch_balances()}
                    assert got["USD"] == Decimal("100000")
                except AmbiguousVenueError as exc:
                    refused.append(str(exc))

        try:
            await asyncio.gather(*(balances(v) for v in venues))
        finally:
            for v in venues:
                await v.close()
        assert refused == []


async def test_a_nonce_refused_because_another_client_was_ahead_is_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Another process on the key (or a clock a little ahead) used a nonce above ours: Kraken
    # refuses before executing anything, so the request is safe to send again with a new one.
    async with seeded_kraken() as kx:
        factory = ccxt_client_factory(
            "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
        )
        v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
        try:
            await v.load_instruments()
            key = kx.kraken_keys.keys[CAROL_KEY]
            key.last_nonce = max(key.last_nonce, kx.now_ms()) + 300
            got = {b.asset: b.total for b in await v.fetch_balances()}
            assert got["USD"] == Decimal("100000")
            assert [op for op, _ in v.backoffs] == ["fetch_balances"]
            said = [r.getMessage() for r in caplog.records if "fetch_balances" in r.getMessage()]
            assert len(said) == 1 and "refused for its nonce" in said[0], said
            assert "rate-limited" not in said[0]  # a nonce retry is no rate limit
        finally:
            await v.close()

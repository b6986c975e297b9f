"""Kraken's private stream needs a token from REST (GetWebSocketsToken), signed with a nonce the
key must not have used: refused for its nonce (another client of the key was ahead), the token
request is sent again with a new one, a bounded number of times, and the stream comes up
without counting as dropped; refused every time, it fails with an error saying so."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kraken_support import Reports
from tradeguard.clock import Clock
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue


class AheadOfUs:
    """The stream client's nonce: its first `stale` draws are the key's last nonce (as when
    another client of the key drew a higher one first), which the sandbox refuses."""

    def __init__(self, client: Any, kx: KrakenSandbox, stale: int) -> None:
        self.key = kx.kraken_keys.keys[CAROL_KEY]
        self.key.last_nonce = max(self.key.last_nonce, 1)  # the other client's, a nonce taken
        self.stale = stale
        self.draws = 0
        self.client = client
        self._real = client.nonce
        client.nonce = self

    def __call__(self) -> int:
        self.draws += 1
        if self.stale > 0:
            self.stale -= 1
            self.client.options["lastNonce"] = 0  # ccxt's own counter would lift it above
            return int(self.key.last_nonce)
        return int(self._real())


@asynccontextmanager
async def streaming(
    kx: KrakenSandbox, stale: int, backoff_s: float = 0.05
) -> AsyncIterator[tuple[KrakenCcxtVenue, Any]]:
    factory = ccxt_client_factory(
        "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
    )
    venue = KrakenCcxtVenue(
        "kraken", factory, Clock(), stream_user_data=True, max_rate_limit_retries=2,
        ws_backoff_s=backoff_s, ws_backoff_max_s=backoff_s,
    )  # fmt: skip
    venue.order_poll_s = 3600
    nonces = AheadOfUs(venue.user_client, kx, stale)
    venue.set_listener(Reports())  # type: ignore[arg-type]
    await venue.connect()
    try:
        yield venue, nonces
    finally:
        await venue.close()


async def test_a_token_refused_for_its_nonce_is_asked_again_and_the_stream_comes_up(
    kx: KrakenSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tradeguard")
    async with streaming(kx, stale=1) as (venue, nonces):
        await eventually(venue.stream_live, timeout_s=15)
        assert nonces.stale == 0
        assert nonces.draws == 2  # refused once, then a new nonce
        assert [op for op, _ in venue.backoffs] == ["ws_token"]
        # asked again in place: no stream counted as dropped, none resubscribed
        assert venue.reconnects == 0
        assert "stream failed" not in caplog.text
        assert "ws_token refused for its nonce" in caplog.text


async def test_a_token_refused_every_time_fails_with_a_clear_error(
    kx: KrakenSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tradeguard")
    # the watches, failed, wait long before subscribing again: one round of token requests
    async with streaming(kx, stale=10**6, backoff_s=60) as (venue, nonces):
        await eventually(lambda: "stream failed" in caplog.text, timeout_s=15)
        assert not venue.stream_live()
        failed = [r.getMessage() for r in caplog.records if "stream failed" in r.getMessage()]
        assert "ws_token refused for its nonce 3 times in a row" in failed[0], failed[0]
        assert CAROL_SECRET not in caplog.text
        assert nonces.draws == 3  # the attempts the retries allow, not an endless loop
        assert [op for op, _ in venue.backoffs] == ["ws_token"] * 3  # each refusal paused

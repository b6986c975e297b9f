"""The ccxt Kraken venue on the Kraken sandbox, as Carol, and a listener keeping what it reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fill_sink import Reports
from tradeguard.clock import Clock
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue


@asynccontextmanager
async def carol_venue(kx: KrakenSandbox, **kw: Any) -> AsyncIterator[KrakenCcxtVenue]:
    """Carol's connected venue (no user stream unless `stream_user_data=True`; `kw` for
    KrakenCcxtVenue's other options)."""
    factory = ccxt_client_factory(
        "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
    )
    kw.setdefault("stream_user_data", False)
    v = KrakenCcxtVenue("kraken", factory, Clock(), **kw)
    await v.connect()
    try:
        yield v
    finally:
        await v.close()


__all__ = ["Reports", "carol_venue"]

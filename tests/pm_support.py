"""Shared helpers for the prediction-market tests: RSA keys, a seeded local Kalshi, a signed
socket to it and the message of a venue call's ambiguous error."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from decimal import Decimal

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.venues.kalshi.signing import sign as kalshi_sign

TICKER = "KXFED-26DEC-T4.00"


async def ambiguous_message(call: Awaitable[object]) -> str:
    """The message of the AmbiguousVenueError a venue call raises (it must raise one)."""
    with pytest.raises(AmbiguousVenueError) as err:
        await call
    return str(err.value)


def rsa_pem() -> tuple[str, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key


def seeded_kalshi(ex: KalshiExchange, cash: str = "1000") -> tuple[str, str]:
    """Add one market with house liquidity and a funded account; return (key_id, pem)."""
    ex.add_market(TICKER, "KXFED-26DEC", "Fed funds above 4.00% in December?")
    ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    pem, key = rsa_pem()
    key_id = ex.add_account(key.public_key(), Decimal(cash))
    return key_id, pem


def kalshi_ws_headers(key_id: str, pem: str) -> dict[str, str]:
    """The signed headers of a websocket handshake to the local Kalshi, signed now."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    now = str(int(time.time() * 1000))
    return {
        "KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": now,
        "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, now, "GET", "/trade-api/ws/v2"),
    }  # fmt: skip


@asynccontextmanager
async def kalshi_socket(
    ex: KalshiExchange, key_id: str, pem: str
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A websocket to the local Kalshi, signed in as the account (key_id, pem)."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ex.ws_url, headers=kalshi_ws_headers(key_id, pem)) as ws,
    ):
        yield ws

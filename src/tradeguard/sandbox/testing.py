"""Helpers for tests that drive the sandbox: a seeded exchange and a bounded `eventually`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange

ALICE_KEY = "alice-key"
ALICE_SECRET = "alice-secret"
BOB_KEY = "bob-key"
BOB_SECRET = "bob-secret"

_Exchange = TypeVar("_Exchange", bound=SandboxExchange)


def seeded_exchange(config: SandboxConfig | None = None) -> SandboxExchange:
    """An unstarted exchange with BTCUSDT, a house book around 50,000 and two funded accounts."""
    accounts = ((ALICE_KEY, ALICE_SECRET), (BOB_KEY, BOB_SECRET))
    filters = ("0.01", "0.00001", "0.00001", "5")
    return seed_btc(
        SandboxExchange(config or SandboxConfig()), "BTCUSDT", "USDT", filters, accounts
    )


def seed_btc(
    ex: _Exchange,
    symbol: str,
    quote: str,
    filters: tuple[str, str, str, str],
    accounts: tuple[tuple[str, str], ...],
) -> _Exchange:
    """List `symbol` (BTC in `quote`, `filters` as tick, step, min_qty, min_notional), fund each
    (key, secret) account with 100,000 `quote` and 1 BTC and quote a house book around 50,000."""
    ex.add_market(symbol, "BTC", quote, *filters)
    for key, secret in accounts:
        ex.add_account(key, secret, {quote: Decimal("100000"), "BTC": Decimal("1")})
    ex.set_book(
        symbol,
        bids=[("49999", "1"), ("49998", "2")],
        asks=[("50001", "1"), ("50002", "2")],
    )
    return ex


async def eventually(
    predicate: Callable[[], bool], timeout_s: float = 5.0, interval_s: float = 0.01
) -> None:
    """Poll `predicate` until it holds; fail with AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)

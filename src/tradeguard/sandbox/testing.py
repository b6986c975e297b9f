"""Helpers for tests that drive the sandbox: a seeded exchange and a bounded `eventually`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange

ALICE_KEY = "alice-key"
ALICE_SECRET = "alice-secret"
BOB_KEY = "bob-key"
BOB_SECRET = "bob-secret"


def seeded_exchange(config: SandboxConfig | None = None) -> SandboxExchange:
    """An unstarted exchange with BTCUSDT, a house book around 50,000 and two funded accounts."""
    ex = SandboxExchange(config or SandboxConfig())
    ex.add_market("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")})
    ex.add_account(BOB_KEY, BOB_SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")})
    ex.set_book(
        "BTCUSDT",
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

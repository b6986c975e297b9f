"""A seeded Kraken sandbox for tests: BTC/USD around 50,000 and two funded accounts."""

from __future__ import annotations

import base64
from decimal import Decimal

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.kraken.server import KrakenSandbox

CAROL_KEY = "carol-kraken-key"
CAROL_SECRET = base64.b64encode(b"carol-kraken-secret-" * 3).decode()
DAVE_KEY = "dave-kraken-key"
DAVE_SECRET = base64.b64encode(b"dave-kraken-secret-" * 3).decode()


def seeded_kraken(config: SandboxConfig | None = None) -> KrakenSandbox:
    """An unstarted Kraken sandbox with BTC/USD, a house book around 50,000, Carol and Dave."""
    ex = KrakenSandbox(config or SandboxConfig())
    ex.add_market("BTC/USD", "BTC", "USD", "0.1", "0.00000001", "0.0001", "0.5")
    ex.add_account(CAROL_KEY, CAROL_SECRET, {"USD": Decimal("100000"), "BTC": Decimal("1")})
    ex.add_account(DAVE_KEY, DAVE_SECRET, {"USD": Decimal("100000"), "BTC": Decimal("1")})
    ex.set_book(
        "BTC/USD",
        bids=[("49999", "1"), ("49998", "2")],
        asks=[("50001", "1"), ("50002", "2")],
    )
    return ex

"""A seeded Kraken sandbox for tests: BTC/USD around 50,000 and two funded accounts."""

from __future__ import annotations

import base64

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.testing import seed_btc

CAROL_KEY = "carol-kraken-key"
CAROL_SECRET = base64.b64encode(b"carol-kraken-secret-" * 3).decode()
DAVE_KEY = "dave-kraken-key"
DAVE_SECRET = base64.b64encode(b"dave-kraken-secret-" * 3).decode()


def seeded_kraken(config: SandboxConfig | None = None) -> KrakenSandbox:
    """An unstarted Kraken sandbox with BTC/USD, a house book around 50,000, Carol and Dave."""
    accounts = ((CAROL_KEY, CAROL_SECRET), (DAVE_KEY, DAVE_SECRET))
    filters = ("0.1", "0.00000001", "0.0001", "0.5")
    ex = KrakenSandbox(config or SandboxConfig())
    return seed_btc(ex, "BTC/USD", "USD", filters, accounts)

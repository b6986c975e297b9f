"""Point the real `ccxt` Kraken client at a Kraken sandbox (REST, public and private websocket v2).

Every REST base and the public websocket v2 go to the sandbox, every other websocket base to a
loopback path that answers 404, so a stray call fails on 127.0.0.1 instead of reaching Kraken.
"""

from __future__ import annotations

from typing import Any

import ccxt.pro as ccxtpro

from tradeguard.sandbox.kraken.server import WS_AUTH_PATH, WS_PATH

_WS_KEYS = ("public", "private", "privateV2", "publicV2", "beta", "beta-private")


def kraken_urls(base_url: str) -> dict[str, Any]:
    """The `urls['api']` mapping that sends every ccxt.kraken call to the sandbox: public
    and private websockets v2 included, the other websocket bases to a path that answers 404."""
    base = base_url.rstrip("/")
    ws = base.replace("http", "ws", 1) + "/ws/unsupported"
    bases = {key: f"{ws}-{key}" for key in _WS_KEYS}
    bases["publicV2"] = base.replace("http", "ws", 1) + WS_PATH
    bases["privateV2"] = base.replace("http", "ws", 1) + WS_AUTH_PATH
    return {
        "public": base,
        "private": base,
        "zendesk": f"{base}/unsupported/zendesk",
        "ws": bases,
    }


def make_kraken_client(base_url: str, api_key: str, secret: str, timeout_ms: int = 10_000) -> Any:
    """A `ccxt.pro.kraken` wired to the sandbox at `base_url`; close it after use."""
    client = ccxtpro.kraken(
        {
            "apiKey": api_key,
            "secret": secret,
            "timeout": timeout_ms,
            "enableRateLimit": False,
            "options": {"fetchCurrencies": False, "adjustForTimeDifference": False},
        }
    )
    client.urls["api"] = kraken_urls(base_url)
    return client

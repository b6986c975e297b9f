"""Point the real `ccxt` Kraken client at a Kraken sandbox (REST; websockets stay on loopback).

Every REST base goes to the sandbox and every websocket base to a loopback path that answers
404, so a stray call fails on 127.0.0.1 instead of reaching Kraken.
"""

from __future__ import annotations

from typing import Any

import ccxt.pro as ccxtpro

_WS_KEYS = ("public", "private", "privateV2", "publicV2", "beta", "beta-private")


def kraken_urls(base_url: str) -> dict[str, Any]:
    """The `urls['api']` mapping that sends every ccxt.kraken call to the sandbox."""
    base = base_url.rstrip("/")
    ws = base.replace("http", "ws", 1) + "/ws/unsupported"
    return {
        "public": base,
        "private": base,
        "zendesk": f"{base}/unsupported/zendesk",
        "ws": {key: f"{ws}-{key}" for key in _WS_KEYS},
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

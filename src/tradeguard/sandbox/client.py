"""Point the real `ccxt` Binance client at a sandbox exchange.

Options set, and why:
- `defaultType: spot` and `fetchMarkets: ['spot']`: `load_markets` then calls only
  `GET /api/v3/exchangeInfo` (no futures, options or margin endpoints);
- `fetchCurrencies: False`: skips `sapi/v1/capital/config/getall`, which the sandbox lacks;
- `fetchMargins: False`: no margin pair lists;
- every REST base in `urls['api']` points at the sandbox, so a stray call fails loudly on
  127.0.0.1 (404) instead of reaching a real host;
- `ws.spot` is the market/listen-key stream base and `ws.ws-api.spot` the WebSocket API, where
  ccxt.pro subscribes to the spot user data stream with `userDataStream.subscribe.signature`.
"""

from __future__ import annotations

from typing import Any

import ccxt.pro as ccxtpro

from tradeguard.sandbox.server import SandboxExchange

_REST_KEYS = (
    "sapiV2",
    "sapiV3",
    "sapiV4",
    "dapiPublic",
    "dapiPrivate",
    "dapiPrivateV2",
    "dapiData",
    "eapiPublic",
    "eapiPrivate",
    "fapiPublic",
    "fapiPublicV2",
    "fapiPublicV3",
    "fapiPrivate",
    "fapiPrivateV2",
    "fapiPrivateV3",
    "fapiData",
    "papi",
    "papiV2",
)


def sandbox_urls(sandbox: SandboxExchange) -> dict[str, Any]:
    """The `urls['api']` mapping that sends every ccxt.binance call to the sandbox."""
    base = sandbox.base_url
    urls: dict[str, Any] = {key: f"{base}/unsupported/{key}" for key in _REST_KEYS}
    urls.update(
        {
            "public": sandbox.rest_url,
            "private": sandbox.rest_url,
            "v3": sandbox.rest_url,
            "v1": f"{base}/api/v1",
            "sapi": sandbox.sapi_url,
            "ws": {
                "spot": sandbox.ws_url,
                "margin": sandbox.ws_url,
                "linear": f"{sandbox.ws_url}/unsupported-linear",
                "inverse": f"{sandbox.ws_url}/unsupported-inverse",
                "papi": f"{sandbox.ws_url}/unsupported-papi",
                "ws-api": {
                    "spot": sandbox.ws_api_url,
                    "linear": f"{sandbox.ws_api_url}/unsupported-linear",
                    "inverse": f"{sandbox.ws_api_url}/unsupported-inverse",
                },
            },
        }
    )
    return urls


def ccxt_config_for(
    sandbox: SandboxExchange,
    api_key: str,
    secret: str,
    enable_rate_limit: bool = True,
    timeout_ms: int = 10_000,
) -> dict[str, Any]:
    """The constructor config for `ccxt.binance` / `ccxt.pro.binance` against the sandbox."""
    return {
        "apiKey": api_key,
        "secret": secret,
        "enableRateLimit": enable_rate_limit,
        "timeout": timeout_ms,
        "options": {
            "defaultType": "spot",
            "fetchMarkets": ["spot"],
            "fetchCurrencies": False,
            "fetchMargins": False,
            "adjustForTimeDifference": False,
            "recvWindow": 5000,
        },
    }


def make_ccxt_client(
    sandbox: SandboxExchange,
    api_key: str,
    secret: str,
    enable_rate_limit: bool = True,
    timeout_ms: int = 10_000,
) -> Any:
    """Return a `ccxt.pro.binance` wired to the sandbox (REST and WebSocket); close it after use."""
    client = ccxtpro.binance(
        ccxt_config_for(sandbox, api_key, secret, enable_rate_limit, timeout_ms)
    )
    client.urls["api"] = sandbox_urls(sandbox)
    return client

"""ccxt.pro clients for a venue: spot-only options, the local sandboxes' URLs, testnet or live."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from decimal import localcontext
from typing import Any

from tradeguard.model.errors import ConfigError

ClientFactory = Callable[[], Any]

# Options that keep a spot account to spot endpoints, and keep ccxt from re-sending requests or
# rewriting market orders into quote-amount orders. `createMarketBuyOrderRequiresPrice` is left
# as each exchange has it: where it exists (Coinbase, OKX, Bybit, Gate, ...) a market buy is
# sized in the quote currency, and False there would spend the base amount as quote.
SPOT_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "fetchMarkets": ["spot"],
    "fetchCurrencies": False,
    "fetchMargins": False,
    "maxRetriesOnFailure": 0,
    "quoteOrderQty": False,
    "warnOnFetchOpenOrdersWithoutSymbol": False,
}


def local_urls(rest_url: str, ws_url: str | None = None) -> dict[str, Any]:
    """The `urls['api']` of a Binance-compatible exchange on `rest_url` (our local sandbox)."""
    base = rest_url.rstrip("/")
    for suffix in ("/api/v3", "/api"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    ws_base = (ws_url or base.replace("http", "ws", 1)).rstrip("/")
    for suffix in ("/ws",):
        if ws_base.endswith(suffix):
            ws_base = ws_base[: -len(suffix)]
    unsupported = (
        *("sapiV2", "sapiV3", "sapiV4", "dapiPublic", "dapiPrivate", "dapiPrivateV2"),
        *("dapiData", "eapiPublic", "eapiPrivate", "fapiPublic", "fapiPublicV2"),
        *("fapiPublicV3", "fapiPrivate", "fapiPrivateV2", "fapiPrivateV3", "fapiData"),
        *("papi", "papiV2"),
    )
    # Futures, options and margin bases point at a path that answers 404 on the local host, so a
    # stray call fails loudly instead of reaching a real exchange.
    urls: dict[str, Any] = {key: f"{base}/unsupported/{key}" for key in unsupported}
    urls.update(
        {
            "public": f"{base}/api/v3",
            "private": f"{base}/api/v3",
            "v3": f"{base}/api/v3",
            "v1": f"{base}/api/v1",
            "sapi": f"{base}/sapi/v1",
            "ws": {
                "spot": f"{ws_base}/ws",
                "margin": f"{ws_base}/ws",
                "linear": f"{ws_base}/ws/unsupported-linear",
                "inverse": f"{ws_base}/ws/unsupported-inverse",
                "papi": f"{ws_base}/ws/unsupported-papi",
                "ws-api": {
                    "spot": f"{ws_base}/ws-api/v3",
                    "linear": f"{ws_base}/ws-api/v3/unsupported-linear",
                    "inverse": f"{ws_base}/ws-api/v3/unsupported-inverse",
                },
            },
        }
    )
    return urls


KRAKEN_LOCAL_WS_PATH = "/kraken-ws/v2"  # where the local sandbox serves Kraken's websocket v2
KRAKEN_LOCAL_WS_AUTH_PATH = "/kraken-ws-auth/v2"  # and its authenticated websocket v2


def kraken_local_urls(rest_url: str, ws_url: str | None = None) -> dict[str, Any]:
    """The `urls['api']` of a Kraken-compatible exchange on `rest_url` (our local sandbox): its
    public websocket v2 at `ws_url` (default: the same host's `/kraken-ws/v2`), the
    authenticated one beside it (`/kraken-ws-auth/v2`), every other
    websocket base on a loopback path that answers 404."""
    base = rest_url.rstrip("/")
    if base.endswith("/0"):
        base = base[: -len("/0")]
    ws = base.replace("http", "ws", 1) + "/ws/unsupported"
    bases = {
        key: f"{ws}-{key}"
        for key in ("public", "private", "privateV2", "publicV2", "beta", "beta-private")
    }
    bases["publicV2"] = ws_url or base.replace("http", "ws", 1) + KRAKEN_LOCAL_WS_PATH
    private = bases["publicV2"]
    if private.endswith(KRAKEN_LOCAL_WS_PATH):
        private = private[: -len(KRAKEN_LOCAL_WS_PATH)] + KRAKEN_LOCAL_WS_AUTH_PATH
    else:
        private = base.replace("http", "ws", 1) + KRAKEN_LOCAL_WS_AUTH_PATH
    bases["privateV2"] = private
    return {
        "public": base,
        "private": base,
        "zendesk": f"{base}/unsupported/zendesk",
        "ws": bases,
    }


# Exchanges that refuse a request whose nonce is not above the last one its API key used.
NONCE_PER_KEY = {"kraken"}
_last_nonce: dict[str, int] = {}  # sha256 of an API key -> the last nonce drawn for it
_nonce_lock = threading.Lock()


def shared_nonce(api_key: str) -> Callable[[], int]:
    """A nonce (epoch ms, kept rising) that every client of `api_key` in this process draws
    from, so two venues on one key do not refuse each other's requests."""
    slot = hashlib.sha256(api_key.encode()).hexdigest()

    def nonce() -> int:
        with _nonce_lock:
            value = max(time.time_ns() // 1_000_000, _last_nonce.get(slot, 0) + 1)
            _last_nonce[slot] = value
            return value

    return nonce


def own_decimal_context(client: Any) -> Any:
    """`client` with its websocket messages handled in a decimal context of their own.

    ccxt's precision helpers (`currency_to_precision` adding up an order's fees in Binance's
    trade handler, for one) set half-up rounding and the Underflow trap on the context they run
    in. The socket's tasks run in a copy of the context variables of the task that opened it,
    and that copy holds the very decimal context object the node's own tasks hold: a stream
    message would change how the node rounds. Set before the client opens a socket (its
    sockets take `handle_message` when they are made)."""
    handle = client.handle_message

    def handle_message(ws: Any, message: Any) -> Any:
        with localcontext():
            return handle(ws, message)

    client.handle_message = handle_message
    return client


LOCAL_DIALECTS = {"binance": local_urls, "kraken": kraken_local_urls}


def ccxt_client_factory(
    exchange: str,
    credentials: Mapping[str, str] | None = None,
    *,
    sandbox: bool = True,
    rest_url: str | None = None,
    ws_url: str | None = None,
    timeout_ms: int = 10_000,
) -> ClientFactory:
    """Return a factory of `ccxt.pro.<exchange>` clients: local sandbox, testnet, or live."""
    import ccxt.pro as ccxtpro

    cls = getattr(ccxtpro, exchange, None)
    if cls is None:
        raise ConfigError(
            f"venue exchange={exchange!r} is not a ccxt.pro exchange; pick one of ccxt.pro's "
            "exchange ids (e.g. 'binance')"
        )
    if rest_url is not None and exchange not in LOCAL_DIALECTS:
        raise ConfigError(
            f"venue rest_url={rest_url!r} needs exchange='binance' or 'kraken' (the local "
            f"sandbox speaks their APIs), got exchange={exchange!r}"
        )
    creds = dict(credentials or {})

    def factory() -> Any:
        client = cls(
            {
                **creds,
                "timeout": timeout_ms,
                "enableRateLimit": False,
                "options": dict(SPOT_OPTIONS),
            }
        )
        if exchange in NONCE_PER_KEY and creds.get("apiKey"):
            client.nonce = shared_nonce(creds["apiKey"])
        if rest_url is not None:
            client.urls["api"] = LOCAL_DIALECTS[exchange](rest_url, ws_url)
        elif sandbox:
            client.set_sandbox_mode(True)  # the exchange's testnet
        return client

    return factory

"""Build the prediction-market venues (`kind = "kalshi"` / `"polymarket"`) from config.

Credentials are handed in by the caller (the node reads the vault); this module never opens it.
Kalshi needs the fields `key_id` and `private_key_pem`; Polymarket needs `private_key` and may
hold `api_key`, `secret` and `passphrase` from an earlier L1 derivation.
"""

from __future__ import annotations

from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.errors import ConfigError
from tradeguard.venues.base import Venue
from tradeguard.venues.paging import MAX_PAGES

KALSHI_URLS = {
    True: ("https://demo-api.kalshi.co/trade-api/v2", "wss://demo-api.kalshi.co/trade-api/ws/v2"),
    False: (
        "https://api.elections.kalshi.com/trade-api/v2",
        "wss://api.elections.kalshi.com/trade-api/ws/v2",
    ),
}
POLYMARKET_URL = "https://clob.polymarket.com"
POLYMARKET_USER_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/user"


def build_pm_venue(vc: Any, clock: Clock, credentials: Any, stream: bool = True) -> Venue:
    """Return the venue for a kalshi or polymarket VenueConfig (ConfigError names the gap),
    its listings capped at the config's `max_pages`."""
    venue = _venue_of(vc, clock, credentials, stream)
    venue.max_pages = int(getattr(vc, "max_pages", MAX_PAGES))  # type: ignore[attr-defined]
    return venue


def _venue_of(vc: Any, clock: Clock, credentials: Any, stream: bool) -> Venue:
    if credentials is None:
        fields = "key_id, private_key_pem" if vc.kind == "kalshi" else "private_key"
        raise ConfigError(
            f"venue {vc.name}: kind={vc.kind} needs credentials=<vault entry> holding {fields} "
            f"(tradeguard keys add NAME --venue {vc.kind} ...)"
        )
    if vc.kind == "kalshi":
        from tradeguard.venues.kalshi.venue import KalshiVenue

        rest, ws = KALSHI_URLS[bool(vc.sandbox)]
        if vc.rest_url:  # a local server: its WebSocket lives next to its REST API
            rest = vc.rest_url
            ws = rest.replace("http", "ws", 1).replace("/trade-api/v2", "/trade-api/ws/v2")
        return KalshiVenue(
            vc.name, rest, credentials.field("key_id"), credentials.field("private_key_pem"),
            clock, vc.ws_url or ws, stream_fills=stream,
        )  # fmt: skip
    if vc.kind == "polymarket":
        from tradeguard.venues.polymarket.venue import PolymarketVenue

        if vc.sandbox and not vc.rest_url:
            raise ConfigError(
                f"venue {vc.name}: polymarket has no testnet; with sandbox=true set rest_url to "
                "the local server (tradeguard sandbox --dialect polymarket)"
            )
        api = None
        if all(k in credentials for k in ("api_key", "secret", "passphrase")):
            api = {k: credentials.field(k) for k in ("api_key", "secret", "passphrase")}
        rest = vc.rest_url or POLYMARKET_URL
        ws = vc.ws_url or (
            rest.replace("http", "ws", 1) + "/ws/user" if vc.rest_url else POLYMARKET_USER_WS
        )
        return PolymarketVenue(
            vc.name, rest, credentials.field("private_key"), clock, api,
            ws_url=ws if stream else "",
        )  # fmt: skip
    raise ConfigError(f"venue {vc.name}: kind {vc.kind!r} is not kalshi or polymarket")

"""Market-data routes: the live streams a sandbox or live node follows, and their health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tradeguard.api.deps import API, state_dep, viewer
from tradeguard.api.errors import AUTH_RESPONSES
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute

router = APIRouter(tags=["marketdata"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)


@router.get(f"{API}/marketdata/streams")
async def get_streams(who: Principal = viewer, api: ApiState = state_dep) -> dict[str, Any]:
    """Return every live stream (venue, symbol, kind): messages, age of the last one,
    reconnects, book resyncs and whether it is stale; empty when the node replays data."""
    hub = api.node.live
    items = [] if hub is None else hub.status()
    items.sort(key=lambda s: (s["venue"], s["symbol"], s["stream"]))
    return {
        "items": items,
        "stale": sum(1 for s in items if s["stale"]),
        "rest_fallback": sum(1 for s in items if s["state"] == "rest_fallback"),
        "polled": sum(1 for s in items if s["state"] == "polled"),
        "stale_after_s": None if hub is None else hub.watch.limit_ms / 1000,
    }

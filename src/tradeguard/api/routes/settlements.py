"""Settlement routes: resolved markets whose positions turned into cash, and nettings (a YES
and a NO contract of one market paid out together by the venue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tradeguard.api.deps import (
    API,
    LimitParam,
    OffsetParam,
    SinceTsParam,
    VenueParam,
    state_dep,
    viewer,
)
from tradeguard.api.errors import AUTH_RESPONSES
from tradeguard.api.serialisers import page
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.model.events import EventKind
from tradeguard.storage.settlement_log import count_settlements, load_settlements

router = APIRouter(tags=["settlements"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)


@router.get(f"{API}/settlements")
async def get_settlements(
    who: Principal = viewer,
    api: ApiState = state_dep,
    venue: VenueParam = None,
    since_ts: SinceTsParam = None,
    limit: LimitParam = 50,
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return settlements, newest first: market, resolution, contracts, payout and cash."""
    return _page_of(api, venue, since_ts, limit, offset, EventKind.SETTLEMENT)


@router.get(f"{API}/nettings")
async def get_nettings(
    who: Principal = viewer,
    api: ApiState = state_dep,
    venue: VenueParam = None,
    since_ts: SinceTsParam = None,
    limit: LimitParam = 50,
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return nettings, newest first: outcome, contracts, price, cash and the trigger (the
    trade, or the reconciliation, that left both outcomes free)."""
    return _page_of(api, venue, since_ts, limit, offset, EventKind.NETTING)


def _page_of(
    api: ApiState, venue: str | None, since_ts: int | None, limit: int, offset: int, kind: str
) -> dict[str, Any]:
    storage = api.node.storage
    rows = load_settlements(
        storage, venue=venue, since_ts=since_ts, limit=limit, offset=offset, kind=kind
    )
    total = count_settlements(storage, venue=venue, since_ts=since_ts, kind=kind)
    return page(rows, limit, offset, total)

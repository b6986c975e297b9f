"""Status routes: health, mode, trading state, recent events and the Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tradeguard.api.deps import API, MAX_LIMIT, state_dep, viewer
from tradeguard.api.errors import AUTH_RESPONSES, OPEN_RESPONSES
from tradeguard.api.metrics import CONTENT_TYPE
from tradeguard.api.serialisers import event_json, json_response, state_payload
from tradeguard.api.state import ApiState, Principal

router = APIRouter(tags=["status"])


@router.get(f"{API}/health", responses=OPEN_RESPONSES)
async def health(api: ApiState = state_dep) -> dict[str, Any]:
    """Say the API is up and in which mode the node trades (no token needed)."""
    return {"status": "ok", "mode": api.node.mode.value, "ts": int(time.time() * 1000)}


@router.get(f"{API}/mode", responses=AUTH_RESPONSES)
async def get_mode(who: Principal = viewer, api: ApiState = state_dep) -> dict[str, Any]:
    """Return the trading mode and how to change it."""
    return {
        "mode": api.node.mode.value,
        "switchable_at_runtime": False,
        "how_to_change": "set `mode` in the config file and restart; live also needs "
        "--confirm-live",
    }


@router.get(f"{API}/state", response_model=None, responses=AUTH_RESPONSES)
async def get_state(who: Principal = viewer, api: ApiState = state_dep) -> Response:
    """Return trading state, breakers, kill switch and daily P&L against its limit."""
    return json_response(state_payload(api.node))


@router.get(f"{API}/events", responses=AUTH_RESPONSES)
async def get_events(
    who: Principal = viewer,
    api: ApiState = state_dep,
    kind_prefix: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    """Return recent audit-log events, newest first."""
    node = api.node
    node.flush_audit()
    events = node.storage.load_events(kind_prefix=kind_prefix, limit=limit)
    return {"items": [event_json(e) for e in events]}


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        **AUTH_RESPONSES,
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
)
async def metrics(who: Principal = viewer, api: ApiState = state_dep) -> Response:
    """Prometheus metrics (viewer token: set `authorization` in the scrape config)."""
    await api.metrics.collect_arb()
    return Response(api.metrics.render(), media_type=CONTENT_TYPE)

"""Status routes: health, mode, trading state, recent events and the Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BeforeValidator

from tradeguard.api.deps import (
    API,
    MAX_LIMIT,
    authenticate,
    bot_scope,
    client_of,
    state_dep,
    viewer,
)
from tradeguard.api.errors import AUTH_RESPONSES, OPEN_RESPONSES
from tradeguard.api.gate import bearer_token
from tradeguard.api.metrics import CONTENT_TYPE
from tradeguard.api.serialisers import event_json, json_response, state_payload
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.node.health import OK, assess

router = APIRouter(tags=["status"], route_class=StrictJsonRoute)

_QUERY_BOOLS = {"true": True, "1": True, "false": False, "0": False}


def _query_bool(value: Any) -> bool:
    # FastAPI reads "yes", "on" and "t" as true too: a guess, where bodies take JSON booleans only
    if isinstance(value, str) and value in _QUERY_BOOLS:
        return _QUERY_BOOLS[value]
    raise ValueError(f"must be true, false, 1 or 0, not {value!r}")


# Used as Annotated[QueryBool, Query(...)]: as a default value Query() drops the validator.
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]


_HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **OPEN_RESPONSES,
    200: {"description": "status ok: every check passed"},
    401: AUTH_RESPONSES[401],
    422: AUTH_RESPONSES[422],
    429: AUTH_RESPONSES[429],
    503: {"description": "status degraded or down: `checks` says which part and why"},
}


@router.get(f"{API}/health", response_model=None, responses=_HEALTH_RESPONSES)
async def health(
    request: Request,
    api: ApiState = state_dep,
    verbose: Annotated[
        QueryBool,
        Query(description="add breaker errors and stale streams' names (needs a viewer token)"),
    ] = False,
) -> JSONResponse:
    """Grade the node ok, degraded or down (HTTP 200 or 503); no token needed.

    Checks: the live loop's heartbeat, event-loop lag, venue breakers and private user streams,
    stale market data, trading state and unresolved orders; thresholds under `[health]`.
    """
    if verbose:
        # Read by hand: the route stays open, so the schema declares no security for it.
        info = authenticate(api, bearer_token(request.scope), client_of(request))
        if info.bot is not None:  # the venues' errors and the streams: not one bot's to read
            raise HTTPException(403, bot_scope(info))
    body = assess(api.node, api.metrics.last_lag_s, verbose=verbose)
    return JSONResponse(body, status_code=200 if body["status"] == OK else 503)


@router.head(f"{API}/health", include_in_schema=False)
async def health_head(api: ApiState = state_dep) -> Response:
    """The same grade as GET, as a status code alone (many uptime checkers ask with HEAD)."""
    body = assess(api.node, api.metrics.last_lag_s, verbose=False)
    return Response(status_code=200 if body["status"] == OK else 503)


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

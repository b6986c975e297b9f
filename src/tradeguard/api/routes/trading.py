"""`/api/trading/*`: the mode, the trading state and the paper reset under the plan's paths.

These are aliases of `/api/v1/mode`, `/api/v1/state` and `/api/v1/paper/reset`: the same
handlers, the same tokens and roles, the same two-step confirmation (and X-TOTP) for the reset,
which is refused outside paper trading.
"""

from __future__ import annotations

from fastapi import APIRouter

from tradeguard.api.errors import AUTH_RESPONSES, CONFLICT
from tradeguard.api.routes import control, status
from tradeguard.api.strict_json import StrictJsonRoute

TRADING = "/api/trading"

router = APIRouter(tags=["trading"], route_class=StrictJsonRoute)
router.add_api_route(f"{TRADING}/mode", status.get_mode, methods=["GET"], responses=AUTH_RESPONSES)
router.add_api_route(
    f"{TRADING}/state",
    status.get_state,
    methods=["GET"],
    response_model=None,
    responses=AUTH_RESPONSES,
)
router.add_api_route(
    f"{TRADING}/reset",
    control.paper_reset,
    methods=["POST"],
    response_model=None,
    responses={**AUTH_RESPONSES, **CONFLICT},
)

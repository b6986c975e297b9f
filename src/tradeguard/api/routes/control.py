"""Control routes: the kill switch, resume, mode changes and the paper-account reset."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from tradeguard.api.confirmations import PAPER_RESET
from tradeguard.api.deps import API, admin, second_factor, state_dep, trader
from tradeguard.api.errors import AUTH_RESPONSES, CONFLICT
from tradeguard.api.kill_body import declared_body, lenient_body
from tradeguard.api.schemas import KillRequest, ModeRequest, ResetRequest, ResumeRequest
from tradeguard.api.serialisers import clean
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.execution.held_halts import refusal
from tradeguard.model.enums import TradingMode
from tradeguard.node.duties import KillNotFinished
from tradeguard.risk.engine import ResumeRefused

log = logging.getLogger(__name__)
router = APIRouter(
    tags=["control"], responses={**AUTH_RESPONSES, **CONFLICT}, route_class=StrictJsonRoute
)


@router.post(f"{API}/kill", openapi_extra=declared_body(KillRequest))
async def kill(request: Request, who: Principal = trader, api: ApiState = state_dep) -> Any:
    """Halt trading and cancel every open order; `flatten` (needs X-TOTP) closes positions.

    With `api.require_totp_for_kill` every kill needs X-TOTP; without a valid code it is 403.
    No body is the defaults: a `curl -X POST` in a hurry halts rather than getting a 422. What
    it cannot take (a query parameter, a body that is no object, an unknown field or a bad
    value) is ignored, the default kept, and listed in `ignored`: the kill halts anyway.
    """
    body, ignored = await lenient_body(request, KillRequest)
    node = api.node
    if body.flatten:
        second_factor(api, who, request, "flatten")
    elif node.config.api.require_totp_for_kill:
        kill_second_factor(api, who, request)
    report = await queued_kill(api, body.reason, who.by, flatten=body.flatten)
    done = {"reason": body.reason, "flatten": body.flatten,
            "cancelled": len(report.get("cancelled", [])),
            **({"ignored": [i["field"] for i in ignored]} if ignored else {})}  # fmt: skip
    try:
        api.audit("api.kill", who, done, "critical")
    except SQLAlchemyError as exc:  # the database full: the kill is done, its report told
        log.error("api kill: its audit event was not written (%s); the next commit writes it",
                  refusal(exc))  # fmt: skip
    out = {"trading_state": node.risk.state.value, "report": clean(report)}
    return {**out, "ignored": ignored} if ignored else out


async def queued_kill(api: ApiState, reason: str, by: str, flatten: bool = False) -> Any:
    """The node's kill report; 503 when the node stopped before the kill's cancels ended (it
    is stored and trading halted: the next start finishes it)."""
    try:
        return await api.node.kill(reason, by, flatten=flatten)
    except KillNotFinished as exc:
        raise HTTPException(503, str(exc)) from None


def kill_second_factor(api: ApiState, who: Principal, request: Request) -> None:
    """Refuse (403) a kill without a valid TOTP code while api.require_totp_for_kill holds."""
    try:
        second_factor(api, who, request, "kill", held=False)
    except HTTPException as exc:
        api.audit("api.kill_refused", who, {"why": str(exc.detail)}, "warning")
        raise HTTPException(
            403, f"{exc.detail} (api.require_totp_for_kill = true; trading is not halted)"
        ) from None


@router.post(f"{API}/resume")
async def resume(
    body: ResumeRequest, request: Request, who: Principal = trader, api: ApiState = state_dep
) -> Any:
    """Leave HALTED/REDUCING (needs X-TOTP); refused (409) while a daily-loss halt holds."""
    second_factor(api, who, request, "resume")
    risk = api.node.risk
    before = risk.state.value
    try:
        risk.resume(who.by, body.reason)
    except ResumeRefused as exc:
        api.audit("api.resume_refused", who, {"reason": body.reason, "why": str(exc)})
        return JSONResponse({"error": str(exc), "trading_state": before}, status_code=409)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    # a halt owed beneath the one lifted (a checkpoint not written) holds trading: said so
    still = {k: v for k, v in (risk.last_resume or {}).items() if k.startswith("still_halted")}
    after = {"from": before, "to": risk.state.value, **still}
    api.audit("api.resume", who, {"reason": body.reason, **after}, "warning")
    return {"trading_state": risk.state.value, **after}


@router.put(f"{API}/mode")
async def put_mode(
    body: ModeRequest, request: Request, who: Principal = trader, api: ApiState = state_dep
) -> Any:
    """Switch mode: only a restart can, so any real change answers 409 saying how."""
    if body.mode is TradingMode.LIVE:
        second_factor(api, who, request, "switching to live")
    current = api.node.mode
    if body.mode is current:
        return {"mode": current.value, "changed": False}
    api.audit("api.mode_refused", who, {"from": current.value, "to": body.mode.value})
    how = f'set mode = "{body.mode.value}" in the config file and restart the node'
    if body.mode is TradingMode.LIVE:
        how += " with `tradeguard run --confirm-live` (live trading is an explicit opt-in)"
    return JSONResponse(
        {
            "error": f"switching from {current.value} to {body.mode.value} needs a restart: "
            "venues and the clock are fixed when the node starts; " + how,
            "mode": current.value,
            "changed": False,
        },
        status_code=409,
    )


@router.post(f"{API}/paper/reset")
async def paper_reset(
    body: ResetRequest, request: Request, who: Principal = admin, api: ApiState = state_dep
) -> Any:
    """Reset the paper account: call once for a confirmation code, again with it (X-TOTP)."""
    node = api.node
    has_paper = any(vc.kind == "paper" for vc in node.config.venues)
    if node.mode is TradingMode.LIVE or not has_paper:
        return JSONResponse(
            {"error": f"no paper account to reset in {node.mode.value} mode"}, status_code=409
        )
    if body.confirm is None:
        code = api.confirmations.issue(PAPER_RESET, who.token.id)
        api.audit("api.paper_reset_requested", who, {})
        return {
            "confirm": code,
            "expires_in_s": int(api.confirmations.ttl_s),
            "next": f'POST {API}/paper/reset with {{"confirm": "<code>"}} and X-TOTP '
            "to cancel open orders, close positions and restore the configured "
            "balances",
        }
    second_factor(api, who, request, "paper reset")
    if not api.confirmations.redeem(body.confirm, PAPER_RESET, who.token.id):
        return JSONResponse(
            {"error": "the confirmation code is unknown, used or expired; ask for a new one"},
            status_code=409,
        )
    report = await node.reset_paper_account(who.by)
    api.audit("api.paper_reset", who, {"cancelled": len(report["cancelled"])}, "warning")
    return {"reset": True, "report": clean(report)}

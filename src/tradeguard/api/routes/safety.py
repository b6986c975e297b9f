"""The safety-service routes bots already speak: validate, execute, status, emergency stop.

A token bound to a bot acts only as that bot; trader tokens may act for any bot.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse

from tradeguard.api.bot_desk import BotDesk
from tradeguard.api.bot_replay import StillSending, execute_once
from tradeguard.api.bot_schemas import (
    BOT_ID,
    IDEMPOTENCY_KEY,
    EmergencyStop,
    ExecuteTrade,
    TradeSignal,
)
from tradeguard.api.deps import (
    API,
    STARTING_RESPONSE,
    bot_trader,
    bot_viewer,
    started,
    state_dep,
)
from tradeguard.api.errors import AUTH_RESPONSES, CONFLICT, NOT_FOUND
from tradeguard.api.kill_body import declared_body, lenient_body
from tradeguard.api.routes.control import kill_second_factor, queued_kill
from tradeguard.api.schemas import ISSUED_ID
from tradeguard.api.serialisers import clean
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.bots.spec import UnknownBot
from tradeguard.bots.telling import public_of
from tradeguard.model.errors import TradeguardError

router = APIRouter(
    tags=["safety"], responses={**AUTH_RESPONSES, **NOT_FOUND}, route_class=StrictJsonRoute
)


def own_bot(who: Principal, bot_id: str) -> None:
    """Refuse (403) a bot-bound token acting for another bot."""
    bound = who.token.bot
    if bound is not None and bound != bot_id:
        raise HTTPException(
            403, f"token {who.token.name!r} is bound to bot {bound!r}; it cannot act for {bot_id!r}"
        )


def told(who: Principal, reason: str, public: str) -> str:
    """Return what `who` may read of a refusal: a token bound to a bot gets its public text
    alone (`bots.telling`), whatever the words of the private one."""
    bot = who.token.bot
    if bot is None:
        return reason
    if public == reason or not public:
        return public
    return f"{public} (token {who.token.name!r} is bound to bot {bot!r})"


def told_trade(who: Principal, trade: dict[str, Any]) -> dict[str, Any]:
    """Return a trade record with its reason as `who` may read it."""
    public = public_of(trade)
    trade.pop("public_reason", None)
    trade["reason"] = told(who, str(trade.get("reason") or ""), public)
    return trade


def desk_of(api: ApiState) -> BotDesk:
    return BotDesk.for_node(api.node)


@router.post(
    f"{API}/safety/validate-trade",
    dependencies=[bot_trader, started],  # the caller first: 401/403 whether started or not
    responses=STARTING_RESPONSE,
)
async def validate_trade(
    body: TradeSignal, who: Principal = bot_trader, api: ApiState = state_dep
) -> dict[str, Any]:
    """Approve or deny a trade with reasons; an approval carries a confirmation id."""
    own_bot(who, body.bot_id)
    try:
        out = desk_of(api).validate(body.bot_id, body.doc())
    except TradeguardError as exc:
        raise HTTPException(404 if isinstance(exc, UnknownBot) else 422, str(exc)) from None
    audit = {"bot": body.bot_id, "symbol": body.symbol, "approved": out["approved"]}
    api.audit("api.bot_validate", who, {**audit, "codes": out["codes"]})
    public = out.pop("public_reasons")
    out["reasons"] = [told(who, r, p) for r, p in zip(out["reasons"], public, strict=True)]
    return out


@router.get(f"{API}/safety/status")
async def safety_status(who: Principal = bot_viewer, api: ApiState = state_dep) -> dict[str, Any]:
    """Return the trading state and every bot's limits, positions, today's P&L and exits."""
    out = desk_of(api).status()
    if who.token.bot is not None:
        out["bots"] = [b for b in out["bots"] if b["bot_id"] == who.token.bot]
    # the dashboard learns from it whether to ask the account's routes at all
    out["token_bot"] = who.token.bot
    return out


@router.post(f"{API}/safety/emergency-stop", openapi_extra=declared_body(EmergencyStop))
async def emergency_stop(
    request: Request, who: Principal = bot_trader, api: ApiState = state_dep
) -> dict[str, Any]:
    """Disable one bot and cancel its orders; without `bot_id`, halt the whole node.

    Halting the node needs X-TOTP while `api.require_totp_for_kill` holds, as `/kill` does.
    No body is the defaults (the token's bot, else the node), never a 422: what it cannot
    take is ignored, the default kept, and listed in `ignored`, as `/kill` does.
    """
    body, ignored = await lenient_body(request, EmergencyStop)
    more = {"ignored": ignored} if ignored else {}
    bot_id = body.bot_id or who.token.bot
    if bot_id is None:
        if api.node.config.api.require_totp_for_kill:
            kill_second_factor(api, who, request)
        report = await queued_kill(api, body.reason, who.by)
        api.audit("api.kill", who, {"reason": body.reason, "via": "safety"}, "critical")
        return {"scope": "node", "trading_state": api.node.risk.state.value,
                "report": clean(report), **more}  # fmt: skip
    own_bot(who, bot_id)
    try:
        out = await desk_of(api).stop_bot(bot_id, who.by, body.reason)
    except TradeguardError as exc:
        raise HTTPException(404 if isinstance(exc, UnknownBot) else 422, str(exc)) from None
    api.audit("api.bot_stop", who, {"bot": bot_id, "reason": body.reason}, "warning")
    return {"scope": "bot", **out, **more}


@router.post(
    f"{API}/trades/execute",
    status_code=201,
    responses={
        200: {"description": "denied or rejected: no order is working"},
        **CONFLICT,
        **STARTING_RESPONSE,
    },
    dependencies=[bot_trader, started],  # the caller first: 401/403 whether started or not
)
async def execute_trade(
    request: Request,
    body: ExecuteTrade,
    who: Principal = bot_trader,
    api: ApiState = state_dep,
    key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY,
        description="the body's idempotency_key as a header; both given and different: a 422",
    ),
) -> JSONResponse:
    """Redeem the confirmation, size by score, and send the order down the one order path.

    Sent again with the same `idempotency_key` (or `Idempotency-Key` header; for a bot without
    confirmation ids and no key, the same signal), it answers with the first trade
    (`"replayed": true`) instead of a second."""
    own_bot(who, body.bot_id)
    doc = body.doc()
    if len(set(request.headers.getlist("idempotency-key"))) > 1:  # which one was meant?
        raise HTTPException(422, "Idempotency-Key is given twice with different values: send one")
    if key is not None and doc.setdefault("idempotency_key", key) != key:
        raise HTTPException(
            422,
            f"Idempotency-Key header {key!r} and idempotency_key {doc['idempotency_key']!r} "
            "differ: send one",
        )
    try:
        out = await execute_once(desk_of(api), body.bot_id, doc, who.by)
    except StillSending as exc:
        raise HTTPException(409, str(exc)) from None
    except TradeguardError as exc:
        raise HTTPException(404 if isinstance(exc, UnknownBot) else 422, str(exc)) from None
    audit = {"bot": body.bot_id, "symbol": body.symbol, "trade_id": out["trade_id"]}
    audit["replayed"] = out["replayed"]
    api.audit("api.bot_execute", who, {**audit, "status": out["status"], "code": out["code"]})
    ok = out["status"] in ("submitted", "in_flight")
    return JSONResponse(clean(told_trade(who, out)), status_code=201 if ok else 200)


@router.get(f"{API}/trades/status/{{trade_id}}", responses=NOT_FOUND)
async def trade_status(
    trade_id: str = Path(pattern=ISSUED_ID), who: Principal = bot_viewer, api: ApiState = state_dep
) -> dict[str, Any]:
    """Return one bot trade: score, confirmations, size rule, order status and fills."""
    trade = desk_of(api).trade_status(trade_id)
    if trade is None or (who.token.bot is not None and trade["bot"] != who.token.bot):
        raise HTTPException(404, f"no bot trade with id {trade_id!r}")
    out: dict[str, Any] = clean(told_trade(who, trade))
    return out


@router.get(f"{API}/trades/recent/{{bot_id}}")
async def recent_trades(
    bot_id: str = Path(pattern=BOT_ID), who: Principal = bot_viewer, api: ApiState = state_dep
) -> dict[str, Any]:
    """Return the bot's latest trades, newest first."""
    own_bot(who, bot_id)
    items = desk_of(api).rows.trades(bot_id, limit=50)
    return {"bot_id": bot_id, "items": clean([told_trade(who, t) for t in items])}

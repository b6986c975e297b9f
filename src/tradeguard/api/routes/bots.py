"""Bot routes: the registry with figures, enable/disable, closing positions, cancelling orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request

from tradeguard.api.bot_schemas import BOT_ID, ClosePositions
from tradeguard.api.deps import (
    API,
    STARTING_RESPONSE,
    bot_viewer,
    second_factor,
    started,
    state_dep,
    trader,
)
from tradeguard.api.errors import AUTH_RESPONSES, NOT_FOUND
from tradeguard.api.routes.safety import desk_of, own_bot
from tradeguard.api.schemas import ORDER_ID
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import (
    NO_NULL_BODY,
    StrictJsonRoute,
    refuse_any_body,
    refuse_null_body,
)
from tradeguard.model.errors import TradeguardError

router = APIRouter(tags=["bots"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)
_BOT = Path(pattern=BOT_ID)


@router.get(f"{API}/safety/bots")
async def list_bots(who: Principal = bot_viewer, api: ApiState = state_dep) -> dict[str, Any]:
    """Return every bot with its limits, state and results (win rate, P&L, by score)."""
    desk = desk_of(api)
    items = []
    for name, (spec, enabled) in desk.registry().items():
        if who.token.bot is not None and name != who.token.bot:
            continue
        items.append({"bot_id": name, "enabled": enabled, "limits": spec.to_doc(),
                      "stats": desk.stats(name)})  # fmt: skip
    return {"items": items}


@router.get(f"{API}/bots/status/summary")
async def bots_summary(who: Principal = bot_viewer, api: ApiState = state_dep) -> dict[str, Any]:
    """Every bot's active trades with live P&L at the current marks (poll it every few
    seconds: it reads memory only); a token bound to a bot sees that bot alone."""
    return desk_of(api).summary(only=who.token.bot)


@router.get(f"{API}/bots/{{bot_id}}/stats", responses=NOT_FOUND)
async def bot_stats(
    bot_id: str = _BOT, who: Principal = bot_viewer, api: ApiState = state_dep
) -> dict[str, Any]:
    """Return one bot's win rate, P&L, expectancy and signal accuracy by score bucket."""
    own_bot(who, bot_id)
    desk = desk_of(api)
    try:
        desk.bot(bot_id)
    except TradeguardError as exc:
        raise HTTPException(404, str(exc)) from None
    return desk.stats(bot_id)


async def _set_enabled(api: ApiState, who: Principal, bot_id: str, on: bool) -> dict[str, Any]:
    try:
        desk_of(api).set_enabled(bot_id, on)
    except TradeguardError as exc:
        raise HTTPException(404, str(exc)) from None
    api.audit("api.bot_enable" if on else "api.bot_disable", who, {"bot": bot_id}, "warning")
    return {"bot_id": bot_id, "enabled": on}


@router.post(f"{API}/bots/{{bot_id}}/enable", responses=NOT_FOUND)
async def enable_bot(
    request: Request, bot_id: str = _BOT, who: Principal = trader, api: ApiState = state_dep
) -> dict[str, Any]:
    """Let the bot trade (it restarts its losing-streak count). No body, or `{}`."""
    await refuse_any_body(request)
    return await _set_enabled(api, who, bot_id, True)


@router.post(f"{API}/bots/{{bot_id}}/disable", responses=NOT_FOUND)
async def disable_bot(
    request: Request, bot_id: str = _BOT, who: Principal = trader, api: ApiState = state_dep
) -> dict[str, Any]:
    """Stop the bot from opening trades; its exits keep running. No body, or `{}`."""
    await refuse_any_body(request)
    return await _set_enabled(api, who, bot_id, False)


@router.post(
    f"{API}/bots/{{bot_id}}/close-positions",
    responses={**NOT_FOUND, **STARTING_RESPONSE},
    openapi_extra=NO_NULL_BODY,
    dependencies=[trader, started],  # the caller first: 401/403 whether started or not
)
async def close_positions(
    request: Request,
    body: ClosePositions | None = None,
    bot_id: str = _BOT,
    who: Principal = trader,
    api: ApiState = state_dep,
) -> dict[str, Any]:
    """Close the bot's positions (or one, by `symbol`) with reduce-only orders; needs X-TOTP.
    No body closes them all, as `{}` does; a JSON null is refused."""
    await refuse_null_body(request)
    body = body or ClosePositions()
    second_factor(api, who, request, "close bot positions")
    try:
        closed = await desk_of(api).close_positions(bot_id, body.symbol)
    except TradeguardError as exc:
        raise HTTPException(404, str(exc)) from None
    api.audit("api.bot_close", who, {"bot": bot_id, "symbol": body.symbol,
                                     "orders": len(closed)}, "warning")  # fmt: skip
    return {"bot_id": bot_id, "orders": closed}


@router.post(f"{API}/orders/{{client_order_id}}/cancel", responses=NOT_FOUND)
async def cancel_order(
    request: Request,
    client_order_id: str = Path(pattern=ORDER_ID),
    who: Principal = trader,
    api: ApiState = state_dep,
) -> dict[str, Any]:
    """Cancel one open order. No body, or `{}`."""
    await refuse_any_body(request)
    orders = api.node.orders
    if client_order_id not in orders.open:
        raise HTTPException(404, f"no open order with client order id {client_order_id!r}")
    report = await orders.cancel(client_order_id)
    api.audit("api.cancel", who, {"client_order_id": client_order_id})
    status = report.status.value if report is not None else "unknown"
    return {"client_order_id": client_order_id, "status": status}

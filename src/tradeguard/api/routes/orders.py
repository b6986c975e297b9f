"""Order routes: the journal, fills and trades, and intents sent down the one order path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse

from tradeguard.api.deps import (
    API,
    MAX_LIMIT,
    LimitParam,
    OffsetParam,
    starting_response,
    state_dep,
    trader,
    viewer,
)
from tradeguard.api.errors import AUTH_RESPONSES, NOT_FOUND
from tradeguard.api.schemas import ORDER_ID, IntentRequest
from tradeguard.api.serialisers import clean, fill_json, order_json, page, text
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.execution.order_manager import SubmitResult
from tradeguard.model.money import plain
from tradeguard.node.order_owner import STRATEGY_ORDER_ROUTE, owner_refusal
from tradeguard.node.pause import pauses_of

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


router = APIRouter(tags=["orders"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)


@router.get(f"{API}/orders")
async def get_orders(
    who: Principal = viewer,
    api: ApiState = state_dep,
    status: str = Query("all", pattern="^(all|open)$"),
    venue: str | None = Query(None, max_length=64),
    symbol: str | None = Query(None, max_length=64),
    strategy_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return orders, newest first; `status=open` reads the live book of open orders."""
    node = api.node
    if status == "open":
        live = sorted(node.orders.open_orders(), key=lambda o: o.created_ts, reverse=True)
        items = [
            o
            for o in live
            if (venue is None or o.venue == venue)
            and (symbol is None or o.symbol == symbol)
            and (strategy_id is None or o.strategy_id == strategy_id)
        ]
        chosen = items[offset : offset + limit]
        return page([order_json(o) for o in chosen], limit, offset, len(items))
    stored = node.storage.load_orders(
        venue=venue, symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset
    )
    known = node.orders.orders
    # The in-memory order may be ahead of its journal row (acknowledgements are written behind).
    fresh = [known.get(o.client_order_id, o) for o in stored]
    return page([order_json(o) for o in fresh], limit, offset)


@router.get(f"{API}/orders/{{client_order_id}}", responses=NOT_FOUND)
async def get_order(
    client_order_id: str = Path(pattern=ORDER_ID),
    who: Principal = viewer,
    api: ApiState = state_dep,
) -> dict[str, Any]:
    """Return one order by client order id."""
    node = api.node
    order = node.orders.orders.get(client_order_id) or node.storage.get_order(client_order_id)
    if order is None:
        raise HTTPException(404, f"no order with client order id {client_order_id!r}")
    return order_json(order)


@router.get(f"{API}/fills")
async def get_fills(
    who: Principal = viewer,
    api: ApiState = state_dep,
    venue: str | None = Query(None, max_length=64),
    symbol: str | None = Query(None, max_length=64),
    strategy_id: str | None = Query(None, max_length=64),
    since_ts: int | None = Query(None, ge=0, le=10**15),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return fills, newest first."""
    fills = api.node.storage.load_fills(
        venue=venue,
        symbol=symbol,
        strategy_id=strategy_id,
        since_ts=since_ts,
        limit=limit,
        offset=offset,
        newest_first=True,
    )
    return page([fill_json(f) for f in fills], limit, offset)


def trades(
    node: TradingNode, strategy_id: str | None, symbol: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Return recent fills, newest first, each with its order's strategy, signal and type."""
    fills = node.storage.load_fills(
        symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset, newest_first=True
    )
    known = node.orders.orders
    out = []
    for f in fills:
        order = known.get(f.client_order_id) or node.storage.get_order(f.client_order_id)
        item = fill_json(f)
        item["strategy_id"] = order.strategy_id if order is not None else ""
        item["signal"] = clean(order.signal) if order is not None else {}
        item["order_type"] = order.type.value if order is not None else None
        out.append(item)
    return out


@router.get(f"{API}/trades")
async def get_trades(
    who: Principal = viewer,
    api: ApiState = state_dep,
    strategy_id: str | None = Query(None, max_length=64),
    symbol: str | None = Query(None, max_length=64),
    limit: LimitParam = 50,
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return recent trades (fills), each with the signal that caused its order."""
    return page(trades(api.node, strategy_id, symbol, limit, offset), limit, offset)


@router.post(f"{API}/risk/validate")
async def validate(
    body: IntentRequest, who: Principal = trader, api: ApiState = state_dep
) -> dict[str, Any]:
    """Run the risk checks on an intent without placing anything."""
    node = api.node
    intent = body.to_intent(who.by)
    if intent.venue not in node.venues:
        return {
            "approved": False,
            "code": "UNKNOWN_VENUE",
            "reason": f"unknown venue {intent.venue!r}; known: {sorted(node.venues)}",
        }
    owner = owner_refusal(node, intent)  # a bot's or a strategy's id: see node.order_owner
    if owner is not None:  # the shape of a risk decision's answer: one for a client to read
        rule = "strategy" if owner[0] == STRATEGY_ORDER_ROUTE else "bot"
        return {"approved": False, "code": owner[0], "reason": owner[1], "rule": rule,
                "value": None, "limit": None, "price_bound": None}  # fmt: skip
    decision = node.risk.check(intent, node.orders, node.market, dry_run=True)
    api.audit("api.validate", who, {"symbol": intent.symbol, "code": decision.code})
    return {
        "approved": decision.approved,
        "code": decision.code,
        "reason": decision.reason,
        "rule": decision.rule,
        "value": text(decision.value),
        "limit": text(decision.limit),
        "price_bound": text(decision.price_bound),
    }


@router.post(
    f"{API}/orders",
    status_code=201,
    responses={200: {"description": "denied or rejected: no order is working"}},
)
async def post_order(
    body: IntentRequest, who: Principal = trader, api: ApiState = state_dep
) -> JSONResponse:
    """Send an external intent down the one order path: risk, journal, venue."""
    if not api.node.markets_loaded:
        return starting_response()
    intent = body.to_intent(who.by)
    pauses = pauses_of(api.node)
    refusal = pauses.refuses(intent, ()) if intent.strategy_id in pauses.ids else None
    if refusal is not None:
        # An outside system trading as a paused strategy is held to the pause as well.
        result = SubmitResult("denied", None, refusal.code, refusal.reason or "")
    else:
        # checked next to the journal: two closes sent at once see each other working
        result = await api.node.submit(intent, gate=lambda: owner_refusal(api.node, intent))
    out: dict[str, Any] = {
        "status": result.status,
        "code": result.code or "OK",
        "reason": result.reason,
    }
    if result.order is not None:
        out["client_order_id"] = result.order.client_order_id
        out["order"] = order_json(result.order)
    api.audit(
        "api.order",
        who,
        {
            "symbol": intent.symbol,
            "side": intent.side.value,
            "amount": plain(intent.amount),
            "status": result.status,
            "code": out["code"],
            "client_order_id": out.get("client_order_id"),
        },
    )
    return JSONResponse(out, status_code=201 if result.ok else 200)

"""Order routes: the journal, fills and trades, and intents sent down the one order path."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from tradeguard.api.deps import API, MAX_LIMIT, LimitParam, OffsetParam, state_dep, trader, viewer
from tradeguard.api.errors import AUTH_RESPONSES, NOT_FOUND
from tradeguard.api.schemas import IntentRequest
from tradeguard.api.serialisers import clean, fill_json, order_json, page, text
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.bots.gate import is_reducing
from tradeguard.execution.order_manager import SubmitResult
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import OrderIntent
from tradeguard.node.pause import pauses_of
from tradeguard.storage.bot_rows import BotRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


def bot_refusal(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """(code, reason) refusing an order that would trade as a signal bot past its gate, or None.

    A bot's entries pass its own limits, cooldown, one position and emergency stop on the bot
    routes only; here its id may send reduce-only orders (a target, a close) of what the bot
    itself holds, and nothing more."""
    row = next((b for b in BotRows(node.db).bots() if b.name == intent.strategy_id), None)
    if row is None:
        return None
    sid = intent.strategy_id
    if intent.reduce_only:
        return _bot_not_closing(node, intent)
    route = (
        f"its entries go through POST {API}/safety/validate-trade and {API}/trades/execute "
        f"(its limits, cooldown and one position); {API}/orders takes only reduce_only orders "
        "for a bot"
    )
    if not row.enabled:
        return "BOT_DISABLED", f"order denied: {sid} is a signal bot and is disabled; {route}"
    return "BOT_ORDER_ROUTE", f"order denied: strategy_id {sid!r} is a signal bot: {route}"


def _bot_not_closing(node: TradingNode, intent: OrderIntent) -> tuple[str, str] | None:
    """Refuse a bot's reduce_only order that its own position does not cover.

    The risk engine's reduce-only check reads the account's net position on the symbol, which
    other strategies' holdings make up too: a bot holding nothing could sell them (a short
    opened past its stop and limits), or sell more than it holds (its position flipped). Its
    closes already working (a trigger waits, so it counts only against the position) count."""
    sid, venue, symbol, side = intent.strategy_id, intent.venue, intent.symbol, intent.side
    pos = node.portfolio.positions.get((venue, symbol, sid))
    held = pos.quantity if pos is not None else ZERO
    working = ZERO
    if not intent.type.is_trigger:
        for o in node.orders.open.values():
            if (o.strategy_id, o.venue, o.symbol, o.side) == (sid, venue, symbol, side) and (
                o.reduce_only and not o.type.is_trigger
            ):
                working += o.remaining
    amount = intent.amount
    if is_reducing(held, side) and isinstance(amount, Decimal) and amount <= abs(held) - working:
        return None
    also = (
        f", and closes of {plain(working)} already work (POST {API}/bots/{sid}/close-positions "
        "closes it whole, cancelling its resting closes first)"
        if working
        else ""
    )
    return "BOT_NOT_REDUCING", (
        f"order denied: reduce_only {side.value} {amount} of {symbol} as bot {sid} would open "
        f"or grow its position, not close it: {sid} holds {plain(held)} on {venue}{also}; a "
        "bot's reduce_only order closes the bot's own position only"
    )


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
    client_order_id: str, who: Principal = viewer, api: ApiState = state_dep
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
    as_bot = bot_refusal(node, intent)
    if as_bot is not None:  # the shape of a risk decision's answer: one for a client to read
        return {"approved": False, "code": as_bot[0], "reason": as_bot[1], "rule": "bot",
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
    intent = body.to_intent(who.by)
    pauses = pauses_of(api.node)
    refusal = pauses.refuses(intent, ()) if intent.strategy_id in pauses.ids else None
    if refusal is not None:
        # An outside system trading as a paused strategy is held to the pause as well.
        result = SubmitResult("denied", None, refusal.code, refusal.reason or "")
    else:

        def as_bot() -> SubmitResult | None:
            # run next to the journal: two closes sent at once see each other working
            why = bot_refusal(api.node, intent)
            return None if why is None else SubmitResult("denied", None, *why)

        result = await api.node.submit(intent, gate=as_bot)
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

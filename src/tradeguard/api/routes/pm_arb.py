"""Cross-venue arbitrage route: the latest pair attempts, the pairs held, settlement mismatches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from tradeguard.api.deps import API, second_factor, state_dep, trader, viewer
from tradeguard.api.errors import AUTH_RESPONSES
from tradeguard.api.schemas import HeldRetryRequest
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import NO_NULL_BODY, StrictJsonRoute, refuse_null_body
from tradeguard.model.events import EventKind
from tradeguard.model.money import plain
from tradeguard.risk.unwind import base_asset
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

router = APIRouter(tags=["arbitrage"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)


def attempt_json(row: dict[str, Any]) -> dict[str, Any]:
    """One recorded pair attempt: pair, direction, size, edges, outcome."""
    cycle, legs = row.get("cycle") or {}, row.get("legs") or {}
    return {
        "id": row["id"],
        "ts": row["ts"],
        "strategy_id": row["strategy_id"],
        "pair_id": cycle.get("pair_id", ""),
        "direction": cycle.get("direction"),
        "mode": cycle.get("mode", ""),
        "size": legs.get("size"),
        "expected_edge": legs.get("expected_edge"),
        "actual_edge": legs.get("actual_edge"),
        "actual_profit": None if row.get("actual_profit") is None else plain(row["actual_profit"]),
        "outcome": row["outcome"],
        "reason": legs.get("reason", ""),
        "latency_ms": row.get("latency_ms"),
        # the size cut so the first leg's unwind fits max_unwind_loss_usd (None: not cut)
        "trimmed": legs.get("trimmed"),
    }


def held_json(strategy_id: str, p: Any) -> dict[str, Any]:
    """One pair held until it settles."""
    return {
        "strategy_id": strategy_id,
        "pair_id": p.pair_id,
        "event": p.event,
        "direction": p.direction,
        "contracts": plain(p.contracts),
        "capital": plain(p.capital),
        "settles_at_ms": p.settles_at_ms,
        "legs": [f"{v} {s}" for v, s in zip(p.venues, p.legs, strict=False)],
        "record_id": p.record_id,
        "note": p.note,
    }


@router.get(f"{API}/pm/arb")
async def get_pm_arb(
    who: Principal = viewer,
    api: ApiState = state_dep,
    limit: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    """Return the cross-venue strategies' latest attempts, held pairs and settlement mismatches."""
    node = api.node
    strategies = [s for s in node.strategies if isinstance(s, CrossVenueStrategy)]
    attempts: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for strat in strategies:
        refused += strat.nets_refused()
        rows = load_arb_executions(
            node.storage, strategy_id=strat.id, limit=limit, newest_first=True
        )
        attempts += [attempt_json(r) for r in rows if (r.get("cycle") or {}).get("pair_id")]
        held += [held_json(strat.id, p) for p in strat.book.open]
    attempts.sort(key=lambda a: a["ts"], reverse=True)
    settled = node.storage.load_events(kind_prefix=EventKind.ARB_SETTLED, limit=200)
    mismatches = [
        {"ts": e.ts, "strategy_id": e.strategy_id, **e.data}
        for e in settled
        if e.data.get("mismatch")
    ]
    return {
        "strategies": [s.id for s in strategies],
        "attempts": attempts[:limit],
        "held": held,
        "nets_refused": refused,
        "mismatches": mismatches[:limit],
    }


@router.post(f"{API}/pm/arb/held/retry", openapi_extra=NO_NULL_BODY)
async def retry_held(
    request: Request,
    body: HeldRetryRequest | None = None,
    who: Principal = trader,
    api: ApiState = state_dep,
) -> dict[str, Any]:
    """Offer every leg a cross-venue pair left held alone for sale again, one IOC each within
    the loss cap (the body's, else the strategy's), through risk and the journal. The body is
    optional, as documented: none is every strategy at its own cap (a JSON null is refused)."""
    await refuse_null_body(request)
    body = body or HeldRetryRequest()
    second_factor(api, who, request, "retrying the unwind of held legs")
    node = api.node
    strategies = [s for s in node.strategies if isinstance(s, CrossVenueStrategy)
                  and body.strategy_id in (None, s.id)]  # fmt: skip
    if not strategies:
        known = [s.id for s in node.strategies if isinstance(s, CrossVenueStrategy)]
        raise HTTPException(404, f"strategy_id={body.strategy_id!r} is no cross-venue "
                            f"strategy of this node; known: {known or 'none'}")  # fmt: skip
    idle = [s.id for s in strategies if s.executor is None]
    if idle:  # before any leg is offered: a refusal after some sales would lose their answer
        raise HTTPException(409, f"strategy {', '.join(idle)} is not running on this node; "
                            "nothing was retried")  # fmt: skip
    out: list[dict[str, Any]] = []
    for strat in strategies:
        executor = strat.executor
        assert executor is not None
        cap = body.max_unwind_loss_usd or executor.config.max_unwind_loss_usd
        for leg in held_legs(load_arb_executions(node.storage, strategy_id=strat.id)):
            api.audit("api.arb_held_retry", who, {**leg.to_json(), "strategy_id": strat.id,
                      "max_unwind_loss_usd": plain(cap)}, "warning")  # fmt: skip
            # the held leg its record names is the cycle's holding its retry may sell
            holding = base_asset(leg.symbol)
            node.risk.cycle_holdings.cover(strat.id, leg.venue, holding, leg.contracts)
            rec = await retry_unwind(executor, leg, cap)
            out.append({"strategy_id": strat.id, "retry_of": leg.record_id, **(
                rec.to_json() if rec is not None else {
                    "outcome": "skipped", "reason": f"record {leg.record_id} was retried by "
                    "another request meanwhile; nothing sent, ask again to retry what it left",
                })})  # fmt: skip
    return {"retried": out}

"""Strategy routes (also served as bots): status, performance and recent trades; pausing one."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from tradeguard.api.deps import (
    API,
    LimitParam,
    OffsetParam,
    second_factor,
    state_dep,
    trader,
    viewer,
)
from tradeguard.api.errors import AUTH_RESPONSES, NOT_FOUND
from tradeguard.api.routes.arbitrage import arb_json
from tradeguard.api.routes.orders import trades
from tradeguard.api.schemas import REASON, STRATEGY_ID, JsonBool
from tradeguard.api.serialisers import page, performance_json
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.model.enums import TradingState
from tradeguard.model.money import plain
from tradeguard.node.pause import MAX_REASON, pauses_of
from tradeguard.portfolio import analytics
from tradeguard.portfolio.arb_summary import ArbSummary

log = logging.getLogger(__name__)
router = APIRouter(responses=AUTH_RESPONSES, route_class=StrictJsonRoute)


MULTI_LEG_KINDS = frozenset({"triangular", "cross_venue"})


def _strategy_ids(api: ApiState, arb_ids: list[str]) -> list[str]:
    node = api.node
    ids = [s.id for s in node.strategies]
    for r in node.storage.load_run_states():
        if r.strategy_id not in ids:
            ids.append(r.strategy_id)
    for o in node.orders.orders.values():
        if o.strategy_id not in ids and o.strategy_id:
            ids.append(o.strategy_id)
    ids.extend(sid for sid in arb_ids if sid not in ids)
    return ids


def _arb_performance(api: ApiState, summary: ArbSummary) -> analytics.Performance:
    """Score a multi-leg strategy by its cycles: their legs open no positions.

    Each cycle with a fill is one trade; its profit is valued in the valuation asset at the
    current price of its start asset (a cycle whose start asset has no price is left out of
    the P&L figures, never out of the counts).
    """
    valued = []
    for r in summary.results:
        price = api.node.portfolio.price_of(r.start_asset)
        if price is not None:
            valued.append(r.profit * price)
    perf = analytics.performance(valued, [r.profit_pct for r in summary.results])
    n, wins = summary.with_fill, summary.profitable
    return replace(perf, trades=n, wins=wins, losses=n - wins, win_rate=wins / n if n else None)


async def _performance(
    api: ApiState, sid: str, kind: str, arb_ids: list[str]
) -> tuple[analytics.Performance, dict[str, Any] | None]:
    # a multi-leg strategy (triangular, cross-venue) is scored by its recorded cycles
    if kind == "triangular" or sid in arb_ids:
        summary = await api.arb.summary(sid)
        return _arb_performance(api, summary), arb_json(api, summary)
    rows = api.node.storage.load_position_rows(status="closed", strategy_id=sid)
    pnls = [r["pnl"] for r in rows if r.get("pnl") is not None]
    pcts = [r["pnl_pct"] for r in rows if r.get("pnl_pct") is not None]
    return analytics.performance(pnls, pcts if len(pcts) == len(pnls) else None), None


async def _strategy(api: ApiState, sid: str, arb_ids: list[str]) -> dict[str, Any]:
    node = api.node
    strat = next((s for s in node.strategies if s.id == sid), None)
    run = node.storage.load_run_state(sid)
    kind = strat.kind if strat is not None else "external"
    if strat is None and sid in arb_ids:
        kind = "triangular"
    perf, arb = await _performance(api, sid, kind, arb_ids)
    position = sum(
        (p.quantity for p in node.portfolio.open_positions() if p.strategy_id == sid),
        Decimal(0),
    )
    return {
        "id": sid,
        "kind": kind,
        "venue": strat.venue if strat is not None else None,
        # a multi-leg strategy trades its cycles' markets: its config's `symbol` is unused
        "symbol": strat.symbol if strat is not None and kind not in MULTI_LEG_KINDS else None,
        "status": ("running" if strat is not None else "external")
        if node.risk.state is TradingState.ACTIVE
        else node.risk.state.value.lower(),
        "paused": sid in pauses_of(node).ids,
        "pause": pauses_of(node).entries.get(sid),
        "open_orders": sum(1 for o in node.orders.open.values() if o.strategy_id == sid),
        "position": plain(position),
        "performance": performance_json(perf),
        "arb": arb,
        "run": None
        if run is None
        else {
            "total_trades": run.total_trades,
            "winning_trades": run.winning_trades,
            "losing_trades": run.losing_trades,
            "total_pnl": plain(run.total_pnl),
            "last_signal_ts": run.last_signal_ts,
            "last_trade_ts": run.last_trade_ts,
        },
    }


_STRATEGY = Path(pattern=STRATEGY_ID)


def _add_routes(prefix: str) -> None:
    tag = prefix

    @router.get(f"{API}/{prefix}", tags=[tag], name=f"list_{prefix}")
    async def list_strategies(who: Principal = viewer, api: ApiState = state_dep) -> dict[str, Any]:
        """Return every strategy (bot) with its status and performance summary.

        A triangular strategy is scored by its arbitrage cycles and carries their summary
        in `arb` (see GET /arb/summary).
        """
        arb_ids = api.arb.strategy_ids()
        return {
            "items": [await _strategy(api, sid, arb_ids) for sid in _strategy_ids(api, arb_ids)]
        }

    @router.get(
        f"{API}/{prefix}/{{strategy_id}}", tags=[tag], name=f"get_{prefix}", responses=NOT_FOUND
    )
    async def get_strategy(
        strategy_id: str = _STRATEGY, who: Principal = viewer, api: ApiState = state_dep
    ) -> dict[str, Any]:
        """Return one strategy (bot) with its status and performance summary."""
        arb_ids = api.arb.strategy_ids()
        if strategy_id not in _strategy_ids(api, arb_ids):
            raise HTTPException(
                404, f"no strategy {strategy_id!r}; GET {API}/strategies lists them"
            )
        return await _strategy(api, strategy_id, arb_ids)

    @router.get(
        f"{API}/{prefix}/{{strategy_id}}/trades",
        tags=[tag],
        name=f"{prefix}_trades",
        responses=NOT_FOUND,
    )
    async def strategy_trades(
        strategy_id: str = _STRATEGY,
        who: Principal = viewer,
        api: ApiState = state_dep,
        limit: LimitParam = 50,
        offset: OffsetParam = 0,
    ) -> dict[str, Any]:
        """Return a strategy's (bot's) recent trades, each with the signal behind it."""
        if strategy_id not in _strategy_ids(api, api.arb.strategy_ids()):
            raise HTTPException(404, f"no strategy {strategy_id!r}")
        return page(trades(api.node, strategy_id, None, limit, offset), limit, offset)


for _prefix in ("strategies", "bots"):
    _add_routes(_prefix)


class PauseRequest(BaseModel):
    """Why a strategy is paused or resumed (recorded in the audit log)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=MAX_REASON, pattern=REASON)


class PauseStrategy(PauseRequest):
    """A pause, and whether to cancel the strategy's entry orders still working."""

    cancel_entries: JsonBool = False


def _pausable(api: ApiState, strategy_id: str) -> None:
    """404 unless the strategy is configured (or still carries a stored pause)."""
    pauses = pauses_of(api.node)
    known = sorted({s.id for s in api.node.strategies} | pauses.ids)
    if strategy_id not in known:
        raise HTTPException(404, f"no strategy {strategy_id!r} to pause or resume; known: {known}")


@router.post(f"{API}/strategies/{{strategy_id}}/pause", tags=["strategies"], responses=NOT_FOUND)
async def pause_strategy(
    body: PauseStrategy,
    request: Request,
    strategy_id: str = _STRATEGY,
    who: Principal = trader,
    api: ApiState = state_dep,
) -> dict[str, Any]:
    """Stop the strategy's new entries (needs X-TOTP); its exits and running cycles go on."""
    second_factor(api, who, request, "pause a strategy")
    _pausable(api, strategy_id)
    entry = pauses_of(api.node).pause(strategy_id, who.by, body.reason)
    cancelled, failed = await _cancel_entries(api, strategy_id) if body.cancel_entries else ([], [])
    api.audit("api.strategy_pause", who, {"strategy": strategy_id, "reason": body.reason,
                                          "cancelled": cancelled, "cancel_failed": failed},
              "warning")  # fmt: skip
    out = {"id": strategy_id, "paused": True, "pause": entry}
    if body.cancel_entries:
        out.update(cancelled=cancelled, cancel_failed=failed)
    return out


async def _cancel_entries(api: ApiState, strategy_id: str) -> tuple[list[str], list[str]]:
    """Cancel the strategy's working orders that are not reduce-only (its entries); exits and
    resting stops stay. Return (cancelled, failed) client order ids."""
    orders = api.node.orders
    entries = [o.client_order_id for o in list(orders.open.values())
               if o.strategy_id == strategy_id and not o.reduce_only]  # fmt: skip
    cancelled: list[str] = []
    failed: list[str] = []
    for cid in entries:
        try:
            await orders.cancel(cid)
        except Exception as exc:  # reported to the caller; the order stays known as open
            log.warning("pause of %s: cancel of %s failed: %s", strategy_id, cid, exc)
            failed.append(cid)
        else:
            (cancelled if cid not in orders.open else failed).append(cid)
    return cancelled, failed


@router.post(f"{API}/strategies/{{strategy_id}}/resume", tags=["strategies"], responses=NOT_FOUND)
async def resume_strategy(
    body: PauseRequest,
    request: Request,
    strategy_id: str = _STRATEGY,
    who: Principal = trader,
    api: ApiState = state_dep,
) -> dict[str, Any]:
    """Let the strategy open positions again (needs X-TOTP)."""
    second_factor(api, who, request, "resume a strategy")
    _pausable(api, strategy_id)
    was = pauses_of(api.node).resume(strategy_id)
    api.audit("api.strategy_resume", who, {"strategy": strategy_id, "reason": body.reason,
                                           "was_paused": was}, "warning")  # fmt: skip
    return {"id": strategy_id, "paused": False, "was_paused": was}

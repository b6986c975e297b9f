"""Arbitrage routes: recorded cycles and their summary figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from tradeguard.api.arb_figures import execution_json, held_now
from tradeguard.api.deps import (
    API,
    LimitParam,
    OffsetParam,
    SinceTsParam,
    state_dep,
    viewer,
)
from tradeguard.api.errors import AUTH_RESPONSES
from tradeguard.api.serialisers import page
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.portfolio.arb_summary import OUTCOMES, ArbSummary
from tradeguard.storage.arb_repository import count_arb_executions, load_arb_executions

router = APIRouter(tags=["arbitrage"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)
_OUTCOME_PATTERN = "^(" + "|".join(OUTCOMES) + ")$"
_UNTIL = "epoch ms, exclusive; must be after since_ts"


def arb_json(api: ApiState, summary: ArbSummary) -> dict[str, Any]:
    """Describe an arbitrage summary with the assets it left held now."""
    return {
        **summary.to_json(),
        "held_now": held_now(summary.held, api.node.portfolio.all_balances()),
    }


def _window(since_ts: int | None, until_ts: int | None) -> None:
    if since_ts is not None and until_ts is not None and until_ts <= since_ts:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "until_ts"),
                    "msg": f"must be after since_ts={since_ts} (the window is [since, until))",
                    "type": "value_error",
                    "input": until_ts,
                    "ctx": {"gt": since_ts},
                }
            ]
        )


@router.get(f"{API}/arb/executions")
async def get_arb_executions(
    who: Principal = viewer,
    api: ApiState = state_dep,
    strategy_id: str | None = Query(None, max_length=64),
    outcome: str | None = Query(None, pattern=_OUTCOME_PATTERN),
    since_ts: SinceTsParam = None,
    until_ts: int | None = Query(
        None, ge=0, le=10**15, description="epoch ms, exclusive; after since_ts"
    ),
    limit: LimitParam = 50,
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return recorded arbitrage cycles, newest first: expected versus actual, every order."""
    _window(since_ts, until_ts)
    storage = api.node.storage
    rows = load_arb_executions(
        storage, strategy_id=strategy_id, outcome=outcome, since_ts=since_ts,
        until_ts=until_ts, limit=limit, offset=offset, newest_first=True,
    )  # fmt: skip
    total = count_arb_executions(
        storage, strategy_id=strategy_id, outcome=outcome, since_ts=since_ts, until_ts=until_ts
    )
    return page([execution_json(r) for r in rows], limit, offset, total)


@router.get(f"{API}/arb/summary")
async def get_arb_summary(
    who: Principal = viewer,
    api: ApiState = state_dep,
    strategy_id: str | None = Query(None, max_length=64),
    since_ts: SinceTsParam = None,
    until_ts: int | None = Query(
        None, ge=0, le=10**15, description="epoch ms, exclusive; after since_ts"
    ),
) -> dict[str, Any]:
    """Return arbitrage figures: cycles by outcome, profit, slippage, latency, held assets."""
    _window(since_ts, until_ts)
    summary = await api.arb.summary(strategy_id, since_ts, until_ts)
    return {
        "strategy_id": strategy_id,
        "since_ts": since_ts,
        "until_ts": until_ts,
        **arb_json(api, summary),
    }

"""Portfolio routes: balances, positions and the equity curve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from tradeguard.api.deps import API, MAX_LIMIT, OffsetParam, state_dep, viewer
from tradeguard.api.errors import AUTH_RESPONSES
from tradeguard.api.serialisers import clean, page, position_json, text
from tradeguard.api.state import ApiState, Principal
from tradeguard.api.strict_json import StrictJsonRoute
from tradeguard.model.money import plain
from tradeguard.node.valuation_view import reference_ages
from tradeguard.portfolio import analytics
from tradeguard.portfolio.combined import combine, holdings_of

router = APIRouter(tags=["portfolio"], responses=AUTH_RESPONSES, route_class=StrictJsonRoute)


@router.get(f"{API}/balances")
async def get_balances(who: Principal = viewer, api: ApiState = state_dep) -> dict[str, Any]:
    """Return the ledger balances per venue and asset, valued in the valuation asset."""
    portfolio = api.node.portfolio
    items = []
    for b in portfolio.all_balances():
        if not b.total:
            continue
        price = portfolio.price_on(b.venue, b.asset)  # the venue's own price, as in equity
        items.append(
            {
                "venue": b.venue,
                "asset": b.asset,
                "free": plain(b.free),
                "locked": plain(b.locked),
                "total": plain(b.total),
                "value": text(b.total * price) if price is not None else None,
            }
        )
    return {"items": items, "valuation_asset": portfolio.valuation_asset}


@router.get(f"{API}/balances/combined")
async def get_combined_balances(
    who: Principal = viewer, api: ApiState = state_dep
) -> dict[str, Any]:
    """Return every venue's balances in one view: per asset totals with each venue's part, and
    per venue values, in the valuation asset."""
    portfolio = api.node.portfolio
    return combine(holdings_of(portfolio), portfolio.valuation_asset).to_json()


@router.get(f"{API}/positions")
async def get_positions(
    who: Principal = viewer,
    api: ApiState = state_dep,
    status: str = Query("open", pattern="^(open|closed)$"),
    strategy_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    offset: OffsetParam = 0,
) -> dict[str, Any]:
    """Return open positions (live), or closed round trips from the database."""
    node = api.node
    if status == "open":
        mark_of = node.portfolio.mark_of
        items = [
            position_json(p, *mark_of(p.venue, p.symbol))
            for p in node.portfolio.open_positions()
            if strategy_id is None or p.strategy_id == strategy_id
        ]
        return page(items[offset : offset + limit], limit, offset, len(items))
    rows = node.storage.load_position_rows("closed", strategy_id, limit + offset)
    return page([clean(r) for r in rows[offset:]], limit, offset)


@router.get(f"{API}/equity")
async def get_equity(
    who: Principal = viewer, api: ApiState = state_dep, points: int = Query(500, ge=2, le=5000)
) -> dict[str, Any]:
    """Return the equity curve, each point's drawdown in the curve, the run's max drawdown and
    the held assets no market prices (counted as nothing)."""
    node = api.node
    figures = node.figures()
    curve = list(node.equity_curve)
    now = node.clock.now_ms()
    if not curve or curve[-1][0] < now:
        curve.append((now, figures.equity))
    # measured over the whole curve before it is thinned, or a peak between the points sent
    # would be missed; the newest point is the run's own figure, measured from the run's peak
    # (which also sees the equity between samples), as `/state` and `status` show it
    dd = analytics.drawdowns([e for _, e in curve])
    dd[-1] = float(figures.drawdown_pct)
    pairs = list(zip(curve, dd, strict=True))
    if len(pairs) > points:
        step = len(pairs) / points
        pairs = [pairs[int(i * step)] for i in range(points - 1)] + [pairs[-1]]
    return {
        "points": [
            {"ts": t, "equity": plain(e), "drawdown_pct": round(d, 4)} for (t, e), d in pairs
        ],
        # the run's figure (node.figures), not the deepest dip among the points sent
        "max_drawdown_pct": round(float(figures.max_drawdown_pct), 4),
        # held assets no market prices (e.g. an outcome contract whose book has no bids): the
        # equity counts them as nothing, said here rather than silently
        "unpriced": node.portfolio.unpriced_assets(),
        # prices read from a ticker or book for held assets no stream marks: each one's age;
        # one not read again within node.reference_price_max_age_s is stale (still counted)
        "reference_prices": (refs := reference_ages(node)),
        "stale_prices": sorted(a for a, r in refs.items() if r["stale"]),
    }

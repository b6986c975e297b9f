"""JSON shapes of the API: orders, fills, positions, events, pages and the trading state.

Decimals go out as their exact strings; the hot reads skip FastAPI's validation pass through
`json_response`.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from fastapi.responses import Response

from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.money import plain
from tradeguard.model.order import Order
from tradeguard.model.position import Position
from tradeguard.node.kill_restart import kill_engaged, unfinished_reason
from tradeguard.portfolio.analytics import Performance

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


def text(v: Decimal | None) -> str | None:
    """Return a Decimal as its exact plain string (never an exponent), None as None."""
    return None if v is None else plain(v)


def _encode_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot encode a {type(value).__name__} as JSON")


def json_response(content: Any, status_code: int = 200) -> Response:
    """Encode `content` to JSON once (Decimal as its exact string), with no validation pass.

    For hot reads: FastAPI would otherwise validate the returned dict against its annotation
    and serialize it again.
    """
    body = orjson.dumps(content, default=_encode_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code, media_type="application/json")


def clean(value: Any) -> Any:
    """Make `value` JSON-ready: Decimals as strings, containers as lists and string-keyed dicts."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean(v) for v in value]
    return value


def page(items: list[Any], limit: int, offset: int, total: int | None = None) -> dict[str, Any]:
    """Wrap one page of `items` with its limit, offset, count and (when known) total."""
    out: dict[str, Any] = {"items": items, "limit": limit, "offset": offset, "count": len(items)}
    if total is not None:
        out["total"] = total
    return out


def performance_json(perf: Performance) -> dict[str, Any]:
    """Describe performance figures: money as decimal strings, a non-finite float null, never "inf".

    A profit factor with no losing trade is unbounded: null, with `profit_factor_infinite`.
    """
    out: dict[str, Any] = {}
    for key, value in asdict(perf).items():
        if isinstance(value, Decimal):  # money (total and mean P&L): an exact string
            out[key] = plain(value)
            continue
        finite = not isinstance(value, float) or math.isfinite(value)
        out[key] = value if finite else None
    pf = perf.profit_factor
    out["profit_factor_infinite"] = pf is not None and math.isinf(pf)
    return out


def order_json(o: Order) -> dict[str, Any]:
    """Describe an order for the API."""
    return {
        "client_order_id": o.client_order_id,
        "venue_order_id": o.venue_order_id,
        "strategy_id": o.strategy_id,
        "venue": o.venue,
        "symbol": o.symbol,
        "side": o.side.value,
        "type": o.type.value,
        "amount": plain(o.amount),
        "price": text(o.price),
        "time_in_force": o.time_in_force.value,
        "reduce_only": o.reduce_only,
        "status": o.status.value,
        "filled": plain(o.filled),
        "avg_price": plain(o.avg_price),
        "fee": plain(o.fee),
        "reason": o.reason,
        "price_bound": text(o.price_bound),
        "stop_loss": text(o.stop_loss),
        "take_profit": text(o.take_profit),
        "signal": clean(o.signal),
        "created_ts": o.created_ts,
        "updated_ts": o.updated_ts,
    }


def fill_json(f: Fill) -> dict[str, Any]:
    """Describe a fill for the API."""
    return {
        "venue": f.venue,
        "symbol": f.symbol,
        "client_order_id": f.client_order_id,
        "venue_order_id": f.venue_order_id,
        "trade_id": f.trade_id,
        "side": f.side.value,
        "price": plain(f.price),
        "amount": plain(f.amount),
        "fee": plain(f.fee),
        "fee_asset": f.fee_asset,
        "liquidity": f.liquidity.value,
        "ts": f.ts,
    }


def position_json(p: Position, mark: Decimal | None, borrowed: bool = False) -> dict[str, Any]:
    """Describe an open position, valued at `mark` (`borrowed`: another venue's price, the
    position's venue having none yet)."""
    return {
        "venue": p.venue,
        "symbol": p.symbol,
        "strategy_id": p.strategy_id,
        "side": "long" if p.quantity > 0 else "short",
        "quantity": plain(p.quantity),
        "entry_price": plain(p.avg_entry),
        "mark": text(mark),
        "mark_from_other_venue": borrowed,
        "unrealized_pnl": text(p.unrealized_pnl(mark)) if mark is not None else None,
        "unrealized_pnl_pct": text(p.unrealized_pnl_pct(mark)) if mark is not None else None,
        "realized_pnl": plain(p.realized_pnl),
        "fees": plain(p.fees),
        "stop_loss": text(p.stop_loss),
        "take_profit": text(p.take_profit),
        "opened_ts": p.opened_ts,
        "status": "open",
    }


def event_json(e: Event) -> dict[str, Any]:
    """Describe an event as the stream and GET /events send it."""
    return {
        "type": "event",
        "kind": e.kind,
        "ts": e.ts,
        "venue": e.venue,
        "symbol": e.symbol,
        "strategy_id": e.strategy_id,
        "severity": e.severity,
        "data": clean(e.data),
    }


def state_payload(node: TradingNode) -> dict[str, Any]:
    """Build the body of GET /state from the node's live objects (never cached).

    Read on every request: it must show a kill, a resume or a fill at once.
    """
    risk = node.risk
    snap = risk.snapshot()
    portfolio = node.portfolio
    figures = node.figures()
    equity = figures.equity
    snap["equity"] = equity  # one equity figure: the risk engine's last sample may trail it
    day_start = risk.day_start_equity
    daily = snap["limits"]["daily_loss"]
    return {
        "mode": node.mode.value,
        "trading_state": risk.state.value,
        "reason": risk.state_reason,
        "by": risk.state_by,
        "kill_switch": {
            "engaged": kill_engaged(risk),
            "last": risk.last_kill,
            # a kill that never ended (cut short): why, until a start finishes it
            "unfinished": unfinished_reason(risk.last_kill, risk.last_resume),
        },
        # the loss limit tripped last: its mode, what it did, whether it holds the state
        "loss_halt": snap["loss_halt"],
        "daily_pnl": {
            "pnl": equity - day_start if day_start is not None else None,
            "loss_used": daily.get("used"),
            "limit": daily.get("limit"),
            "used_pct": daily.get("used_pct"),
        },
        "equity": equity,
        "start_equity": figures.start_equity,
        "peak_equity": figures.peak_equity,
        "max_drawdown_pct": figures.max_drawdown_pct,
        "drawdown_pct": figures.drawdown_pct,
        "realized_pnl": figures.realized_pnl,
        "unrealized_pnl": figures.unrealized_pnl,
        "fees": figures.fees,
        "open_orders": len(node.orders.open),
        "open_positions": len(portfolio.open_positions()),
        "valuation_asset": portfolio.valuation_asset,
        "risk": snap,
        "ts": node.clock.now_ms(),
        # a replay's candles done of its data's (at its last checkpoint; where a stop asked
        # for ended it, once ended); null for a live or sandbox run
        "replay": _replay_progress(node),
    }


def _replay_progress(node: TradingNode) -> dict[str, int] | None:
    if node.mode.value not in ("paper", "backtest"):
        return None
    done, total = node._replay_progress
    return {"candles_done": done, "candles_total": total}

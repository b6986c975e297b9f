"""A run's closed trades as the backtest reports them: round trips with their fees and reasons.

The round trips are the portfolio's; the reasons are the `signal["reason"]` of the orders whose
fills opened and closed them (read back from the journal), the fees the sum of those fills'.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from decimal import Decimal

from tradeguard.backtest.metrics import TradeRecord
from tradeguard.model.enums import Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.model.position import ClosedTrade

ZERO = Decimal(0)


def trade_records(
    closed: Iterable[ClosedTrade], orders: Iterable[Order], fills: Sequence[Fill]
) -> list[TradeRecord]:
    """Join round trips with the fills (oldest first) and orders that made them."""
    by_id = {o.client_order_id: o for o in orders}
    by_key: dict[tuple[str, str], list[Fill]] = {}
    for fill in fills:
        order = by_id.get(fill.client_order_id)
        strategy_id = order.strategy_id if order is not None else ""
        by_key.setdefault((strategy_id, fill.symbol), []).append(fill)
    # Each key's fills are in time order: a trade's fills are one slice, found by bisection
    # (a scan per trade would make a busy run's report quadratic in its fills).
    stamps = {key: [f.ts for f in fs] for key, fs in by_key.items()}
    out: list[TradeRecord] = []
    for t in closed:
        key = (t.strategy_id, t.symbol)
        ts = stamps.get(key, [])
        mine = by_key.get(key, [])[bisect_left(ts, t.opened_ts) : bisect_right(ts, t.closed_ts)]
        opening = Side.BUY if t.side is Side.BUY else Side.SELL
        entry = next((f for f in mine if f.side is opening), None)
        exit_ = next((f for f in reversed(mine) if f.side is not opening), None)
        out.append(
            TradeRecord(
                symbol=t.symbol,
                strategy_id=t.strategy_id,
                side="long" if t.side is Side.BUY else "short",
                entry_ts=t.opened_ts,
                exit_ts=t.closed_ts,
                entry_price=t.entry_price,
                exit_price=t.exit_price,
                amount=t.amount,
                pnl=t.pnl,
                pnl_pct=t.pnl_pct,
                fees=sum((f.fee for f in mine), ZERO),
                entry_reason=_reason(entry, by_id),
                exit_reason=_reason(exit_, by_id),
            )
        )
    out.sort(key=lambda r: (r.exit_ts, r.symbol))
    return out


def _reason(fill: Fill | None, orders: dict[str, Order]) -> str:
    if fill is None:
        return "unknown"
    order = orders.get(fill.client_order_id)
    if order is None:
        return "unknown"
    reason = order.signal.get("reason") if order.signal else None
    return str(reason or "signal")

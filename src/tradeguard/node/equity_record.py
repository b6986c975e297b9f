"""What the node records of each equity figure: the run's start, peak and drawdown, the equity
curve, the day's opening equity and its summary, and the risk engine's view.

```python
observe_equity(node, ts, symbol)   # after a mark or a balance change
```

While equity is provisional (a venue's holdings at another venue's price until its own quotes
arrive; held at most `risk.stale_data_s`, as the breakers hold it), none of it is recorded as if
it were real: the run's peak, the curve and the day's opening equity wait for the first figure
the breakers act on.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.alerts.rules import daily_summary_event
from tradeguard.model.enums import TradingState
from tradeguard.node.cash_flows import apply_cash_flows, flows_due

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode
    from tradeguard.portfolio.portfolio import Portfolio

_DAY_MS = 86_400_000


def observe_equity(node: TradingNode, ts: int, symbol: str = "") -> None:
    """Record the equity at `ts` (recomputed when `symbol` moves a holding or it is stale)."""
    # outside money booked is counted before equity that holds it; asked only once the
    # storage booked an adjustment or one waits for a price (a backtest books none)
    watch = node.flow_watch
    if (node.storage.adjustments_recorded != watch.recorded or watch.waiting) and flows_due(node):
        apply_cash_flows(node)
    # Equity moves only when a held asset's mark or a balance changes; skip the sum (and the
    # run figures, which it alone moves) otherwise.
    held = node.held_cached()
    if held is None:
        held = node.held_symbols()
    fresh = node._equity_dirty or symbol in held
    risk = node.risk
    if fresh:
        node._equity = equity = node.portfolio.equity()
        node._equity_dirty, risk.provisional = False, node.portfolio.provisional()
    else:
        equity = node._equity
    if risk.provisional is not None and risk.held_provisional():
        return  # the breakers wait for real quotes (risk.stale_data_s): so does every record
    run = node.run_equity
    if fresh or run.last != equity:  # a figure held before is recorded once it is acted on
        run.observe(equity)
    day = ts // _DAY_MS
    if day != node._day:  # a day held provisional so far opens at its first real figure
        fresh = True
        if node._day is not None:
            daily_summary(node, node._day, ts, equity)
        node._day = day
        node._day_start_equity = equity
    curve = node.equity_curve
    if ts >= node._next_sample:
        curve.append((ts, equity))
        node._next_sample = ts + node.equity_sample_ms
    elif fresh and curve and curve[-1][0] == ts:
        # another market's candle closing at the sample's time: the sample counts it too
        curve[-1] = (ts, equity)
    # The same equity on the same day trips nothing while trading is ACTIVE; a replay
    # committing whole candles carries the risk state in each commit, so it may skip it.
    if fresh or not node._candle_units or risk.state is not TradingState.ACTIVE:
        risk.observe_equity(ts, equity)


def daily_summary(node: TradingNode, day: int, ts: int, equity: Decimal) -> None:
    """Publish the P&L summary of the UTC day that just ended (audit log and alerts)."""
    label = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    start = node._day_start_equity
    node.bus.publish(
        daily_summary_event(
            label, ts, equity - start, equity=equity, start_equity=start,
            open_positions=len(node.portfolio.open_positions()),
            currency=node.config.node.valuation_asset,
        )
    )  # fmt: skip


__all__ = ["daily_summary", "observe_equity"]


def equity_provisional(portfolio: Portfolio) -> str:
    """Why the equity now is no real figure, or "": a venue's holdings valued at another
    venue's price until its own quotes arrive, or holdings no price values, counted at zero (a
    leg held when a run stops, whose market has no quote). A summary printing the equity says so."""
    why = [portfolio.provisional() or ""]
    unpriced = portfolio.unpriced_assets()
    if unpriced:
        shown = ", ".join(unpriced[:5]) + (
            f" and {len(unpriced) - 5} more" if len(unpriced) > 5 else ""
        )
        why.append(f"no price for {shown}: counted at 0")
    return "; ".join(w for w in why if w)

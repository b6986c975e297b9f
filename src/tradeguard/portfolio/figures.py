"""One snapshot of the run's figures that every surface (CLI, API, metrics, dashboard) reads.

Definitions, each in one place:
- realized P&L: the sum of the P&L of every closed position (as stored, so it survives restarts);
- unrealized P&L: open positions at their marks;
- equity: every balance valued in the valuation asset;
- peak, drawdown and max drawdown: an `EquityTracker` over the run's equity (portfolio.equity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.model.money import plain

ZERO = Decimal(0)


@dataclass(slots=True)
class TradeTotals:
    """A strategy's closed trades so far: how many, how many won, their P&L."""

    trades: int = 0
    wins: int = 0
    pnl: Decimal = ZERO

    def add(self, pnl: Decimal) -> None:
        self.trades += 1
        self.wins += pnl > 0
        self.pnl += pnl

    def remove(self, pnl: Decimal) -> None:
        """Take back a trade `add` counted (its close never happened)."""
        self.trades -= 1
        self.wins -= pnl > 0
        self.pnl -= pnl

    @property
    def losses(self) -> int:
        return self.trades - self.wins


@dataclass(frozen=True, slots=True)
class Figures:
    """The run's money figures at one moment, in the valuation asset."""

    equity: Decimal
    start_equity: Decimal
    peak_equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    max_drawdown_pct: Decimal
    drawdown_pct: Decimal
    trades: Mapping[str, TradeTotals] = field(default_factory=dict)

    @property
    def total_pnl(self) -> Decimal:
        return self.equity - self.start_equity

    @property
    def closed_trades(self) -> int:
        return sum(t.trades for t in self.trades.values())

    @property
    def winning_trades(self) -> int:
        return sum(t.wins for t in self.trades.values())

    def to_json(self) -> dict[str, Any]:
        """Return the figures with Decimals as strings, trades per strategy."""
        out: dict[str, Any] = {
            name: plain(getattr(self, name))
            for name in (
                "equity", "start_equity", "peak_equity", "realized_pnl", "unrealized_pnl",
                "fees", "max_drawdown_pct", "drawdown_pct", "total_pnl",
            )
        }  # fmt: skip
        out["trades"] = {
            sid: {"trades": t.trades, "won": t.wins, "lost": t.losses, "pnl": plain(t.pnl)}
            for sid, t in sorted(self.trades.items())
        }
        return out

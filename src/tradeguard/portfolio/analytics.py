"""Performance figures from closed-trade P&L and equity samples: pure functions over plain data.

```python
win_rate([10, -5, 7])            # 0.666…
profit_factor([10, -5, 7])       # 3.4
sharpe([0.01, -0.005, 0.02])     # per-period mean over standard deviation
```

Ratios are analytics, so they work in floats; the P&L sums (`Performance.total_pnl`,
`avg_pnl`) are money and stay `Decimal`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

Number = float | int | Decimal


def _floats(values: Iterable[Number]) -> list[float]:
    return [float(v) for v in values]


def win_rate(pnls: Iterable[Number]) -> float | None:
    """Return the share of trades with a positive P&L (0..1), or None without trades."""
    xs = _floats(pnls)
    if not xs:
        return None
    return sum(1 for x in xs if x > 0) / len(xs)


def profit_factor(pnls: Iterable[Number]) -> float | None:
    """Return gross profit over gross loss; inf when nothing lost, None without a win or loss."""
    xs = _floats(pnls)
    gross_win = sum(x for x in xs if x > 0)
    gross_loss = -sum(x for x in xs if x < 0)
    if gross_loss == 0:
        return math.inf if gross_win > 0 else None
    return gross_win / gross_loss


def sharpe(returns: Iterable[Number], periods_per_year: float | None = None) -> float | None:
    """Return mean over sample standard deviation of `returns` (annualised if asked).

    None with fewer than two returns or no variation (the ratio is undefined then).
    """
    xs = _floats(returns)
    n = len(xs)
    if n < 2:
        return None
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    if var <= 0:
        return None
    ratio = mean / math.sqrt(var)
    if periods_per_year is not None:
        ratio *= math.sqrt(periods_per_year)
    return ratio


def returns_of(equity: Sequence[Number]) -> list[float]:
    """Return the simple returns between consecutive equity samples (zero samples skipped)."""
    xs = _floats(equity)
    return [b / a - 1 for a, b in pairwise(xs) if a]


def drawdowns(equity: Sequence[Number]) -> list[float]:
    """Return, per sample, the drawdown from the running peak in percent (0 at a new peak)."""
    out: list[float] = []
    peak = -math.inf
    for x in _floats(equity):
        peak = max(peak, x)
        out.append((peak - x) / peak * 100 if peak > 0 else 0.0)
    return out


def max_drawdown_pct(equity: Sequence[Number]) -> float:
    """Return the largest drawdown from a running peak, in percent (0 for an empty curve)."""
    return max(drawdowns(equity), default=0.0)


@dataclass(frozen=True, slots=True)
class Performance:
    """A strategy's figures for the API and dashboard."""

    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    sharpe: float | None
    total_pnl: Decimal
    avg_pnl: Decimal | None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict: money as decimal strings, an infinite profit factor "inf"."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and math.isinf(value):
                out[key] = "inf"
            elif isinstance(value, Decimal):
                out[key] = str(value)
        return out


def performance(pnls: Iterable[Number], pnl_pcts: Iterable[Number] | None = None) -> Performance:
    """Summarise closed trades; Sharpe is per trade, over `pnl_pcts` when given, else the P&Ls."""
    exact = [v if isinstance(v, Decimal) else Decimal(str(v)) for v in pnls]
    xs = _floats(exact)
    per_trade = _floats(pnl_pcts) if pnl_pcts is not None else xs
    total = sum(exact, Decimal(0))
    return Performance(
        trades=len(xs),
        wins=sum(1 for x in xs if x > 0),
        losses=sum(1 for x in xs if x <= 0),
        win_rate=win_rate(xs),
        profit_factor=profit_factor(xs),
        sharpe=sharpe(per_trade),
        total_pnl=total,
        avg_pnl=total / len(exact) if exact else None,
    )

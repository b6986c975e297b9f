"""Backtest figures: pure functions over an equity curve and a list of closed trades.

Conventions (stated once, used by every surface that shows these figures):
- Returns are daily: the equity curve's last value of each UTC day, each day against the day
  before (the first day against the starting equity).
- Annualisation uses 365 days a year (crypto trades every day); the risk-free rate is 0.
- Sharpe = mean(daily) / stdev(daily, n-1) * sqrt(365).
- Sortino = mean(daily) / sqrt(mean(min(daily, 0)^2)) * sqrt(365) (downside over every day).
- CAGR = (end / start) ^ (365 days / span) - 1, the span being first to last curve point.
- Max drawdown is the one definition of `portfolio.equity.EquityTracker` over the curve.
- Calmar = CAGR / max drawdown (both as fractions).
- Exposure = the share of the curve's span with at least one position open.

Analytics, so floats; money stays `Decimal` everywhere else.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.portfolio.analytics import profit_factor, win_rate
from tradeguard.portfolio.equity import EquityTracker

DAY_MS = 86_400_000
DAYS_PER_YEAR = 365


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One closed round trip as a backtest reports it."""

    symbol: str
    strategy_id: str
    side: str  # "long" | "short"
    entry_ts: int
    exit_ts: int
    entry_price: Decimal
    exit_price: Decimal
    amount: Decimal
    pnl: Decimal  # net of fees
    pnl_pct: Decimal
    fees: Decimal
    entry_reason: str
    exit_reason: str

    @property
    def duration_s(self) -> float:
        return (self.exit_ts - self.entry_ts) / 1000

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Decimal) else value
        out["duration_s"] = self.duration_s
        return out


def daily_closes(curve: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Return the last equity of each UTC day of `curve` as (day start ms, equity)."""
    out: list[tuple[int, float]] = []
    for ts, equity in curve:
        day = ts - ts % DAY_MS
        if out and out[-1][0] == day:
            out[-1] = (day, equity)
        else:
            out.append((day, equity))
    return out


def daily_returns(curve: Sequence[tuple[int, float]], start_equity: float) -> list[float]:
    """Return each UTC day's simple return (the first day's against `start_equity`)."""
    out: list[float] = []
    prev = start_equity
    for _, equity in daily_closes(curve):
        if prev:
            out.append(equity / prev - 1)
        prev = equity
    return out


def sharpe_ratio(returns: Sequence[float], periods: int = DAYS_PER_YEAR) -> float | None:
    """Return the annualised Sharpe ratio (rf = 0), or None with < 2 returns or no variation."""
    if len(returns) < 2:
        return None
    sd = statistics.stdev(returns)
    if sd <= 0:
        return None
    return statistics.fmean(returns) / sd * math.sqrt(periods)


def sortino_ratio(returns: Sequence[float], periods: int = DAYS_PER_YEAR) -> float | None:
    """Return the annualised Sortino ratio (target 0), or None with < 2 returns or no loss."""
    if len(returns) < 2:
        return None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside <= 0:
        return None
    return statistics.fmean(returns) / downside * math.sqrt(periods)


def cagr(start: float, end: float, span_ms: int) -> float | None:
    """Return the compound annual growth rate, or None without a span or a positive start."""
    if span_ms <= 0 or start <= 0 or end < 0:
        return None
    years = span_ms / DAY_MS / DAYS_PER_YEAR
    return (end / start) ** (1 / years) - 1


def max_drawdown_pct(curve: Iterable[tuple[int, float]]) -> float:
    """Return the deepest drawdown of the curve in percent (EquityTracker's definition).

    Only a point above the running peak or below the lowest point since that peak can move
    the tracker's figure: the others (most of a curve) are not made `Decimal` and observed.
    `Decimal(repr(x))` orders as the floats do, so the comparisons here decide as the
    tracker's would."""
    tracker = EquityTracker()
    peak = low = math.nan  # the floats of the tracker's peak and of the lowest point under it
    for _, equity in curve:
        if low <= equity <= peak:
            continue  # neither a new peak nor a new low: the tracker's figure stays
        tracker.observe(Decimal(repr(equity)))
        if not equity <= peak:  # a new peak (or the first point)
            peak = low = equity
        elif equity < low:
            low = equity
    return float(tracker.max_drawdown_pct)


def exposure(
    trades: Sequence[TradeRecord], start_ts: int, end_ts: int, open_since: Sequence[int] = ()
) -> float | None:
    """Return the share of [start_ts, end_ts] with at least one trade open (0..1).

    `open_since` holds the entry times of positions still open when the run ended: each counts
    as open from its entry to `end_ts`.
    """
    span = end_ts - start_ts
    if span <= 0:
        return None
    covered = 0
    cur_lo = cur_hi = None
    spans = [(t.entry_ts, t.exit_ts) for t in trades] + [(ts, end_ts) for ts in open_since]
    for lo, hi in sorted((max(lo, start_ts), min(hi, end_ts)) for lo, hi in spans if hi > lo):
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None and cur_lo is not None:
                covered += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None and cur_lo is not None:
        covered += cur_hi - cur_lo
    return covered / span


def trade_table(trades: Sequence[TradeRecord]) -> dict[str, Any]:
    """Return the trade-only figures: counts, win rate, profit factor, expectancy, durations."""
    pnls = [float(t.pnl) for t in trades]
    durations = [t.duration_s for t in trades]
    pf = profit_factor(pnls)
    return {
        "trades": len(trades),
        "wins": sum(1 for p in pnls if p > 0),
        "losses": sum(1 for p in pnls if p <= 0),
        "win_rate": win_rate(pnls),
        "profit_factor": "inf" if pf == math.inf else pf,
        "expectancy": statistics.fmean(pnls) if pnls else None,
        "net_pnl": sum(pnls),
        "fees": sum(float(t.fees) for t in trades),
        "avg_duration_s": statistics.fmean(durations) if durations else None,
        "median_duration_s": statistics.median(durations) if durations else None,
    }


def grouped(trades: Sequence[TradeRecord], key: str) -> dict[str, dict[str, Any]]:
    """Return `trade_table` per value of a TradeRecord field (`symbol`, `exit_reason`)."""
    groups: dict[str, list[TradeRecord]] = {}
    for t in trades:
        groups.setdefault(str(getattr(t, key)), []).append(t)
    return {name: trade_table(rows) for name, rows in sorted(groups.items())}


def compute_metrics(
    curve: Sequence[tuple[int, float]],
    trades: Sequence[TradeRecord],
    start_equity: float,
    fees: float | None = None,
    open_since: Sequence[int] = (),
    period: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Return every backtest figure as a JSON-ready dict (see the module doc for conventions).

    `open_since`: entry times of the positions still open at the end (they count in exposure).
    `period`: the run's period (epoch ms), the earliest open time of its candles to the latest
    close time, over which CAGR and exposure count; without it, the curve's first to last point.
    """
    end_equity = curve[-1][1] if curve else start_equity
    start_ts = curve[0][0] if curve else 0
    end_ts = curve[-1][0] if curve else 0
    if period is not None and period[0] and period[1] > period[0]:
        start_ts, end_ts = period
    returns = daily_returns(curve, start_equity)
    growth = cagr(start_equity, end_equity, end_ts - start_ts)
    mdd = max_drawdown_pct([(start_ts, start_equity), *curve])
    table = trade_table(trades)
    wins_share = table.pop("win_rate")
    return {
        "start_equity": start_equity,
        "end_equity": end_equity,
        "total_return_pct": (end_equity / start_equity - 1) * 100 if start_equity else None,
        "cagr_pct": growth * 100 if growth is not None else None,
        "sharpe": sharpe_ratio(returns),
        "sortino": sortino_ratio(returns),
        "calmar": growth / (mdd / 100) if growth is not None and mdd > 0 else None,
        "max_drawdown_pct": mdd,
        "exposure_pct": _pct(exposure(trades, start_ts, end_ts, open_since)),
        **table,
        "win_rate_pct": _pct(wins_share),
        "fees": table["fees"] if fees is None else fees,
        "days": len(returns),
        "first_ts": start_ts,
        "last_ts": end_ts,
        "per_pair": grouped(trades, "symbol"),
        "per_exit_reason": grouped(trades, "exit_reason"),
        "conventions": "daily returns, 365-day year, rf=0",
    }


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100

"""Figures over recorded arbitrage cycles, folded in one cycle at a time.

```python
summary = ArbSummary()
for row in load_arb_figures(storage, strategy_id="tri"):   # or any mapping with those keys
    summary.add(row)
summary.to_json()
```

Definitions the API and the dashboard share:
- a cycle *sent an order* unless its outcome is `rejected`;
- a cycle *has a fill* when it is `completed`, `unwound` or `held` (the executor's outcomes for
  a cycle whose first leg traded); it is *profitable* when its actual profit is above zero;
- slippage is actual % minus expected %, averaged over the cycles with a fill;
- latency percentiles are over the cycles that sent an order (nearest rank);
- profit is summed per start asset, never across assets;
- a held position settled at its market's resolution changes its cycle's trade by what it paid
  less what the cycle counted it at (`settle`): its profit, and won or lost when that turns;
  every figure (profit, win rate, the trades' P&L) counts the trade as settled.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeguard.model.money import plain
from tradeguard.portfolio.figures import TradeTotals

OUTCOMES = ("completed", "unwound", "held", "rejected", "failed")
# kv key of a strategy's settlement changes (`ArbSummary.settled_json`)
SETTLED_KEY = "arb.settled_figures:{}"
WITH_FILL = frozenset({"completed", "unwound", "held"})
_ZERO = Decimal(0)


def decimal_or_none(value: Any) -> Decimal | None:
    """Read a stored figure (Decimal, or its string in JSON) as a Decimal; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def settlement_entries(
    data: Mapping[str, Any] | None,
) -> list[tuple[Decimal, Decimal, int | None, Decimal | None]]:
    """Read the settlements `ArbSummary.settled_json` kept: (booked, realised, record id,
    capital) each, in the order they were folded in."""
    out = []
    for rid, booked, realised, capital in (data or {}).get("records") or []:
        b, r = decimal_or_none(booked), decimal_or_none(realised)
        if b is not None and r is not None:
            out.append((b, r, None if rid is None else int(rid), decimal_or_none(capital)))
    return out


def percentile(sorted_values: list[int], pct: float) -> int | None:
    """Return the nearest-rank percentile of ascending values, None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class Settled:
    """A held position's settlement as its cycle's trade sees it (USD): the record counted it
    at `booked` (None: not counted in the figures) and it realised `realised`."""

    booked: Decimal | None
    realised: Decimal
    record_id: int | None = None
    capital: Decimal | None = None


@dataclass(slots=True)
class CycleResult:
    """One cycle with a fill, as performance figures need it."""

    start_asset: str
    profit: Decimal
    profit_pct: Decimal
    record_id: int | None = None


@dataclass(slots=True)
class ArbSummary:
    """Figures over recorded cycles, folded in one by one (a cycle is never taken out).

    A row holds: outcome, start_asset, actual_profit, actual_profit_pct, expected_profit_pct,
    latency_ms, ts and held (asset -> amount, for `held` cycles); figures may be Decimals or
    their strings.
    """

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    profitable: int = 0
    profit: dict[str, Decimal] = field(default_factory=dict)  # start asset -> summed profit
    profit_cycles: dict[str, int] = field(default_factory=dict)  # start asset -> cycles
    slippage_sum: Decimal = _ZERO
    slippage_n: int = 0
    latencies_ms: list[int] = field(default_factory=list)  # kept sorted
    held: dict[str, Decimal] = field(default_factory=dict)  # asset -> amount left by held cycles
    held_cycles: int = 0
    last_held_ts: int | None = None
    results: list[CycleResult] = field(default_factory=list)
    # each settlement folded in: [record id or None, booked, realised, capital] (`settle`)
    settlements: list[list[Any]] = field(default_factory=list)

    def settle(
        self,
        booked: Decimal,
        realised: Decimal,
        record_id: int | None = None,
        capital: Decimal | None = None,
        asset: str = "USD",
    ) -> None:
        """Fold in a held position's settlement: its cycle's trade (`record_id`, which cost
        `capital`) counted it at `booked` and it realised `realised` at its market's
        resolution, both in `asset`, the cycle's start asset."""
        self.settlements.append([record_id, plain(booked), plain(realised), _text(capital)])
        self.profit[asset] = self.profit.get(asset, _ZERO) + realised - booked
        self.profit_cycles.setdefault(asset, 1)  # its record is folded in first, always
        found = next(
            (r for r in reversed(self.results) if r.record_id == record_id),
            None,
        ) if record_id is not None else None  # fmt: skip
        if found is None:  # no record to read: the settlement's own turn
            self.profitable += (realised > 0) - (booked > 0)
            return
        # one cycle, one trade: won or lost by its whole profit, however many positions it
        # settles (a pair and a lone leg beside it)
        before = found.profit > 0
        found.profit += realised - booked
        self.profitable += (found.profit > 0) - before
        if capital:
            found.profit_pct = found.profit / capital * 100

    def settled_json(self) -> dict[str, Any]:
        """The settlements, to keep (`SETTLED_KEY`) and fold in again (`restore_settled`)."""
        return {"records": list(self.settlements)}

    def restore_settled(self, data: Mapping[str, Any] | None) -> None:
        """Fold in again what `settled_json` returned (None: no settlement yet)."""
        for entry in settlement_entries(data):
            self.settle(*entry)

    def trade_totals(
        self, price_of: Callable[[str], Decimal | None], closed: TradeTotals | None
    ) -> TradeTotals:
        """A multi-leg strategy's trades, `closed` and these cycles: each cycle with a fill, its
        profit valued now (`price_of` an asset in the run's valuation asset)."""
        pnl = _ZERO
        for asset, profit in self.profit.items():
            price = price_of(asset)
            if price is not None:  # an asset without a price stays out of P&L, not the counts
                pnl += profit * price
        base = closed or TradeTotals()
        wins = base.wins + self.profitable
        return TradeTotals(base.trades + self.with_fill, wins, base.pnl + pnl)

    def add(self, row: Mapping[str, Any]) -> None:
        """Fold in one recorded cycle."""
        outcome = str(row["outcome"])
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome == "rejected":
            return
        latency = row.get("latency_ms")
        if latency is not None:
            bisect.insort(self.latencies_ms, int(latency))
        if outcome not in WITH_FILL:
            return
        asset = str(row["start_asset"])
        profit = decimal_or_none(row.get("actual_profit")) or _ZERO
        pct = decimal_or_none(row.get("actual_profit_pct")) or _ZERO
        self.profit[asset] = self.profit.get(asset, _ZERO) + profit
        self.profit_cycles[asset] = self.profit_cycles.get(asset, 0) + 1
        rid = row.get("id")
        self.results.append(CycleResult(asset, profit, pct, None if rid is None else int(rid)))
        if profit > 0:
            self.profitable += 1
        expected = decimal_or_none(row.get("expected_profit_pct"))
        if expected is not None:
            self.slippage_sum += pct - expected
            self.slippage_n += 1
        if outcome == "held":
            self.held_cycles += 1
            ts = int(row["ts"])
            self.last_held_ts = ts if self.last_held_ts is None else max(self.last_held_ts, ts)
            for held_asset, amount in (row.get("held") or {}).items():
                q = decimal_or_none(amount)
                if q is not None:
                    self.held[held_asset] = self.held.get(held_asset, _ZERO) + q

    @property
    def cycles(self) -> int:
        """Return every recorded cycle, whatever its outcome."""
        return sum(self.outcomes.values())

    @property
    def sent(self) -> int:
        """Return the cycles that sent at least one order (all but `rejected`)."""
        return self.cycles - self.outcomes.get("rejected", 0)

    @property
    def with_fill(self) -> int:
        """Return the cycles whose first leg traded (completed, unwound or held)."""
        return sum(self.outcomes.get(o, 0) for o in WITH_FILL)

    def to_json(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data (Decimals as strings, shares 0..1)."""
        sent, with_fill = self.sent, self.with_fill
        completed = self.outcomes.get("completed", 0)
        return {
            "cycles": self.cycles,
            "by_outcome": dict(self.outcomes),
            "sent": sent,
            "with_fill": with_fill,
            "profitable": self.profitable,
            "completed_rate": completed / sent if sent else None,
            "win_rate": self.profitable / with_fill if with_fill else None,
            "profit": {
                asset: {
                    "total": plain(total),
                    "mean": plain(total / self.profit_cycles[asset]),
                    "cycles": self.profit_cycles[asset],
                }
                for asset, total in sorted(self.profit.items())
            },
            "slippage_pct": {
                "mean": plain(self.slippage_sum / self.slippage_n) if self.slippage_n else None,
                "cycles": self.slippage_n,
            },
            "latency_ms": {
                "p50": percentile(self.latencies_ms, 50),
                "p99": percentile(self.latencies_ms, 99),
                "cycles": len(self.latencies_ms),
            },
            "held": {a: plain(q) for a, q in sorted(self.held.items()) if q},
            "held_cycles": self.held_cycles,
            "last_held_ts": self.last_held_ts,
        }

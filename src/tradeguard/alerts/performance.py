"""Performance alerts: a low win rate or Sharpe over the last trades, unusual volume on a symbol.

Unlike the rules in `rules.py`, these need memory: the last N closed trades (from
`position.closed` events) and a rolling mean of each symbol's candle volume. Win rate and Sharpe
alert when they cross below their threshold and again only after recovering; volume alerts on
symbols this node has traded, rate-limited per symbol by `alerts.min_interval_s`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeguard.alerts.config import PerformanceConfig
from tradeguard.alerts.rules import Alert
from tradeguard.model.events import Event, EventKind
from tradeguard.model.market import Candle

_YEAR_MS = 365 * 86_400_000


def rolling_sharpe(returns: list[float], span_ms: int) -> float | None:
    """Annualised Sharpe of per-trade returns spread over `span_ms`; None when undefined."""
    n = len(returns)
    if n < 2 or span_ms <= 0:
        return None
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    if var <= 1e-18:  # equal returns (up to float noise): no spread, no ratio
        return None
    trades_per_year = (n - 1) * _YEAR_MS / span_ms
    return mean / math.sqrt(var) * math.sqrt(trades_per_year)


class PerformanceWatch:
    """Remember recent trades and volumes; say when a performance alert is due."""

    def __init__(self, config: PerformanceConfig) -> None:
        self.config = config
        n = max(config.win_rate_trades, config.sharpe_trades)
        self._trades: deque[tuple[int, float]] = deque(maxlen=n)  # (ts, pnl_pct)
        self._low: set[str] = set()  # rules whose figure is below its threshold now
        self._volumes: dict[str, deque[float]] = {}
        self._sums: dict[str, float] = {}
        self.traded: set[str] = set()

    def to_state(self) -> dict[str, Any]:
        """What the watch remembers, JSON-ready, so a resumed run alerts as an uninterrupted one."""
        return {
            "trades": [list(t) for t in self._trades],
            "low": sorted(self._low),
            "volumes": {sym: list(w) for sym, w in self._volumes.items()},
            "sums": dict(self._sums),
            "traded": sorted(self.traded),
        }

    def load_state(self, data: Mapping[str, Any]) -> None:
        """Take back what `to_state` saved (windows cut to this config's lengths)."""
        self._trades.clear()
        self._trades.extend((int(ts), float(pct)) for ts, pct in data.get("trades") or ())
        self._low = {str(rule) for rule in data.get("low") or ()}
        maxlen = self.config.volume_window
        self._volumes = {
            str(sym): deque((float(v) for v in vols), maxlen=maxlen)
            for sym, vols in (data.get("volumes") or {}).items()
        }
        sums = data.get("sums") or {}
        self._sums = {
            sym: float(sums[sym]) if sym in sums and len(w) == len(data["volumes"][sym]) else sum(w)
            for sym, w in self._volumes.items()
        }
        self.traded = {str(sym) for sym in data.get("traded") or ()}

    def on_event(self, event: Event) -> list[Alert]:
        """Take a bus event; return the performance alerts it raises (often none)."""
        if event.kind in (EventKind.FILL, EventKind.POSITION_OPENED) and event.symbol:
            self.traded.add(event.symbol)
            return []
        if event.kind != EventKind.POSITION_CLOSED:
            return []
        try:
            pct = float(Decimal(str(event.data.get("pnl_pct"))))
        except (InvalidOperation, ValueError):
            return []
        self._trades.append((event.ts, pct))
        return [a for a in (self._win_rate(event.ts), self._sharpe(event.ts)) if a is not None]

    def _edge(self, rule: str, low: bool) -> bool:
        """Tell whether `rule` just went low (alert once per crossing)."""
        if not low:
            self._low.discard(rule)
            return False
        if rule in self._low:
            return False
        self._low.add(rule)
        return True

    def _win_rate(self, ts: int) -> Alert | None:
        n = self.config.win_rate_trades
        if len(self._trades) < n:
            return None
        last = list(self._trades)[-n:]
        wins = sum(1 for _, pct in last if pct > 0)
        rate = wins * 100 / n
        if not self._edge("win_rate_low", rate < self.config.win_rate_min_pct):
            return None
        text = (
            f"Win rate {rate:.1f}% over the last {n} closed trades ({wins} won), below "
            f"alerts.performance.win_rate_min_pct = {self.config.win_rate_min_pct}%"
        )
        return Alert("win_rate_low", "Win rate low", text, "warning", f"win_rate_low:{ts}", ts)

    def _sharpe(self, ts: int) -> Alert | None:
        n = self.config.sharpe_trades
        if len(self._trades) < n:
            return None
        last = list(self._trades)[-n:]
        sharpe = rolling_sharpe([pct for _, pct in last], last[-1][0] - last[0][0])
        if sharpe is None:
            return None
        if not self._edge("sharpe_low", sharpe < self.config.sharpe_min):
            return None
        text = (
            f"Sharpe ratio {sharpe:.2f} (annualised) over the last {n} closed trades, below "
            f"alerts.performance.sharpe_min = {self.config.sharpe_min}"
        )
        return Alert("sharpe_low", "Sharpe ratio low", text, "warning", f"sharpe_low:{ts}", ts)

    def on_candle(self, candle: Candle) -> Alert | None:
        """Take a closed candle; return an alert when its volume is unusual on a traded symbol."""
        sym = candle.symbol
        window = self._volumes.get(sym)
        if window is None:
            window = self._volumes[sym] = deque(maxlen=self.config.volume_window)
            self._sums[sym] = 0.0
        volume = float(candle.volume)
        full = len(window) == window.maxlen
        mean = self._sums[sym] / len(window) if window else 0.0
        if full:
            self._sums[sym] -= window[0]
        window.append(volume)
        self._sums[sym] += volume
        factor = self.config.volume_factor
        if not full or sym not in self.traded or mean <= 0 or volume <= factor * mean:
            return None
        text = (
            f"Unusual volume on {sym}: {volume:,.2f} in one candle, {volume / mean:.1f} x the "
            f"mean of the last {len(window) - 1} ({mean:,.2f}); "
            f"alerts.performance.volume_factor = {factor}"
        )
        return Alert(
            "unusual_volume",
            f"Unusual volume: {sym}",
            text,
            "warning",
            f"unusual_volume:{sym}",
            candle.close_ts,
        )

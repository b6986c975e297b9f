"""Equity and drawdown: one definition of peak, drawdown % and max drawdown for every surface.

```python
t = EquityTracker()
t.observe(Decimal(100)); t.observe(Decimal(90))
t.drawdown_pct()      # Decimal("10")
t.max_drawdown_pct    # Decimal("10")
```

Zero or negative equity has no drawdown percentage (there is nothing to divide by): every figure
here answers None or 0 then, never an error.
"""

from __future__ import annotations

from decimal import Decimal

_HUNDRED = Decimal(100)
ZERO = Decimal(0)


def drawdown_pct(peak: Decimal | None, equity: Decimal) -> Decimal | None:
    """Return how far `equity` is below `peak` in percent, or None without a positive peak."""
    if peak is None or peak <= 0:
        return None
    return (peak - equity) / peak * _HUNDRED


class EquityTracker:
    """Follow one equity series: the latest value, the running peak and the deepest drawdown."""

    __slots__ = ("_trough", "last", "max_drawdown_pct", "peak", "start")

    def __init__(
        self,
        peak: Decimal | None = None,
        last: Decimal | None = None,
        start: Decimal | None = None,
        max_drawdown: Decimal = ZERO,
    ) -> None:
        self.peak = peak
        self.last = last
        self.start = start
        self.max_drawdown_pct = max_drawdown
        # (peak, lowest equity under it): between new lows the max drawdown cannot grow
        self._trough: tuple[Decimal, Decimal] | None = None

    def observe(self, equity: Decimal) -> bool:
        """Record one equity value; return True when it sets a new peak."""
        self.last = equity
        if self.start is None:
            self.start = equity
        peak = self.peak
        if peak is None or equity > peak:
            self.peak = equity
            return True
        trough = self._trough
        if peak > 0 and (trough is None or trough[0] is not peak or equity < trough[1]):
            self._trough = (peak, equity)
            dd = (peak - equity) / peak * _HUNDRED
            if dd > self.max_drawdown_pct:
                self.max_drawdown_pct = dd
        return False

    def drawdown_pct(self, equity: Decimal | None = None) -> Decimal | None:
        """Return the drawdown of `equity` (default: the latest) from the peak, in percent."""
        value = self.last if equity is None else equity
        if value is None:
            return None
        return drawdown_pct(self.peak, value)

    def restart_peak(self) -> None:
        """Measure the next drawdown from the latest equity (after an operator's resume)."""
        if self.last is not None:
            self.peak = self.last
            self._trough = None

    def shift(self, value: Decimal, last: Decimal | None = None) -> None:
        """Move the start, the peak and the latest value by money moved in or out from outside,
        which is no gain or drawdown (the max drawdown reached so far stays); the latest value
        by `last` instead when given (money the latest value no longer holds, moved earlier)."""
        if self.start is not None:
            self.start += value
        if self.peak is not None:
            self.peak += value
        if self.last is not None:
            self.last += value if last is None else last
        self._trough = None

    @property
    def has_equity(self) -> bool:
        """Tell whether the latest equity is known and above zero."""
        return self.last is not None and self.last > 0

"""The market state and marks a steady stretch has not written yet, written when read; the
mark guard's bands it has not built yet, built when read (`PendingBands`).

A steady stretch (backtest/steady.py) does not store each candle in the market state
(`MarketState.candles`, its close time and mid) and the portfolio's marks as it goes: it notes
the candle it is at (`cur`), and `settle` writes, for each symbol, the last candle among those
not yet written. Whatever reads them (`MarketState`'s readers and writers, `Portfolio.marks`)
settles first, so a strategy, the paper venue or the equity sees what the eager writes left;
the stretch settles at its end. Only symbols already in all of those dictionaries are run this
way, so settling overwrites values and never adds a key (their order and count, and the
portfolio's `marks_version`, stay as the eager writes leave them). A candle the mark guard
decides in Decimal is written at once (`now`): its mark only if taken.
"""

from __future__ import annotations

from decimal import getcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradeguard.marketdata.state import MarketState
    from tradeguard.model.market import Candle


class Pending:
    """Candles `start`..`cur` of `candles` (one block's) noted and not written yet."""

    __slots__ = ("candles", "cur", "market", "marks", "n", "start")

    def __init__(
        self, candles: list[Candle], start: int, market: MarketState, marks: dict[str, Any], n: int
    ) -> None:
        self.candles = candles
        self.start = start
        self.cur = start - 1
        self.market = market
        self.marks = marks  # the portfolio's own dictionary, not a copy
        self.n = n  # how many symbols the candles may be of: the backward scan's end

    def settle(self) -> None:
        """Write each symbol's last candle among `start`..`cur`: its market state and mark."""
        start, cur = self.start, self.cur
        if cur < start:
            return
        self.start = cur + 1
        candles, market, marks, n = self.candles, self.market, self.marks, self.n
        m_candles, m_last, m_mid, quotes = (
            market._candles, market._last_ms, market._mid, market.quotes
        )  # fmt: skip
        seen: set[str] = set()
        for j in range(cur, start - 1, -1):
            c = candles[j]
            symbol = c.symbol
            if symbol in seen:
                continue
            seen.add(symbol)
            m_candles[symbol] = c
            m_last[symbol] = c.ts + c.interval_s * 1000
            close = c.close
            if symbol not in quotes:
                m_mid[symbol] = close
            marks[symbol] = close
            if len(seen) == n:
                break

    def now(self, k: int) -> None:
        """Write candle k's market state now, the candles before it first; its mark is the
        caller's (only once the guard has taken it). Nothing is left pending."""
        self.cur = k - 1
        self.settle()
        c = self.candles[k]
        market, symbol = self.market, c.symbol
        market._candles[symbol] = c
        market._last_ms[symbol] = c.ts + c.interval_s * 1000
        if symbol not in market.quotes:
            market._mid[symbol] = c.close
        self.start, self.cur = k + 1, k


class PendingBands:
    """The mark guard's bands a steady stretch has moved to a new mark and not built yet.

    Where the band follows the mark (a close within the limit, off the near range), the stretch
    moves only its float shadow and the band's accepted mark, and notes the close the band is
    to be built on (its shadow's last item, steady.`_shadow`); `settle` builds those bands (the
    Decimal products the guard's `_follow` takes, in the stretch's decimal context) and makes
    the shadows stand for them. The guard settles before any of its methods reads a band
    (`MarkGuard.pending`), the stretch before it compares a bar with the Decimal limit and at
    its end. Every method of the guard that reads or writes a band settles first, so `touched`
    (set by each `settle`) tells the stretch a band may have been replaced since it last
    looked: it then looks each one up again (steady.`_resync`) instead of at every candle."""

    __slots__ = ("bands", "context", "dirty", "shadows", "touched")

    def __init__(self, bands: dict[Any, list[Any]], shadows: list[tuple[Any, list[Any]]]) -> None:
        self.bands = bands  # the guard's own dictionary
        self.shadows = shadows  # (the guard's key, its float shadow) of each symbol run
        self.context = getcontext()  # the replay's, whatever context a strategy enters
        self.dirty = False  # a band noted and not built
        self.touched = True  # settled (a guard's method called) since the shadows were checked

    def settle(self) -> None:
        """Build every band noted: on its noted close, keeping the accepted mark it holds."""
        self.touched = True
        if not self.dirty:
            return
        self.dirty = False
        bands, mul = self.bands, self.context.multiply
        for key, sh in self.shadows:
            close = sh[9]
            if close is None:
                continue
            sh[9] = None
            old = bands.get(key)
            if old is None or old is not sh[0]:  # not the band the shadow moved (none is)
                continue
            f, down, up, near_down, near_up = factors = sh[7]
            sh[0] = bands[key] = [mul(close, down), mul(close, up), old[2], f,
                                  mul(close, near_down), mul(close, near_up), factors]  # fmt: skip

    def band(self, key: Any) -> list[Any]:
        """The band of `key`, built if noted."""
        self.settle()
        return self.bands[key]

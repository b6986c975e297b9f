"""Hold a bad print: a mark far from the last accepted one waits for a second update.

```python
g = MarkGuard(Decimal(30), Decimal(0), outcome_venues=frozenset())
g.take("binance", "BTC/USDT", Decimal(50_000), 0)   # True: the first mark is taken as it is
g.take("binance", "BTC/USDT", Decimal(50), 1)       # False: 99.9 % away, held as suspect
g.take("binance", "BTC/USDT", Decimal(50_010), 2)   # True: back at the old level, 50 dropped
```

A mark more than the limit away from the last accepted mark of that symbol on that venue is
*suspect*: the caller keeps the last accepted mark (equity, drawdown and the loss limits read
it), and `suspect` holds the price until it is settled. The next update that is not the same
price settles it: within the limit of the last accepted mark, the print is dropped (a log
line); within the limit of the suspect price, or further on from the last accepted mark on the
suspect's side (a crash falling past the limit on every update: 100, 40, 16 ...), the move is
confirmed and that update is taken (the breakers act on it as on any mark); anywhere else (the
far side of the last accepted mark), the new price is the suspect. The
guard lives in memory: after a restart the first mark of each symbol is taken as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

log = logging.getLogger(__name__)

_HUNDRED = Decimal(100)
_ONE = Decimal(1)

# [lowest, highest price within the limit of the mark the band was built on, the last accepted
# mark, the limit as a fraction, lowest, highest price the band is kept for]: a move within 1/64
# of the limit from the band's mark is taken without rebuilding it (two compares and a store),
# so the limit holds to within about 1/64 of itself
Band = list[Decimal]
# the limit as a fraction f: (f, 1 - f, 1 + f, 1 - f/64, 1 + f/64)
Factors = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
# told when a suspect is raised, dropped or confirmed:
# (venue, symbol, price, accepted, limit_pct, what, ts)
Notify = Callable[[str, str, Decimal, Decimal, Decimal, str, int], None]


class MarkGuard:
    """Decide, mark by mark, whether a price is taken or held as a suspect print."""

    __slots__ = (
        "_bands",
        "_fracs",
        "_off",
        "_pcts",
        "data_venue",
        "notify",
        "outcome_venues",
        "suspect",
    )

    def __init__(
        self,
        jump_pct: Decimal,
        outcome_jump_pct: Decimal,
        outcome_venues: frozenset[str] = frozenset(),
        notify: Notify | None = None,
    ) -> None:
        # index 0: spot and other markets; 1: prediction-market outcome tokens
        self._pcts = (jump_pct, outcome_jump_pct)
        self._fracs = (_factors(jump_pct), _factors(outcome_jump_pct))
        self.outcome_venues = outcome_venues
        self.notify = notify
        self._bands: dict[tuple[str, str], Band] = {}
        self._off: set[tuple[str, str]] = set()  # marks whose limit is 0: taken as they come
        # (venue, symbol) -> (suspect price, last accepted mark)
        self.suspect: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        # a venue trading on another's market data -> that venue (its marks are the other's)
        self.data_venue: dict[str, str] = {}

    def is_outcome(self, venue: str, symbol: str) -> bool:
        """Tell whether `symbol` from `venue` is an outcome token (a prediction-market venue's,
        or spelled `MARKET:YES/QUOTE`, `MARKET:NO/QUOTE`)."""
        return venue in self.outcome_venues or ":YES/" in symbol or ":NO/" in symbol

    def limit_pct(self, venue: str, symbol: str) -> Decimal:
        """The jump limit of `symbol`'s marks from `venue`, in percent (0: off)."""
        return self._pcts[self.is_outcome(venue, symbol)]

    def take(self, venue: str, symbol: str, price: Decimal, ts: int) -> bool:
        """Tell whether `price` becomes `symbol`'s mark on `venue` (False: hold the last)."""
        key = (venue, symbol)
        band = self._bands.get(key)
        if band is not None:
            if band[4] <= price <= band[5] and (not self.suspect or key not in self.suspect):
                band[2] = price  # near the band's mark: the band stands
                return True
            if band[0] <= price <= band[1] and (not self.suspect or key not in self.suspect):
                self._accept(key, price)  # the band follows the accepted mark
                return True
        elif key in self._off:
            return True
        return self._judge(key, band, price, ts)

    def _accept(self, key: tuple[str, str], price: Decimal) -> None:
        f, down, up, near_down, near_up = self._fracs[self.is_outcome(*key)]
        if f:
            self._bands[key] = [
                price * down,
                price * up,
                price,
                f,
                price * near_down,
                price * near_up,
            ]
        else:
            self._off.add(key)

    def _judge(self, key: tuple[str, str], band: Band | None, price: Decimal, ts: int) -> bool:
        venue, symbol = key
        if band is None:  # the first mark, or the guard is off for this market
            if key not in self._off:
                self._accept(key, price)
            return True
        held = self.suspect.get(key)
        pct = self.limit_pct(venue, symbol)
        where = f"{symbol} on {venue}" if venue else symbol
        if band[0] <= price <= band[1]:  # back within the limit of the accepted mark
            if held is not None:
                del self.suspect[key]
                log.warning(
                    "dropped a bad print of %s: %s, %s from the last accepted mark %s "
                    "(risk.max_mark_jump_pct=%s); back at %s",
                    where, held[0], _away(held[0], held[1]), held[1], pct, price,
                )  # fmt: skip
                self._tell(key, held[0], held[1], pct, "dropped", ts)
            self._accept(key, price)
            return True
        accepted = band[2]
        if held is not None and price == held[0]:
            return False  # the same price again is no confirmation
        if held is not None and _confirms(price, held[0], accepted, band[3]):
            del self.suspect[key]
            log.warning(
                "confirmed a mark of %s: %s then %s, away from the last accepted %s "
                "(risk.max_mark_jump_pct=%s)",
                where, held[0], price, accepted, pct,
            )  # fmt: skip
            self._tell(key, price, accepted, pct, "confirmed", ts)
            self._accept(key, price)
            return True
        self.suspect[key] = (price, accepted)
        log.warning(
            "held a suspect mark of %s: %s is %s from the last accepted %s, over "
            "risk.max_mark_jump_pct=%s; orders on it wait for a second update",
            where, price, _away(price, accepted), accepted, pct,
        )  # fmt: skip
        self._tell(key, price, accepted, pct, "suspect", ts)
        return False

    def _tell(
        self,
        key: tuple[str, str],
        price: Decimal,
        accepted: Decimal,
        pct: Decimal,
        what: str,
        ts: int,
    ) -> None:
        if self.notify is not None:
            self.notify(key[0], key[1], price, accepted, pct, what, ts)

    def rebase(self, venue: str, symbol: str, price: Decimal) -> None:
        """Take `price` as the accepted mark whatever it is (a replay's skipped stretch ends)."""
        self.suspect.pop((venue, symbol), None)
        self._accept((venue, symbol), price)

    def held(self, venue: str, symbol: str) -> tuple[Decimal, Decimal] | None:
        """The suspect price and last accepted mark pricing `venue`'s orders on `symbol` (a
        replay's candles name no venue: theirs price every venue's orders)."""
        suspect = self.suspect
        return suspect.get((self.data_venue.get(venue, venue), symbol)) or suspect.get(("", symbol))

    def forget(self) -> None:
        """Drop every band and suspect (a fresh start: the next marks are taken as they are)."""
        self._bands.clear()
        self._off.clear()
        self.suspect.clear()


def _factors(pct: Decimal) -> Factors:
    f = pct / _HUNDRED
    return f, _ONE - f, _ONE + f, _ONE - f / 64, _ONE + f / 64


def _confirms(price: Decimal, held: Decimal, accepted: Decimal, frac: Decimal) -> bool:
    """Tell whether `price`, far from `accepted`, confirms the `held` suspect: close to it, or
    further on from `accepted` on the same side (a crash falling past the limit every update)."""
    if abs(price - held) <= held * frac:
        return True
    return price < held if held < accepted else price > held


def _away(price: Decimal, accepted: Decimal) -> str:
    if accepted <= 0:
        return "away"
    return f"{abs(price - accepted) / accepted * _HUNDRED:.2f}%"

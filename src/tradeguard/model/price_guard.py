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
far side of the last accepted mark), the new price is the suspect. The same price again
settles nothing (a ticker polled again restamps a bad print), but as the close of a bar opened
once the held bar had closed (`take_bar`), or under `restamped` (the strategies' guard), it is a
second update and confirms: bars or a feed holding flat after a real move. A longer bar closing
on the same trade (an hour's and its last minute's) is the same print, not a second one.

A dropped print is remembered for the next `RECUR_WITHIN` accepted updates: a far price that
comes back near it (or further on its side) in that time, stamped at another time, confirms the
move at once. Two feeds interleaved, one of them stale (a crash, the old price, the crash
again ...), would otherwise drop the crash on every stale update and never confirm it; this way
the crash is taken on its second print, the fourth update at most.

`accepted()` lists the last accepted mark of every market and `restore` takes such a list back
(the node stores it with its checkpoints), so a bad first print after a restart is held too.
`state()` is everything the guard holds (suspects, dropped prints remembered, the bands) and
`load_state` takes it back whole: a replay stores it with each commit, so a resumed replay
judges its next candle as the run never stopped would.
A replay's steady stretch builds a band that follows the mark only when it is read (`pending`:
backtest/steady_pending.py); every method reading the bands settles it first.
The same rule guards the token_unlock strategy's prices (`strategies.exits.TickGuard`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
RECUR_WITHIN = 3  # accepted updates a dropped print is remembered for (see the module text)

# [lowest, highest price within the limit of the mark the band was built on, the last accepted
# mark, the limit as a fraction, lowest, highest price the band is kept for, the market's
# Factors]: a move within 1/64 of the limit from the band's mark is taken without rebuilding it
# (two compares and a store), so the limit holds to within about 1/64 of itself; a move further
# within the limit rebuilds it from the Factors it carries (`_follow`), no lookup of the market
Band = list[Any]
# the limit as a fraction f: (f, 1 - f, 1 + f, 1 - f/64, 1 + f/64)
Factors = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
# told when a suspect is raised, dropped or confirmed:
# (venue, symbol, price, accepted, limit_pct, what, ts)
Notify = Callable[[str, str, Decimal, Decimal, Decimal, str, int], None]
Key = tuple[str, str]


class MarkGuard:
    """Decide, mark by mark, whether a price is taken or held as a suspect print."""

    __slots__ = (
        "_bands",
        "_ends",
        "_fracs",
        "_left",
        "_off",
        "_outcome_venues",
        "_pcts",
        "_raised",
        "_recent",
        "_watch",
        "data_venue",
        "notify",
        "pending",
        "restamped",
        "setting",
        "suspect",
        "untied",
    )

    def __init__(
        self,
        jump_pct: Decimal,
        outcome_jump_pct: Decimal,
        outcome_venues: frozenset[str] = frozenset(),
        notify: Notify | None = None,
        setting: str = "risk.max_mark_jump_pct",
        restamped: bool = False,
    ) -> None:
        # index 0: spot and other markets; 1: prediction-market outcome tokens
        self._pcts = (jump_pct, outcome_jump_pct)
        self._fracs = (_factors(jump_pct), _factors(outcome_jump_pct))
        self._bands: dict[Key, Band] = {}
        self._outcome_venues = outcome_venues
        self.notify = notify
        self.setting = setting  # the limit's name in log lines
        # whether the suspect's price again at another time is a second message that confirms
        # it (the strategies' guard: a feed holding flat after a real crash); the node's marks
        # wait for another price (a ticker polled again restamps the same bad print)
        self.restamped = restamped
        self._off: set[Key] = set()  # marks whose limit is 0: taken as they come
        # (venue, symbol) -> (suspect price, last accepted mark)
        self.suspect: dict[Key, tuple[Decimal, Decimal]] = {}
        self._raised: dict[Key, int] = {}  # the time of each suspect's print
        self._ends: dict[Key, int] = {}  # when the bar a suspect close was held on closed
        # a dropped print: (price, its time, accepted updates it is still remembered for)
        self._recent: dict[Key, tuple[Decimal, int, int]] = {}
        self._watch: set[Key] = set()  # keys with a suspect or a dropped print remembered
        # the mark a confirmed move left: a print back there recurring confirms nothing (the
        # stale feed of an interleaved pair must not take the mark back)
        self._left: dict[Key, Decimal] = {}
        # a venue trading on another's market data -> that venue (its marks are the other's)
        self.data_venue: dict[str, str] = {}
        # venues trading on whichever venue's data arrives (a paper venue without data_venue)
        self.untied: set[str] = set()
        # None, or what builds the bands a steady stretch has not built yet (`settle()`):
        # every method that reads or writes a band settles it first, which also tells the
        # stretch a band may have been replaced (backtest/steady_pending.py)
        self.pending: Any = None

    @property
    def outcome_venues(self) -> frozenset[str]:
        """The prediction-market venues: their markets are outcome tokens."""
        return self._outcome_venues

    @outcome_venues.setter
    def outcome_venues(self, venues: frozenset[str]) -> None:
        # the bands built so far rebuild with their market's factors under these venues
        self._outcome_venues = venues
        for key, band in self._settled().items():
            band[6] = self._fracs[self.is_outcome(*key)]

    def is_outcome(self, venue: str, symbol: str) -> bool:
        """Tell whether `symbol` from `venue` is an outcome token (a prediction-market venue's,
        or spelled `MARKET:YES/QUOTE`, `MARKET:NO/QUOTE`)."""
        return venue in self._outcome_venues or ":YES/" in symbol or ":NO/" in symbol

    def limit_pct(self, venue: str, symbol: str) -> Decimal:
        """The jump limit of `symbol`'s marks from `venue`, in percent (0: off)."""
        return self._pcts[self.is_outcome(venue, symbol)]

    def take(self, venue: str, symbol: str, price: Decimal, ts: int) -> bool:
        """Tell whether `price` becomes `symbol`'s mark on `venue` (False: hold the last)."""
        key = (venue, symbol)
        if self.pending is not None:
            self.pending.settle()
        band = self._bands.get(key)
        if band is not None:
            if band[4] <= price <= band[5] and (not self._watch or key not in self._watch):
                band[2] = price  # near the band's mark: the band stands
                return True
            if band[0] <= price <= band[1] and (not self._watch or key not in self._watch):
                self._follow(key, band, price)  # the band follows the accepted mark
                return True
        elif key in self._off:
            return True
        return self._judge(key, band, price, ts, self.restamped)

    def take_bar(
        self, venue: str, symbol: str, price: Decimal, ts: int, opened: int, closes: int
    ) -> bool:
        """As `take`, for the close of a bar stamped `ts` that opened at `opened` and closes
        at `closes` (ms): a bar opened once the held bar had closed is a new stretch of trading,
        so the held price again as its close confirms it (bars holding flat after a real move);
        the same bar again, or a longer one closing on the same trade, does not."""
        key = (venue, symbol)
        if self._watch and key in self._watch:
            self._settled()
            end = self._ends.get(key)
            later = end is None or opened >= end  # held by a quote: another time will do
            taken = self._judge(key, self._bands.get(key), price, ts, later)
        else:
            taken = self.take(venue, symbol, price, ts)
        if not taken:  # the bars the held close was seen on end at the latest of them
            ends = self._ends
            if key not in ends or closes > ends[key]:
                ends[key] = closes
        return taken

    def take_candle(
        self,
        venue: str,
        symbol: str,
        close: Decimal,
        low: Decimal,
        high: Decimal,
        opened: int,
        closes: int,
    ) -> int:
        """A replayed bar through the guard in one call: `take_bar(venue, symbol, close, closes,
        opened, closes)`, then, when taken, `admits_bar(venue, symbol, low, high)`. Return 0
        (the close is held), 1 (taken; the bar reaches past the limit: it fills nothing) or 2
        (taken and admitted). A close near the band's mark (most bars) costs one lookup."""
        key = (venue, symbol)
        if self.pending is not None:
            self.pending.settle()
        watch = self._watch
        if not watch or key not in watch:
            band = self._bands.get(key)
            if band is not None:
                if band[4] <= close <= band[5]:
                    band[2] = close  # take(): near the band's mark, the band stands
                    return 2 if band[0] <= low and high <= band[1] else 1
                if band[0] <= close <= band[1]:  # take(): within the limit, the band follows
                    f, down, up, near_down, near_up = factors = band[6]
                    if f:  # _follow, inline
                        band = self._bands[key] = [
                            close * down, close * up, close, f, close * near_down,
                            close * near_up, factors,
                        ]  # fmt: skip
                    else:
                        self._accept(key, close)  # off now: the old band stays
                    return 2 if band[0] <= low and high <= band[1] else 1
        if not self.take_bar(venue, symbol, close, closes, opened, closes):
            return 0
        return 2 if self.admits_bar(venue, symbol, low, high) else 1

    def _settled(self) -> dict[Key, Band]:
        """The bands, those a steady stretch has not built yet built first (`pending`)."""
        if self.pending is not None:
            self.pending.settle()
        return self._bands

    def _follow(self, key: Key, band: Band, price: Decimal) -> None:
        """`_accept(key, price)` for a market with a band: built from the Factors it carries."""
        f, down, up, near_down, near_up = factors = band[6]
        if f:
            self._bands[key] = [
                price * down, price * up, price, f, price * near_down, price * near_up, factors
            ]  # fmt: skip
        else:
            self._accept(key, price)  # off now (another venue kind): the old band stays

    def _accept(self, key: Key, price: Decimal) -> Band | None:
        """Take `price` as the accepted mark of `key`; return its new band (None: off)."""
        venue, symbol = key  # is_outcome(venue, symbol), inline
        outcome = venue in self._outcome_venues or ":YES/" in symbol or ":NO/" in symbol
        factors = self._fracs[outcome]
        f, down, up, near_down, near_up = factors
        if f:
            band = self._bands[key] = [
                price * down,
                price * up,
                price,
                f,
                price * near_down,
                price * near_up,
                factors,
            ]
            return band
        self._off.add(key)
        return None

    def _judge(self, key: Key, band: Band | None, price: Decimal, ts: int, restamped: bool) -> bool:
        if band is None:  # the first mark, or the guard is off for this market
            if key not in self._off:
                self._accept(key, price)
            return True
        held = self.suspect.get(key)
        if band[0] <= price <= band[1]:  # back within the limit of the accepted mark
            if held is not None:
                self._drop(key, held, price, ts)
            else:
                self._age(key)
            self._accept(key, price)
            return True
        accepted = band[2]
        if held is not None and price == held[0] and (not restamped or ts == self._raised.get(key)):
            return False  # the same price again (or the same message) is no confirmation
        recent = self._recent.get(key)
        if (held is not None and _confirms(price, held[0], accepted, band[3])) or (
            recent is not None
            and ts != recent[1]
            and _confirms(price, recent[0], accepted, band[3])
            and not _near(price, self._left.get(key), band[3])
        ):
            first = held[0] if held is not None else recent[0]  # type: ignore[index]
            self._settle(key)
            self._left[key] = accepted
            log.warning(
                "confirmed a mark of %s: %s then %s, away from the last accepted %s (%s=%s)",
                _where(key), first, price, accepted, self.setting, self.limit_pct(*key),
            )  # fmt: skip
            self._tell(key, price, accepted, "confirmed", ts)
            self._accept(key, price)
            return True
        self._recent.pop(key, None)
        self._ends.pop(key, None)
        self.suspect[key] = (price, accepted)
        self._raised[key] = ts
        self._watch.add(key)
        log.warning(
            "held a suspect mark of %s: %s is %s from the last accepted %s, over %s=%s; "
            "orders on it wait for a second update",
            _where(key), price, _away(price, accepted), accepted, self.setting,
            self.limit_pct(*key),
        )  # fmt: skip
        self._tell(key, price, accepted, "suspect", ts)
        return False

    def _drop(self, key: Key, held: tuple[Decimal, Decimal], price: Decimal, ts: int) -> None:
        del self.suspect[key]
        self._ends.pop(key, None)
        self._recent[key] = (held[0], self._raised.pop(key, 0), RECUR_WITHIN)
        log.warning(
            "dropped a bad print of %s: %s, %s from the last accepted mark %s (%s=%s); back at %s",
            _where(key), held[0], _away(held[0], held[1]), held[1], self.setting,
            self.limit_pct(*key), price,
        )  # fmt: skip
        self._tell(key, held[0], held[1], "dropped", ts)

    def _age(self, key: Key) -> None:
        """One accepted update more since a print was dropped: forget it after RECUR_WITHIN."""
        recent = self._recent.get(key)
        if recent is not None and recent[2] > 1:
            self._recent[key] = (recent[0], recent[1], recent[2] - 1)
        else:
            self._settle(key)

    def _settle(self, key: Key) -> None:
        self.suspect.pop(key, None)
        self._raised.pop(key, None)
        self._ends.pop(key, None)
        self._recent.pop(key, None)
        self._watch.discard(key)

    def _tell(self, key: Key, price: Decimal, accepted: Decimal, what: str, ts: int) -> None:
        if self.notify is not None:
            self.notify(key[0], key[1], price, accepted, self.limit_pct(*key), what, ts)

    def rebase(self, venue: str, symbol: str, price: Decimal) -> None:
        """Take `price` as the accepted mark whatever it is (a replay's skipped stretch ends)."""
        self._settled()
        self._settle((venue, symbol))
        self._left.pop((venue, symbol), None)
        self._accept((venue, symbol), price)

    def admits(self, venue: str, symbol: str, price: Decimal) -> bool:
        """Whether `price` is within the limit of `symbol`'s last accepted mark on `venue` (or
        nothing guards it), without taking it: a book or trade that far off waits as a mark
        would."""
        band = self._settled().get((venue, symbol))
        return band is None or band[0] <= price <= band[1]

    def admits_bar(self, venue: str, symbol: str, low: Decimal, high: Decimal) -> bool:
        """Whether a bar from `low` to `high` stays within the limit of `symbol`'s last accepted
        mark on `venue` (or nothing guards it): a bar reaching further (a bad trade recorded in
        it) waits as such a trade would."""
        band = self._settled().get((venue, symbol))
        return band is None or (band[0] <= low and high <= band[1])

    def mark_for(self, venue: str, symbol: str, price: Decimal) -> Decimal:
        """`price` if within the limit of the last accepted mark pricing `venue`'s orders on
        `symbol` (or nothing guards it), else that mark: a book as far off as a held print
        values no order."""
        bands = self._settled()
        band = bands.get((self.data_venue.get(venue, venue), symbol)) or bands.get(("", symbol))
        if band is None and venue in self.untied:
            far = (b for (_, s), b in bands.items() if s == symbol and not b[0] <= price <= b[1])
            band = next(far, None)
        return price if band is None or band[0] <= price <= band[1] else band[2]

    def held(self, venue: str, symbol: str) -> tuple[Decimal, Decimal] | None:
        """The suspect price and last accepted mark pricing `venue`'s orders on `symbol` (a
        replay's candles name no venue: theirs price every venue's orders; a venue following
        no venue's data trades on whichever arrives: any venue's suspect prices its orders)."""
        suspect = self.suspect
        found = suspect.get((self.data_venue.get(venue, venue), symbol)) or suspect.get(
            ("", symbol)
        )
        if found is None and venue in self.untied:
            found = next((v for (_, s), v in suspect.items() if s == symbol), None)
        return found

    def accepted(self) -> dict[Key, Decimal]:
        """The last accepted mark of every market the guard watches."""
        return {key: band[2] for key, band in self._settled().items()}

    def restore(self, marks: dict[Key, Decimal]) -> None:
        """Take stored last accepted marks back (after a restart); a market with a mark of its
        own already keeps it."""
        self._settled()
        for key, price in marks.items():
            if key not in self._bands and key not in self._off and price > 0:
                self._accept(key, price)

    def state(self) -> dict[str, Any]:
        """Everything the guard holds, in plain JSON types (prices as text), for `load_state`."""
        return {
            "pct": [str(p) for p in self._pcts],
            "bands": [[*k, str(b[0]), str(b[1]), str(b[2]), str(b[4]), str(b[5])]
                      for k, b in self._settled().items()],
            "off": sorted(self._off),
            "suspect": [[*k, str(p), str(a), self._raised.get(k, 0)]
                        for k, (p, a) in self.suspect.items()],
            "recent": [[*k, str(p), t, n] for k, (p, t, n) in self._recent.items()],
            "watch": sorted(self._watch),
            "left": [[*k, str(p)] for k, p in self._left.items()],
            "ends": [[*k, t] for k, t in self._ends.items()],
        }  # fmt: skip

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Take back what `state()` gave, in place of all the guard holds. Stored under other
        limits, only the accepted marks come back (their bands built on the limits now). A
        damaged state raises (LookupError, TypeError, ValueError, ArithmeticError) and leaves the
        guard empty."""
        self.forget()
        try:
            bands = {_key(r): [Decimal(str(x)) for x in r[2:7]] for r in state["bands"]}
            if [Decimal(str(p)) for p in state["pct"]] != list(self._pcts):  # 5 is 5.0
                self.restore({k: b[2] for k, b in bands.items()})
                return
            for k, (lo, hi, accepted, near_lo, near_hi) in bands.items():
                factors = self._fracs[self.is_outcome(*k)]
                self._bands[k] = [lo, hi, accepted, factors[0], near_lo, near_hi, factors]
            self._off.update(_key(r) for r in state["off"])
            for r in state["suspect"]:
                self.suspect[_key(r)] = (Decimal(str(r[2])), Decimal(str(r[3])))
                self._raised[_key(r)] = int(r[4])
            for r in state["recent"]:
                self._recent[_key(r)] = (Decimal(str(r[2])), int(r[3]), int(r[4]))
            self._watch.update(_key(r) for r in state["watch"])
            self._left.update((_key(r), Decimal(str(r[2]))) for r in state["left"])
            self._ends.update((_key(r), int(r[2])) for r in state.get("ends", ()))
        except (LookupError, TypeError, ValueError, ArithmeticError):
            self.forget()
            raise

    def forget(self) -> None:
        """Drop every band and suspect (a fresh start: the next marks are taken as they are)."""
        self._settled().clear()
        self._off.clear()
        self.suspect.clear()
        self._raised.clear()
        self._ends.clear()
        self._recent.clear()
        self._watch.clear()
        self._left.clear()


def _key(row: Any) -> Key:
    venue, symbol = row[0], row[1]
    if not isinstance(venue, str) or not isinstance(symbol, str):
        raise TypeError(f"a market is named by two strings, not {venue!r}, {symbol!r}")
    return venue, symbol


def _factors(pct: Decimal) -> Factors:
    f = pct / _HUNDRED
    return f, _ONE - f, _ONE + f, _ONE - f / 64, _ONE + f / 64


def _confirms(price: Decimal, held: Decimal, accepted: Decimal, frac: Decimal) -> bool:
    """Tell whether `price`, far from `accepted`, confirms the `held` suspect: close to it, or
    further on from `accepted` on the same side (a crash falling past the limit every update)."""
    if abs(price - held) <= held * frac:
        return True
    return price < held if held < accepted else price > held


def _where(key: Key) -> str:
    return f"{key[1]} on {key[0]}" if key[0] else key[1]


def _near(price: Decimal, level: Decimal | None, frac: Decimal) -> bool:
    return level is not None and abs(price - level) <= level * frac


def _away(price: Decimal, accepted: Decimal) -> str:
    if accepted <= 0:
        return "away"
    return f"{abs(price - accepted) / accepted * _HUNDRED:.2f}%"

"""Stop-loss, take-profit and trailing-stop rules that any strategy can attach to a position."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.money import ZERO
from tradeguard.model.price_guard import MarkGuard

_HUNDRED = Decimal(100)


@dataclass(slots=True)
class ExitRules:
    """Percentages of entry price; a trailing stop arms once the move reaches its activation."""

    stop_loss_pct: Decimal = ZERO
    take_profit_pct: Decimal = ZERO
    trailing_stop_pct: Decimal = ZERO
    trailing_activation_pct: Decimal = ZERO

    def levels(self, entry: Decimal, long: bool) -> tuple[Decimal | None, Decimal | None]:
        """Return (stop price, take-profit price) for a position opened at `entry`."""
        sign = 1 if long else -1
        stop = entry * (1 - sign * self.stop_loss_pct / _HUNDRED) if self.stop_loss_pct else None
        take = (
            entry * (1 + sign * self.take_profit_pct / _HUNDRED) if self.take_profit_pct else None
        )
        return stop, take


@dataclass(slots=True)
class ExitTracker:
    """Follow one open position and say when (and why) it should be closed.

    `moved` turns True when an update moves the trailing stop's level: the stop arms, or an armed
    stop's best price (high for a long, low for a short) improves. Only that part of the tracker
    changes with the price and is not rebuilt from the position after a restart; the strategy
    passes it on (`Strategy.save_soon`) and clears it, so the node stores the state promptly.
    """

    rules: ExitRules
    entry: Decimal
    long: bool
    best: Decimal = ZERO
    trailing_armed: bool = False
    moved: bool = False

    def __post_init__(self) -> None:
        self.best = self.entry

    def update(self, price: Decimal) -> str | None:
        """Feed a new price; return "stop_loss", "take_profit", "trailing_stop" or None."""
        r = self.rules
        entry = self.entry
        if self.long:
            if price > self.best:
                self.best = price
                self.moved = self.moved or self.trailing_armed
            move_pct = (price - entry) / entry * _HUNDRED
        else:
            if price < self.best:
                self.best = price
                self.moved = self.moved or self.trailing_armed
            move_pct = (entry - price) / entry * _HUNDRED
        if r.stop_loss_pct and move_pct <= -r.stop_loss_pct:
            return "stop_loss"
        if r.take_profit_pct and move_pct >= r.take_profit_pct:
            return "take_profit"
        if r.trailing_stop_pct:
            if not self.trailing_armed:
                best = self.best
                best_move = (best - entry if self.long else entry - best) / entry * _HUNDRED
                if best_move >= r.trailing_activation_pct:
                    self.trailing_armed = self.moved = True
            if self.trailing_armed:
                retrace = (
                    (self.best - price) / self.best * _HUNDRED
                    if self.long
                    else (price - self.best) / self.best * _HUNDRED
                )
                if retrace >= r.trailing_stop_pct:
                    return "trailing_stop"
        return None

    def take_moved(self) -> bool:
        """Whether the trailing stop's level moved since the last call (and clear that)."""
        moved, self.moved = self.moved, False
        return moved


class TickGuard:
    """Hold back a price more than `max_move_pct` % away from the last one acted on.

    One absurd print (a price 1000x off) would otherwise fire a stop, or set a trailing stop's
    high that the next real price retraces from. The rule is the mark guard's
    (`model.price_guard.MarkGuard`, one market): a held price is acted on once another message
    (not a repeat of it: another time or price) is near it, the same price at another time
    included (a feed holding flat after a real crash), or further on from the last price on its
    side (a crash of over `max_move_pct` % a message); a price back near the last drops it, and
    a dropped price that comes back within a few messages is acted on (a stale feed interleaved
    with a real crash). A real gap costs one message, a lone bad tick nothing.
    `max_move_pct = 0` turns the guard off.
    """

    __slots__ = ("_guard", "_key", "_seen", "max_move_pct")

    def __init__(self, max_move_pct: Decimal = ZERO, symbol: str = "") -> None:
        self.max_move_pct = max_move_pct
        self._key = ("", symbol)  # named in the guard's log lines
        self._guard = MarkGuard(
            max_move_pct, max_move_pct, setting="max_tick_move_pct", restamped=True
        )
        self._seen = ZERO  # the last price, while the guard is off (stored all the same)

    @property
    def last(self) -> Decimal:
        """The last price passed on (0: none yet)."""
        return self._guard.accepted().get(self._key, self._seen)

    @last.setter
    def last(self, price: Decimal) -> None:
        if price > 0:
            self._seen = price
            self._guard.rebase(*self._key, price)

    def accept(self, price: Decimal, ts: int) -> bool:
        """Whether to act on `price` (at `ts`); a price far from the last one is held."""
        if not self.max_move_pct:
            self._seen = price
            return True
        return self._guard.take(*self._key, price, ts)

"""Taking back a trade's result whose sale FAILED (never settled): a loss out of the losing
streak and off the after-loss cooldowns, or a win's reset of the streak undone, so the streak
is what it would have been had the sale never filled (`loss_history`)."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.enums import TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.money import ZERO
from tradeguard.risk.loss_history import cycle_key
from tradeguard.risk.state import RiskState

LOSS_STREAK_BY = "breaker:consecutive_losses"
# what is left of a loss partly taken back below this (division's rounding) is no loss
_LOSS_LEFT_MIN = Decimal("0.000001")


class TakeBacks(RiskState):
    """The risk engine's take-backs (mixed into `RiskObservers`)."""

    def _trip_streak(self, ts: int) -> None:  # pragma: no cover - RiskObservers defines it
        raise NotImplementedError

    def take_back_cycle(
        self, strategy_id: str, record_id: int, ts: int, back: Decimal | None = None
    ) -> bool:
        """Take back the loss the record `record_id` of `strategy_id` fed (its sale's trade
        FAILED: the loss never happened); see `take_back_loss`."""
        return self.take_back_loss(strategy_id, cycle_key(record_id), ts, back,
                                   f"record {record_id}'s loss was taken back")  # fmt: skip

    def take_back_loss(
        self, strategy_id: str, key: str, ts: int, back: Decimal | None = None, why: str = ""
    ) -> bool:
        """Take back the loss `key` of `strategy_id` (an arbitrage record's, a closing fill's)
        whose sale's trade FAILED (the loss never happened): out of the losing streak while it
        still counts there, lifting the streak's pause when it tripped it and the rest is below
        `max_consecutive_losses`, and its after-loss cooldown off each market unless a later
        loss cooled it further. With `back` (what the failed trade took back of the loss's
        P&L, part of its sale failing), it stays a loss while what it lost exceeds what was
        taken back so far. Return whether a loss was taken back."""
        kept = self.losses.find(strategy_id, key)
        if kept is None:  # no loss kept: a win's reset of the streak, if one is
            return self._take_back_win(strategy_id, key, ts, back)
        if back is not None and kept.pnl < ZERO:
            kept.pnl += back
            if kept.pnl < -_LOSS_LEFT_MIN:  # the rest of the sale still lost: a losing trade
                self._dirty = True
                self._save()
                return False
        loss = self.losses.take(strategy_id, key)
        if loss is None:
            return False
        for symbol in loss.symbols:
            cooled = (strategy_id, symbol)
            if loss.until and self.cooldowns.get(cooled) == loss.until:
                prior = loss.prior.get(symbol, 0)
                if prior > ts:
                    self.cooldowns[cooled] = prior
                else:
                    self.cooldowns.pop(cooled, None)
        if loss.streak and self.consecutive_losses > 0:
            self.consecutive_losses -= 1
            if self.consecutive_losses < self.config.max_consecutive_losses:
                self._lift_streak(ts, why or f"the loss of {key} was taken back")
        self._dirty = True
        self._save()
        return True

    def _lift_streak(self, ts: int, why: str) -> None:
        """The streak's pause (or the one a halt was set over) ends: its streak is short now."""
        over = self.halted_over
        if over is not None and over.get("by") == LOSS_STREAK_BY:
            self.halted_over, self.reducing_until = None, None
        elif self.state is TradingState.REDUCING and self.state_by == LOSS_STREAK_BY:
            self.reducing_until = None
            self._set_state(TradingState.ACTIVE, f"consecutive-loss pause lifted: {why}",
                            LOSS_STREAK_BY)  # fmt: skip
            self._publish(EventKind.BREAKER_RESET, ts, {"breaker": "consecutive_losses"}, None)

    def _take_back_win(
        self, strategy_id: str, key: str, ts: int, back: Decimal | None = None
    ) -> bool:
        """The win `key` of `strategy_id` FAILED: the streak it ended is back in the current
        one (unless a later reset would have ended it too), which pauses new entries if it
        reaches `max_consecutive_losses`. With `back` (what its failure took back of its P&L),
        one whose rest of the sale still gained stands (what each part took back counted
        against what is left of it). Return whether a win was taken back."""
        win = self.losses.find_win(strategy_id, key)
        if win is None:
            return False
        if back is not None and win.pnl > ZERO:
            win.pnl += back
            if win.pnl > _LOSS_LEFT_MIN:  # the rest of the sale still gained: a winning trade
                self._dirty = True
                self._save()
                return False
        count = self.losses.take_win(strategy_id, key) or 0
        self.consecutive_losses += count
        self._dirty = True
        if count:
            self._trip_streak(ts)
        self._save()
        return True

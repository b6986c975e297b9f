"""The losing trades the risk engine counted by a key (an arbitrage record, a closing fill),
kept while they still count in the losing streak or their after-loss cooldown runs, so one found
later never to have happened (a sale whose trade FAILED on chain) can be taken back.

Only what could still be taken back is kept: a loss that no longer counts (a win ended its
streak and its cooldown ran out) is let go, and so is one older than `TAKE_BACK_MS`, past the
window in which its sale can still be flagged FAILED (`execution.failed_fills.FLAG_KEEP_MS`,
the same figure). The window counts the node's running time: a start credits each kept result
with the downtime since the state was last saved (`stopped`), as no sale could be seen FAILED
while the node was stopped. However many losses a streak holds, any of them within that window
can be taken back.

A keyed win that ended a streak is kept too (`Reset`, within the same window), with the count
it reset: its sale flagged FAILED, the streak is what it would have been had the sale never
filled (`take_win`): its count back in the streak, or, when a later reset (another win, a
pause's end, a resume) would have ended that streak anyway, folded into that reset. The losses
it gives back that are still kept count in the streak again (one let go meanwhile, cooled,
is back in the count only: it can no longer be taken back itself).

```python
losses.add(Loss("pmarb", "cycle:7", ("A",), until=..., prior={"A": 0}, streak=True, ts=now))
loss = losses.take("pmarb", "cycle:7")   # None: not kept (a win ended its streak, cooled)
losses.streak_over(now, 2, ("pmarb", "cycle:8", Decimal("0.4")))   # a win reset a streak of 2
losses.take_win("pmarb", "cycle:8")      # 2: back in the streak (None: no such win kept)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from tradeguard.model.money import ZERO, plain

# A loss is kept this long after its trade at most: a sale FAILS within minutes of its match,
# and a failed fill older than this is no longer cut (its flag's id is let go, see
# `execution.failed_fills.FLAG_KEEP_MS`), so its loss could never be taken back.
TAKE_BACK_MS = 7 * 86_400_000


def cycle_key(record_id: int) -> str:
    """The key of an arbitrage record's result."""
    return f"cycle:{record_id}"


def fill_key(venue: str, trade_id: str, side: str) -> str:
    """The key of the result of the closing fill of trade `trade_id` (`side`) on `venue`."""
    return f"fill:{venue}:{trade_id}:{side}"


@dataclass
class Loss:
    """One losing trade counted: what it moved of the streak and the cooldowns."""

    strategy_id: str
    key: str
    symbols: tuple[str, ...]
    until: int  # the after-loss cooldown it set on each symbol (0: none)
    prior: dict[str, int] = field(default_factory=dict)  # symbol -> cooldown before it
    streak: bool = True  # still counted in the losing streak (no win nor pause end since)
    pnl: Decimal = ZERO  # what it lost (negative) less what was taken back of it (0: unknown)
    ts: int = 0  # when it was counted (its trade's time)
    down: int = 0  # how long the node was stopped since (the window counts running time)

    def to_json(self) -> list[Any]:
        return [self.strategy_id, self.key, list(self.symbols), self.until, self.prior,
                self.streak, plain(self.pnl), self.ts, self.down]  # fmt: skip

    @classmethod
    def from_json(cls, raw: Any, now: int = 0) -> Loss | None:
        """One stored loss; one stored before its time was kept is dated `now`."""
        try:
            sid, key, symbols, until, prior, streak, *rest = raw  # no pnl: kept before it was
            return cls(str(sid), str(key), tuple(str(s) for s in symbols), int(until),
                       {str(s): int(u) for s, u in dict(prior).items()}, bool(streak),
                       Decimal(str(rest[0])) if rest else ZERO,
                       int(rest[1]) if len(rest) > 1 else now,
                       int(rest[2]) if len(rest) > 2 else 0)  # fmt: skip
        except (TypeError, ValueError, ArithmeticError):
            return None


@dataclass
class Reset:
    """A losing streak ended: by a keyed win (`key`), or else ('') a pause's end or a resume."""

    strategy_id: str
    key: str
    count: int  # the losses it took out of the streak
    streaked: list[list[str]] = field(default_factory=list)  # [strategy, key] of kept ones
    pnl: Decimal = ZERO  # the win's P&L
    ts: int = 0
    down: int = 0  # how long the node was stopped since

    def to_json(self) -> dict[str, Any]:
        return {"reset": [self.strategy_id, self.key, self.count, self.streaked,
                          plain(self.pnl), self.ts, self.down]}  # fmt: skip

    @classmethod
    def from_json(cls, raw: Any) -> Reset | None:
        try:
            sid, key, count, streaked, pnl, ts, *down = raw["reset"]
            kept = [[str(s), str(k)] for s, k in streaked]
            return cls(str(sid), str(key), int(count), kept, Decimal(str(pnl)), int(ts),
                       int(down[0]) if down else 0)  # fmt: skip
        except (TypeError, ValueError, KeyError, ArithmeticError):
            return None


class LossHistory:
    """The keyed losses still counted (newest last), and the streak resets a win's failed sale
    could still take back."""

    def __init__(self, losses: list[Loss] | None = None, resets: list[Reset] | None = None) -> None:
        self.losses: list[Loss] = losses or []
        self.resets: list[Reset] = resets or []
        # whether the resets are in the order they let go in (`ts + down` never falling): then
        # `prune` drops the expired ones from the head instead of walking them all (a backtest
        # keeps a week of wins: thousands walked at every save)
        self._in_order = _in_order(self.resets)
        # no reset ends before this (out of order, a walk finds the expired ones only once one is)
        self._soonest = _soonest(self.resets)

    def add(self, loss: Loss) -> None:
        """Keep `loss` (newest last), letting go of those that can no longer be taken back."""
        self.prune(loss.ts)
        self.losses.append(loss)

    def streak_over(
        self, now: int, count: int = 0, win: tuple[str, str, Decimal] | None = None
    ) -> None:
        """The losing streak of `count` losses ended (`win`: strategy, key and P&L of the win
        that ended it; else the pause's end, a resume): the losses count no more in it; those
        whose cooldown has run out are let go. The reset is kept while a win's is (`take_win`)."""
        streaked = [[x.strategy_id, x.key] for x in self.losses if x.streak]
        for loss in self.losses:
            loss.streak = False
        # kept: one that reset a streak, and each reset after a kept win (what that win's
        # take-back folds into: a win that reset nothing has nothing to give back of its own,
        # but once the wins before it FAILED it holds their streak, which the next one ends)
        target = bool(self.resets) and self.resets[-1].key != ""
        if count > 0 or target:
            sid, key, pnl = win or ("", "", ZERO)
            if self.resets and now < self.resets[-1].ts + self.resets[-1].down:
                self._in_order = False
            self._soonest = min(self._soonest, now)
            self.resets.append(Reset(sid, key, count, streaked, pnl, now))
        self.prune(now)

    def stopped(self, down: int) -> None:
        """The node was stopped `down` ms (from its last save to its start): no sale could
        be seen FAILED meanwhile, so the window of each kept result is that much longer."""
        for loss in self.losses:
            loss.down += max(down, 0)
        for reset in self.resets:
            reset.down += max(down, 0)
        self._soonest += max(down, 0)

    def find_win(self, strategy_id: str, key: str) -> Reset | None:
        wins = (x for x in self.resets if x.key)
        return next((x for x in wins if (x.strategy_id, x.key) == (strategy_id, key)), None)

    def take_win(self, strategy_id: str, key: str) -> int | None:
        """Remove the win `key` of `strategy_id` (its sale FAILED) and return the losses to put
        back in the current streak: its count, or 0 when a later reset would have ended that
        streak anyway (the count is folded into it). None: no such win kept."""
        win = self.find_win(strategy_id, key)
        if win is None:
            return None
        at = self.resets.index(win)
        del self.resets[at]
        if at < len(self.resets):  # a later reset: it takes the streak the win had ended
            later = self.resets[at]
            later.count += win.count
            later.streaked.extend(win.streaked)
            return 0
        back = {tuple(x) for x in win.streaked}
        for loss in self.losses:
            if (loss.strategy_id, loss.key) in back:
                loss.streak = True
        return win.count

    def prune(self, now: int) -> None:
        """Let go of the losses that count no more (out of the streak, cooled) and of those
        older than `TAKE_BACK_MS`, whose sale can no longer be flagged FAILED; so of the
        wins, and of the resets before the oldest win that reset a streak."""
        oldest = now - TAKE_BACK_MS  # by running time: a downtime since each is not counted
        resets = self.resets
        if self._in_order:  # the expired ones are a head: the rest end later
            gone = 0
            for reset in resets:
                if reset.ts + reset.down >= oldest:
                    break
                gone += 1
            if gone:
                del resets[:gone]
        elif self._soonest < oldest:  # some expired: walked, as they are out of order
            self.resets = [x for x in resets if x.ts + x.down >= oldest]
            self._in_order = _in_order(self.resets)
            self._soonest = _soonest(self.resets)
        while self.resets and not (self.resets[0].key and self.resets[0].count):
            del self.resets[0]  # nothing before it folds into it: it has nothing to give back
        self.losses = [
            x for x in self.losses if (x.streak or x.until > now) and x.ts + x.down >= oldest
        ]

    def find(self, strategy_id: str, key: str) -> Loss | None:
        return next((x for x in self.losses if (x.strategy_id, x.key) == (strategy_id, key)), None)

    def take(self, strategy_id: str, key: str) -> Loss | None:
        """Remove and return the loss `key` of `strategy_id`; a later loss on one of its
        symbols that found this one's cooldown finds the one before it instead."""
        loss = self.find(strategy_id, key)
        if loss is None:
            return None
        at = self.losses.index(loss)
        for later in self.losses[at + 1 :]:
            if later.strategy_id != strategy_id:
                continue
            for symbol, prior in later.prior.items():
                if symbol in loss.prior and loss.until and prior == loss.until:
                    later.prior[symbol] = loss.prior[symbol]
        del self.losses[at]
        return loss

    def to_json(self) -> list[Any]:
        return [*(x.to_json() for x in self.losses), *(x.to_json() for x in self.resets)]

    @classmethod
    def from_json(cls, raw: Any, now: int = 0) -> LossHistory:
        """The stored losses and resets; losses stored before their time was kept are dated
        `now`."""
        rows = raw if isinstance(raw, list) else []
        losses = [x for r in rows if not isinstance(r, dict) and (x := Loss.from_json(r, now))]
        resets = [w for r in rows if isinstance(r, dict) and (w := Reset.from_json(r))]
        return cls(losses, resets)


def _soonest(resets: list[Reset]) -> int:
    """When the first of `resets` to let go ends its window (`ts + down`)."""
    return min((x.ts + x.down for x in resets), default=2**62)


def _in_order(resets: list[Reset]) -> bool:
    """Whether `resets` let go in their order (`ts + down` never falling)."""
    ends = [x.ts + x.down for x in resets]
    return all(a <= b for a, b in pairwise(ends))


__all__ = ["TAKE_BACK_MS", "Loss", "LossHistory", "Reset", "cycle_key", "fill_key"]

"""The losing trades the risk engine counted by a key (an arbitrage record, a closing fill),
kept while they still count in the losing streak or their after-loss cooldown runs, so one found
later never to have happened (a sale whose trade FAILED on chain) can be taken back.

Only what could still be taken back is kept: a loss that no longer counts (a win ended its
streak and its cooldown ran out) is let go, and so is one older than `TAKE_BACK_MS`, past the
window in which its sale can still be flagged FAILED (`execution.failed_fills.FLAG_KEEP_MS`,
the same figure). However many losses a streak holds, any of them within that window can be
taken back.

```python
losses.add(Loss("pmarb", "cycle:7", ("A",), until=..., prior={"A": 0}, streak=True, ts=now))
loss = losses.take("pmarb", "cycle:7")   # None: not kept (a win ended its streak, cooled)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
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

    def to_json(self) -> list[Any]:
        return [self.strategy_id, self.key, list(self.symbols), self.until, self.prior,
                self.streak, plain(self.pnl), self.ts]  # fmt: skip

    @classmethod
    def from_json(cls, raw: Any, now: int = 0) -> Loss | None:
        """One stored loss; one stored before its time was kept is dated `now`."""
        try:
            sid, key, symbols, until, prior, streak, *rest = raw  # no pnl: kept before it was
            return cls(str(sid), str(key), tuple(str(s) for s in symbols), int(until),
                       {str(s): int(u) for s, u in dict(prior).items()}, bool(streak),
                       Decimal(str(rest[0])) if rest else ZERO,
                       int(rest[1]) if len(rest) > 1 else now)  # fmt: skip
        except (TypeError, ValueError, ArithmeticError):
            return None


class LossHistory:
    """The keyed losses still counted (newest last)."""

    def __init__(self, losses: list[Loss] | None = None) -> None:
        self.losses: list[Loss] = losses or []

    def add(self, loss: Loss) -> None:
        """Keep `loss` (newest last), letting go of those that can no longer be taken back."""
        self.prune(loss.ts)
        self.losses.append(loss)

    def streak_over(self, now: int) -> None:
        """The losing streak ended (a win, the pause's end): the losses count no more in it;
        those whose cooldown has run out are let go."""
        for loss in self.losses:
            loss.streak = False
        self.prune(now)

    def prune(self, now: int) -> None:
        """Let go of the losses that count no more (out of the streak, cooled) and of those
        older than `TAKE_BACK_MS`, whose sale can no longer be flagged FAILED."""
        oldest = now - TAKE_BACK_MS
        self.losses = [x for x in self.losses if (x.streak or x.until > now) and x.ts >= oldest]

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
        return [x.to_json() for x in self.losses]

    @classmethod
    def from_json(cls, raw: Any, now: int = 0) -> LossHistory:
        """The stored losses; those stored before their time was kept are dated `now`."""
        rows = raw if isinstance(raw, list) else []
        return cls([x for r in rows if (x := Loss.from_json(r, now))])


__all__ = ["TAKE_BACK_MS", "Loss", "LossHistory", "cycle_key", "fill_key"]

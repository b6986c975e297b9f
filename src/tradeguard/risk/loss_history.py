"""The losing trades the risk engine counted by a key (an arbitrage record), kept while they
still count in the losing streak or their after-loss cooldown runs, so one found later never
to have happened (a sale whose trade FAILED on chain) can be taken back.

```python
losses.add(Loss("pmarb", "cycle:7", ("A",), until=..., prior={"A": 0}, streak=True))
loss = losses.take("pmarb", "cycle:7")   # None: not kept (a win ended its streak, cooled)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO, plain

LOSSES_KEPT = 200  # far more than any max_consecutive_losses; the oldest go first


def cycle_key(record_id: int) -> str:
    """The key of an arbitrage record's result."""
    return f"cycle:{record_id}"


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

    def to_json(self) -> list[Any]:
        return [self.strategy_id, self.key, list(self.symbols), self.until, self.prior,
                self.streak, plain(self.pnl)]  # fmt: skip

    @classmethod
    def from_json(cls, raw: Any) -> Loss | None:
        try:
            sid, key, symbols, until, prior, streak, *rest = raw  # no pnl: kept before it was
            return cls(str(sid), str(key), tuple(str(s) for s in symbols), int(until),
                       {str(s): int(u) for s, u in dict(prior).items()}, bool(streak),
                       Decimal(str(rest[0])) if rest else ZERO)  # fmt: skip
        except (TypeError, ValueError, ArithmeticError):
            return None


class LossHistory:
    """The keyed losses still counted (newest last)."""

    def __init__(self, losses: list[Loss] | None = None) -> None:
        self.losses: list[Loss] = losses or []

    def add(self, loss: Loss) -> None:
        self.losses.append(loss)
        del self.losses[:-LOSSES_KEPT]

    def streak_over(self, now: int) -> None:
        """The losing streak ended (a win, the pause's end): the losses count no more in it;
        those whose cooldown has run out are let go."""
        for loss in self.losses:
            loss.streak = False
        self.prune(now)

    def prune(self, now: int) -> None:
        self.losses = [x for x in self.losses if x.streak or x.until > now]

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
    def from_json(cls, raw: Any) -> LossHistory:
        losses = [x for r in (raw if isinstance(raw, list) else []) if (x := Loss.from_json(r))]
        return cls(losses)


__all__ = ["LOSSES_KEPT", "Loss", "LossHistory", "cycle_key"]

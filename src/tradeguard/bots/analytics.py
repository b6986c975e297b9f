"""Per-bot results: win rate, P&L, expectancy, and signal accuracy by score bucket.

```python
stats = bot_stats([ScoredTrade(Decimal("4.2"), Decimal("0.81")), ...])
stats["win_rate_pct"], stats["by_score"]
```
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tradeguard.model.money import ZERO, plain

BUCKET_WIDTH = Decimal("0.1")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ScoredTrade:
    """A closed round trip of a bot: its net P&L and the score of the signal that opened it."""

    pnl: Decimal
    score: Decimal | None


def _bucket(score: Decimal | None, width: Decimal) -> str:
    if score is None:
        return "none"
    low = (score / width).to_integral_value(ROUND_FLOOR) * width
    return f"{low}-{low + width}"


def _pct(part: int, whole: int) -> str | None:
    return plain((Decimal(part) * 100 / whole).quantize(_CENT)) if whole else None


def bot_stats(trades: list[ScoredTrade], width: Decimal = BUCKET_WIDTH) -> dict[str, Any]:
    """Return the bot's figures over `trades` (money as strings, exact)."""
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl <= 0]
    total = sum((t.pnl for t in trades), ZERO)
    n = len(trades)
    buckets: dict[str, list[ScoredTrade]] = {}
    for t in trades:
        buckets.setdefault(_bucket(t.score, width), []).append(t)
    by_score = []
    for label in sorted(buckets, key=lambda s: (s == "none", Decimal(s.split("-")[0] or 0)
                                                  if s != "none" else ZERO)):  # fmt: skip
        group = buckets[label]
        won = sum(1 for t in group if t.pnl > 0)
        by_score.append(
            {
                "bucket": label,
                "trades": len(group),
                "wins": won,
                "accuracy_pct": _pct(won, len(group)),
                "pnl": plain(sum((t.pnl for t in group), ZERO)),
            }
        )
    return {
        "trades": n,
        "wins": len(wins),
        "losses": len(losses),
        "win_rate_pct": _pct(len(wins), n),
        "pnl": plain(total),
        "expectancy": plain((total / n).quantize(_CENT)) if n else None,
        "avg_win": plain((sum(wins, ZERO) / len(wins)).quantize(_CENT)) if wins else None,
        "avg_loss": plain((sum(losses, ZERO) / len(losses)).quantize(_CENT)) if losses else None,
        "by_score": by_score,
    }


def losing_streak(pnls_newest_first: list[Decimal]) -> int:
    """Count the losing trades since the last win."""
    n = 0
    for pnl in pnls_newest_first:
        if pnl > 0:
            break
        n += 1
    return n


def realized_since(closed: list[dict[str, Any]], ts: int) -> Decimal:
    """The realized P&L of the closed positions that closed at or after `ts`."""
    return sum((r["pnl"] for r in closed if (r["exit_ts"] or 0) >= ts), ZERO)

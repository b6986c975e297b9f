"""Settle a held pair once both markets resolve: realised P&L, and mismatches as critical alerts.

```python
result = settle_pair(open_pair, "same", pm=Resolution.YES, kalshi=Resolution.YES)
result.pnl          # contracts x payouts - capital
result.mismatch     # "" when both sides resolved alike, else what differed and what it cost
```

A hedged pair pays exactly 1 per contract pair when both markets resolve the same way. When
they do not (one voided or 50-50 and the other not, or opposite outcomes), the pair pays
something else; the difference from 1 per pair is the mismatch loss (or gain) and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.outcome import Outcome, Resolution, payout
from tradeguard.strategies.cross_venue.limits import OpenPair


@dataclass(frozen=True, slots=True)
class PairSettlement:
    """What a held pair paid at resolution and whether the two sides agreed."""

    pair_id: str
    payout: Decimal
    pnl: Decimal
    mismatch: str
    mismatch_loss: Decimal


def canonical(resolution: Resolution, orientation: str) -> Resolution:
    """Return a Kalshi resolution in Polymarket's terms (YES and NO swap when inverted)."""
    if orientation != "inverted" or resolution is Resolution.VOID:
        return resolution
    return Resolution.NO if resolution is Resolution.YES else Resolution.YES


def settle_pair(
    held: OpenPair, orientation: str, pm: Resolution, kalshi: Resolution
) -> PairSettlement:
    """Return the pair's payout and P&L; name the mismatch when the two resolutions differ."""
    n = held.contracts
    # direction 0 holds Polymarket YES + canonical NO on Kalshi; direction 1 the reverse.
    pm_outcome = Outcome.YES if held.direction == 0 else Outcome.NO
    k_canonical = pm_outcome.other
    k_outcome = k_canonical if orientation != "inverted" else k_canonical.other
    paid = n * payout(pm, pm_outcome) + n * payout(kalshi, k_outcome)
    mismatch = ""
    if canonical(kalshi, orientation) is not pm:
        mismatch = (
            f"pair {held.pair_id}: polymarket resolved {pm.value}, kalshi {kalshi.value} "
            f"({'inverted' if orientation == 'inverted' else 'same'} orientation); the pair paid "
            f"{paid} for {n} contracts instead of {n}"
        )
    return PairSettlement(held.pair_id, paid, paid - held.capital, mismatch, n - paid)

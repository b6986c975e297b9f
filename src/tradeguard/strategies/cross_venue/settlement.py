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

from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO, plain
from tradeguard.model.outcome import Outcome, Resolution, parse_outcome_symbol, payout
from tradeguard.strategies.cross_venue.limits import OpenPair

HALF = Decimal("0.5")


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


def settlement_key(held: OpenPair) -> str:
    """Name the settlement of `held` for the risk engine, which counts each one once: the
    record that booked it, the pair, the direction and what it held."""
    legs, size = "+".join(held.legs), f"{held.contracts}:{held.capital}"
    return f"{held.record_id}:{held.pair_id}:d{held.direction}:{legs}:{size}"


def settled_event(
    held: OpenPair, result: PairSettlement, now: int, venue: str, strategy_id: str
) -> Event:
    """The `arb.settled` event of `held` settled at `result` (critical on a mismatch)."""
    alike = f"pair {held.pair_id}: both sides resolved alike"
    if held.lone:
        alike = f"pair {held.pair_id}: held leg {held.legs[0]} resolved"
    text = result.mismatch or alike
    return Event(
        EventKind.ARB_SETTLED,
        now,
        {
            "pair_id": held.pair_id,
            "path": f"{held.pair_id} d{held.direction}",
            "contracts": plain(held.contracts),
            "payout": plain(result.payout),
            "pnl": plain(result.pnl),
            "mismatch": result.mismatch,
            "mismatch_loss": plain(result.mismatch_loss),
            "message": f"{text}; P&L {result.pnl} USD",
        },
        venue,
        held.legs[0],
        strategy_id,
        "critical" if result.mismatch else "info",
    )


def resolution_from_fill(symbol: str, price: Decimal) -> Resolution | None:
    """Return the market's resolution a settlement fill at `price` shows, if it shows one."""
    try:
        _, outcome, _ = parse_outcome_symbol(symbol)
    except ValueError:
        return None
    if price == 1:
        return Resolution(outcome.value)
    if price == 0:
        return Resolution(outcome.other.value)
    if price == HALF:
        return Resolution.VOID
    return None


class SettlementWatch:
    """Learn resolutions from settlement fills; settle each held pair once both sides resolved."""

    def __init__(self, pm_venue: str, orientations: dict[str, str]) -> None:
        self.pm_venue = pm_venue
        self.orientations = orientations  # pair id -> "same" | "inverted"
        self.resolved: dict[str, Resolution] = {}  # outcome symbol -> its market's resolution

    def on_fill(self, symbol: str, price: Decimal, trade_id: str) -> None:
        """Take a fill; only the node's settlement fills (`settle-…`) say anything here."""
        if not trade_id.startswith("settle-"):
            return
        found = resolution_from_fill(symbol, price)
        if found is not None:
            self.resolved[symbol] = found

    def due(self, held: list[OpenPair]) -> list[tuple[OpenPair, PairSettlement]]:
        """Return the held pairs whose two markets have both resolved, with their settlement."""
        out = []
        for pair in held:
            if pair.lone:  # a first leg held alone pays what its own market resolved to
                found = self.resolved.get(pair.legs[0])
                if found is not None:
                    paid = pair.contracts * payout(found, parse_outcome_symbol(pair.legs[0])[1])
                    out.append((pair, PairSettlement(pair.pair_id, paid, paid - pair.capital, "",
                                                     ZERO)))  # fmt: skip
                continue
            by_venue = dict(zip(pair.venues, pair.legs, strict=True))
            pm_symbol = by_venue.get(self.pm_venue)
            k_symbol = next((s for v, s in by_venue.items() if v != self.pm_venue), None)
            if pm_symbol is None or k_symbol is None:
                continue
            pm, kalshi = self.resolved.get(pm_symbol), self.resolved.get(k_symbol)
            if pm is None or kalshi is None:
                continue
            orientation = self.orientations.get(pair.pair_id, "same")
            out.append((pair, settle_pair(pair, orientation, pm, kalshi)))
        return out

"""Refuse a pair whose leg the venue would net away the moment it fills.

```python
why = netting_refusal(executor.gateways, opp)     # "" or a one-line reason (code PAIR_NETS)
```

A venue that nets outcome pairs (Kalshi: one signed position per market) drops a YES and a NO
of one market held free together and pays 1 for each pair. A pair leg buying YES there while
the account holds NO of that market free (a lone leg held from an earlier attempt, contracts
bought by hand) is netted against those at once: the new pair's leg is gone, its other leg
unhedged, while the strategy's book would claim a complete pair and the held leg it was netted
against. Such a pair is refused before either leg is sent. Contracts a resting sell holds are
not netted by the venue and do not refuse a pair. Nor does dust (fewer contracts than the
venue's minimum order, `limits.is_dust`): no order can sell it, the pair that left it is flat,
and refusing would block the pair until its market settles. The venue nets the dust against the
new leg, paying 1 USD a pair at once, which is what the dust and as many of the leg's contracts
pay together at settlement whatever the outcome; the leg holds that many fewer, under one order.

The refusal repeats at each cooldown while the contracts stay: it is recorded once per (pair,
held state) (`NetsRefusals`), and the repeats are counted on that record's entry. Each repeat
is committed at once as the strategy's note (`record_note`), so a kill loses none of them: a
start takes, for an entry of the same record, the larger count of the state and the note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO
from tradeguard.model.outcome import outcome_symbol, parse_outcome_symbol
from tradeguard.strategies.cross_venue.limits import is_dust
from tradeguard.strategies.cross_venue.scanner import PairOpportunity
from tradeguard.strategies.gateway import ExecutionGateway

PAIR_NETS = "PAIR_NETS"


def netting_refusal(gateways: Mapping[str, ExecutionGateway], opp: PairOpportunity) -> str:
    """Why a leg of `opp` would be netted by its venue against contracts held free, or ""."""
    for leg in opp.legs:
        gateway = gateways[leg.venue]
        if not gateway.nets_outcome_pairs:
            continue
        try:
            market, outcome, quote = parse_outcome_symbol(leg.symbol)
        except ValueError:
            continue
        other = outcome_symbol(market, outcome.other, quote)
        inst = gateway.instrument(other)
        asset = inst.base if inst is not None else other.split("/", 1)[0]
        held = _free(gateway, asset)
        if held > 0 and not is_dust(inst, held):  # dust is flat: netted, paid 1 a pair
            return (
                f"pair rejected ({PAIR_NETS}): {leg.venue} holds {held} {asset} free; buying "
                f"{leg.symbol} there nets it against them at once (1 USD a YES and NO pair), "
                "leaving the other leg unhedged; sell or settle the held contracts first "
                "(`tradeguard pm arb retry` for a held leg)"
            )
    return ""


def _free(gateway: ExecutionGateway, asset: str) -> Decimal:
    held = gateway.sellable(asset)  # free and not held by a resting sell, once read
    if held is None:
        held = gateway.free(asset)  # the ledger's, before a reconciliation read the venue
    return held if held is not None and held > 0 else ZERO


@dataclass(slots=True)
class NetsRefusal:
    """A pair refused with PAIR_NETS for one held state: its record and the refusals since."""

    reason: str  # names the venue, the contracts held free and the asset: the held state
    record_id: int
    ts: int
    repeats: int = 0  # refusals of the same held state since, not recorded again
    last_ts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "record_id": self.record_id, "ts": self.ts,
                "repeats": self.repeats, "last_ts": self.last_ts}  # fmt: skip


class NetsRefusals:
    """One PAIR_NETS record per (pair, held state): a pair refused again at each cooldown while
    the same contracts stay held is counted on its first record, not recorded again."""

    def __init__(self) -> None:
        self.by_pair: dict[str, NetsRefusal] = {}

    def repeat(self, pair_id: str, reason: str, ts: int) -> bool:
        """Count a refusal already recorded for this held state; False when it is new."""
        known = self.by_pair.get(pair_id)
        if known is None or known.reason != reason:
            return False
        known.repeats += 1
        known.last_ts = ts
        return True

    def recorded(self, pair_id: str, reason: str, record_id: int, ts: int) -> None:
        self.by_pair[pair_id] = NetsRefusal(reason, record_id, ts, 0, ts)

    def clear(self, pair_id: str) -> None:
        """The pair is not refused now (the contracts were sold or settled)."""
        self.by_pair.pop(pair_id, None)

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {pair: r.to_json() for pair, r in sorted(self.by_pair.items())}

    def restore(self, raw: Any, note: Any = None) -> None:
        """Take the entries of a state back; `note` (the newest repeats, committed after the
        state) raises the count of an entry of the same record, and adds no pair the state
        has not (a pair cleared since is recorded again by its next refusal)."""
        self.by_pair.update(_entries(raw))
        for pair, newer in _entries(note).items():
            known = self.by_pair.get(pair)
            same = known is not None and (known.record_id, known.reason) == (
                newer.record_id, newer.reason)  # fmt: skip
            if known is not None and same and newer.repeats > known.repeats:
                known.repeats, known.last_ts = newer.repeats, newer.last_ts


def _entries(raw: Any) -> dict[str, NetsRefusal]:
    out: dict[str, NetsRefusal] = {}
    for pair, r in raw.items() if isinstance(raw, dict) else ():
        try:
            out[str(pair)] = NetsRefusal(
                str(r["reason"]), int(r["record_id"]), int(r["ts"]), int(r["repeats"]),
                int(r["last_ts"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue  # a checkpoint of another shape: that pair records afresh
    return out

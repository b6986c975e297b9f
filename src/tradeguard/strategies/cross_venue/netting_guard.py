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
not netted by the venue and do not refuse a pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tradeguard.model.money import ZERO
from tradeguard.model.outcome import outcome_symbol, parse_outcome_symbol
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
        if held > 0:
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

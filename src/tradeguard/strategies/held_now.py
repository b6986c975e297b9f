"""What an interrupted arbitrage's unwind may sell at start: never more than the venue holds.

```python
amount, note = unwind_amount(gateway, "ETH", Decimal("0.5"))   # 0.3 held: (0.3, "0.2 ETH ...")
```

The journal says what the legs bought; the person may have sold all or part of it by hand on
the venue while the node was down, and the account may hold the same coin from elsewhere. The
unwind sends at most the asset's free balance the start-up reconciliation read from the venue,
less what open sells hold (a venue reporting positions, not locks, counts a resting sell free;
reconciliation adopts the ones placed by hand as `external`); what the legs bought beyond it is
recorded as already gone (not as held), and `note` says so for the record and its alert.
"""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.money import ZERO
from tradeguard.strategies.gateway import ExecutionGateway


def unwind_amount(gateway: ExecutionGateway, asset: str, amount: Decimal) -> tuple[Decimal, str]:
    """Return (what of `amount` may be sold now, why less: "" when all of it)."""
    free = gateway.sellable(asset)
    if free is None or free >= amount:
        return amount, ""
    held = max(free, ZERO)
    return held, (
        f"{amount - held} {asset} of the {amount} the legs left is no longer free on "
        f"{gateway.venue} ({held} free there now: sold by hand while the node was down, or "
        "locked by other open orders); the unwind sends only what is free, the rest is "
        "recorded as already gone, not held"
    )


__all__ = ["unwind_amount"]

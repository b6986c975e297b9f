"""Clear a spot-short record once the operator has settled it on the venue.

```python
line = await clear_spot_short(node, "binance", "BTC", reason="bought back 0.05 BTC", by="ops")
```

A database an older version left holding a negative balance of a spot market's base asset halts
every start (`node/spot_shorts.py`), or, on a venue start-up reconciles, fails the ledger audit
(start + fills - fees + adjustments is negative). The operator buys the coins back on the venue;
this then reads the venue's balance of the asset and, only when the venue holds no short of it
(a total of zero or more), books the difference as a recorded balance adjustment (the ledger
then equals the venue), stores the venue's figures and writes an audit event
(`ledger.spot_short_cleared`). Nothing else moves: positions stay as their fills made them (a
negative spot position beside a non-negative balance is a sale of coins held before), and the
trading state stays as it is until `tradeguard resume`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.execution.ledger_audit import stored_start_balances, venue_ledger
from tradeguard.model.balance import Balance
from tradeguard.model.errors import ConfigError, TradeguardError
from tradeguard.model.events import Event
from tradeguard.model.money import ZERO, plain
from tradeguard.node.venue_read import read_venue

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode
    from tradeguard.venues.base import Venue

CLEARED_EVENT = "ledger.spot_short_cleared"


class SpotShortRefused(TradeguardError):
    """The record stays: the venue still holds a short, cannot be read, or orders are open."""


def recorded_short(node: TradingNode, venue: str, asset: str) -> tuple[Decimal, Decimal]:
    """The stored balance and the ledger (start + fills - fees + adjustments) of the asset."""
    storage = node.storage
    stored = sum((b.total for b in storage.load_balances(venue) if b.asset == asset), ZERO)
    start = stored_start_balances(storage).get(venue, {}).get(asset, ZERO)
    return stored, start + venue_ledger(storage, venue)[0].get(asset, ZERO)


async def clear_spot_short(
    node: TradingNode, venue: str, asset: str, reason: str, by: str
) -> dict[str, str]:
    """Book the venue's balance of `asset` over a spot-short record; return what was done."""
    if venue not in node.venues:
        names = ", ".join(sorted(node.venues)) or "none"
        raise ConfigError(f"--venue {venue}: not a trading venue of the config (venues: {names})")
    stored, ledger = recorded_short(node, venue, asset)
    if stored >= 0 and ledger >= 0:
        raise ConfigError(
            f"--asset {asset}: the database holds no spot short of it on {venue} (stored "
            f"{plain(stored)}, ledger {plain(ledger)}); nothing to clear"
        )
    working = node.storage.load_orders(open_only=True, venue=venue)
    if working:
        ids = ", ".join(o.client_order_id for o in working[:5])
        raise SpotShortRefused(
            f"{venue}: {len(working)} order(s) of the journal not ended ({ids}); a fill still "
            "to come would be booked as the correction: start the node to reconcile them first"
        )
    free, locked = await venue_balance(node, venue, asset)
    held = free + locked
    if held < 0:
        raise SpotShortRefused(
            f"{venue} {asset}: the venue itself holds {plain(held)}; buy the coins back on the "
            "venue first (the record is left as it is)"
        )
    now = node.clock.now_ms()
    storage = node.storage
    why = f"spot short cleared by {by}: {reason}"
    data = {
        "asset": asset, "stored": plain(stored), "ledger": plain(ledger),
        "venue_total": plain(held), "adjustment": plain(held - ledger), "by": by,
        "reason": reason,
    }  # fmt: skip
    with storage.transaction():
        if held != ledger:
            storage.record_balance_adjustment(venue, asset, ledger, held, why, now)
        storage.upsert_balances(venue, [Balance(venue, asset, free, locked)], ts=now)
        storage.append_event(Event(CLEARED_EVENT, now, data, venue=venue, severity="warning"))
    return data


async def venue_balance(
    node: TradingNode,
    venue: str,
    asset: str,
    refused: Callable[[str], Exception] = SpotShortRefused,
) -> tuple[Decimal, Decimal]:
    """The venue's free and locked amounts of `asset`, read now (reconciliation's timeout);
    `refused` makes the error when the venue cannot be read."""

    async def read(v: Venue, timeout: float) -> list[Balance]:
        return await asyncio.wait_for(v.fetch_balances(), timeout)

    balances = await read_venue(node, venue, "the venue's balances", refused, read)
    mine = [b for b in balances if b.asset == asset]
    return sum((b.free for b in mine), ZERO), sum((b.locked for b in mine), ZERO)


__all__ = [
    "CLEARED_EVENT",
    "SpotShortRefused",
    "clear_spot_short",
    "recorded_short",
    "venue_balance",
]

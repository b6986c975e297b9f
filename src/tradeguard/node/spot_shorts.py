"""Spot shorts a database kept from before they were refused: found at start-up, trading halted.

```python
refuse_spot_shorts(node)   # in `before_trading`, once instruments and balances are loaded
```

A spot market lends no coins: a negative spot position (or a negative balance of a spot asset)
is a record an older version wrote when it let a strategy sell what it did not hold. Such a
record cannot be valued honestly (the negative balance counts nothing until a mark prices it,
then drops equity by the short's value at once) nor closed as a position. The node does not
guess: it halts trading, naming each position and balance and the way out, and says so again
at every start while the records stand.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tradeguard.model.enums import TradingState
from tradeguard.model.money import plain

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger("tradeguard.node.node")
HALT_BY = "spot_short"


def spot_shorts(node: TradingNode) -> list[str]:
    """Each negative spot position and negative balance of a spot market's base asset."""
    found: list[str] = []
    spot_bases: dict[str, set[str]] = {}
    for inst in node.market.instruments.values():
        if inst.kind == "spot":
            spot_bases.setdefault(inst.venue, set()).add(inst.base)
    for pos in node.portfolio.positions.values():
        spot = node.market.instrument(pos.venue, pos.symbol)
        if pos.quantity < 0 and spot is not None and spot.kind == "spot":
            who = f" ({pos.strategy_id})" if pos.strategy_id else ""
            found.append(f"position {pos.venue} {pos.symbol}{who} {plain(pos.quantity)}")
    for venue, book in node.portfolio.books.items():
        for bal in book.values():
            if bal.total < 0 and bal.asset in spot_bases.get(venue, ()):
                found.append(f"balance {venue} {bal.asset} {plain(bal.total)}")
    return found


def refuse_spot_shorts(node: TradingNode) -> list[str]:
    """Halt trading when the database holds spot shorts; return what was found."""
    found = spot_shorts(node)
    if not found:
        return found
    reason = (
        "the database holds spot shorts from before they were refused: "
        + ", ".join(found)
        + "; a spot market lends no coins, so they cannot be valued or closed as positions: "
        "buy the coins back on the venue (a paper account: `POST /api/v1/paper/reset`), "
        "correct the ledger (`tradeguard doctor` audits it against the fills; it changes "
        "nothing), then `tradeguard resume`"
    )
    risk = node.risk
    if risk.state is TradingState.HALTED and risk.state_by != HALT_BY:
        reason = f"{risk.state_reason}; {reason}"  # the halt already there keeps its reason
    log.error("%s", reason)
    risk.halt(reason, HALT_BY)
    return found


__all__ = ["HALT_BY", "refuse_spot_shorts", "spot_shorts"]

"""Spot shorts a database kept from before they were refused: found at start-up, trading halted.

```python
refuse_spot_shorts(node)   # in `before_trading`, once instruments and balances are loaded
```

A spot market lends no coins: a negative balance of a spot market's base asset is a record an
older version wrote when it let a strategy sell what it did not hold, and the negative spot
positions on that venue and asset are named with it. A negative spot position alone is no short:
it is a sale of coins the account held before the node bought any (a wallet's WETH sold through
the node), and the balance says what is held. Such a
record cannot be valued honestly (the negative balance counts nothing until a mark prices it,
then drops equity by the short's value at once) nor closed as a position. The node does not
guess: it halts trading, naming each position and balance and the way out, and says so again
at every start while the records stand. Once the coins are back on the venue,
`tradeguard spot-short clear` (`node/spot_short_clear.py`) books the venue's balance over the
record.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.enums import TradingState
from tradeguard.model.money import plain

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger("tradeguard.node.node")
HALT_BY = "spot_short"


def short_balances(node: TradingNode) -> dict[tuple[str, str], Decimal]:
    """Each negative balance of a spot market's base asset, by (venue, asset)."""
    spot_bases: dict[str, set[str]] = {}
    for inst in node.market.instruments.values():
        if inst.kind == "spot":
            spot_bases.setdefault(inst.venue, set()).add(inst.base)
    short: dict[tuple[str, str], Decimal] = {}
    for venue, book in node.portfolio.books.items():
        for bal in book.values():
            if bal.total < 0 and bal.asset in spot_bases.get(venue, ()):
                short[(venue, bal.asset)] = bal.total
    return short


def spot_shorts(node: TradingNode) -> list[str]:
    """Each negative balance of a spot market's base asset, and the negative spot positions in
    that asset on that venue."""
    found: list[str] = []
    short = short_balances(node)
    for pos in node.portfolio.positions.values():
        spot = node.market.instrument(pos.venue, pos.symbol)
        spot_short = spot is not None and spot.kind == "spot" and (pos.venue, spot.base) in short
        if pos.quantity < 0 and spot_short:
            who = f" ({pos.strategy_id})" if pos.strategy_id else ""
            found.append(f"position {pos.venue} {pos.symbol}{who} {plain(pos.quantity)}")
    found.extend(f"balance {venue} {asset} {plain(total)}"
                 for (venue, asset), total in sorted(short.items()))  # fmt: skip
    return found


def clear_command(venue: str, asset: str) -> str:
    """The command that clears one venue's record of `asset` once the venue agrees."""
    return f'`tradeguard spot-short clear --venue {venue} --asset {asset} --reason "..."`'


def refuse_spot_shorts(node: TradingNode) -> list[str]:
    """Halt trading when the database holds spot shorts; return what was found."""
    found = spot_shorts(node)
    if not found:
        return found
    shorts = sorted(short_balances(node))
    reason = (
        "the database holds spot shorts from before they were refused: "
        + ", ".join(found)
        + "; a spot market lends no coins, so they cannot be valued or closed as positions: "
        "buy the coins back on the venue (a paper account: `POST /api/v1/paper/reset`), then "
        + "; ".join(clear_command(v, a) for v, a in shorts)
        + " (reads the venue's balance and clears the record only if the venue holds no short),"
        " then `tradeguard resume`"
    )
    risk = node.risk
    if risk.state is TradingState.HALTED and risk.state_by != HALT_BY:
        reason = f"{risk.state_reason}; {reason}"  # the halt already there keeps its reason
    log.error("%s", reason)
    risk.halt(reason, HALT_BY)
    return found


__all__ = ["HALT_BY", "clear_command", "refuse_spot_shorts", "short_balances", "spot_shorts"]

"""Put the ledger back as it was before a fill whose commit failed.

A fill moves the in-memory ledger (balances, the position, fees, realised P&L, closed trades)
before the transaction that journals it commits. If that commit fails the database keeps none
of it, and neither may memory: the venue reports the fill again (a reconciliation, a catch-up)
and it would be counted twice. `fill_undo` takes, just before the fill is applied, what the
fill is about to change, and only that (its assets' balances, its one position, the totals),
and returns what puts it back; the storage runs it if the transaction rolls back
(`StorageCore.on_rollback`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.fill import Fill
from tradeguard.model.position import Position

if TYPE_CHECKING:
    from tradeguard.model.balance import BalanceBook
    from tradeguard.portfolio.portfolio import Portfolio

_POSITION_FIELDS = tuple(f.name for f in fields(Position))


def fill_undo(
    portfolio: Portfolio, fill: Fill, strategy_id: str, position: bool
) -> Callable[[], None]:
    """What puts `portfolio` back as it is now, before `fill` is applied (`apply_fill` with
    `strategy_id` and `position`)."""
    book = portfolio.book(fill.venue)
    held = book._by_asset
    assets = (fill.base, fill.quote, fill.fee_asset) if fill.fee else (fill.base, fill.quote)
    balances: list[tuple[str, tuple[Decimal, Decimal] | None]] = []
    for asset in dict.fromkeys(assets):
        bal = held.get(asset)
        balances.append((asset, None if bal is None else (bal.free, bal.locked)))
    key = (fill.venue, fill.symbol, strategy_id)
    pos = portfolio.positions.get(key) if position else None
    saved = None if pos is None else tuple(getattr(pos, n) for n in _POSITION_FIELDS)
    marked = fill.symbol in portfolio.marks
    totals = (portfolio.fees_paid, portfolio.realized_pnl, len(portfolio.closed_trades))

    def undo() -> None:
        for asset, figures in balances:
            if figures is None:
                held.pop(asset, None)
            else:
                book.set(asset, *figures)
        if position:
            if saved is None:
                portfolio.positions.pop(key, None)
            else:  # in place: holders of the position object see it put back too
                now = portfolio.positions.setdefault(key, pos)  # type: ignore[arg-type]
                for name, value in zip(_POSITION_FIELDS, saved, strict=True):
                    setattr(now, name, value)
        if not marked and portfolio.marks.pop(fill.symbol, None) is not None:
            # the price caches count marks (marks only gain symbols): one taken away leaves
            # them keyed to a count a new symbol's first mark would make current again
            portfolio.forget_price_paths()
        portfolio.fees_paid, portfolio.realized_pnl = totals[0], totals[1]
        del portfolio.closed_trades[totals[2] :]

    return undo


def book_undo(book: BalanceBook) -> Callable[[], None]:
    """What puts every balance of `book` back as it is now (a reconciliation about to make
    the venue's figures the ledger's)."""
    held = book._by_asset
    saved = {asset: (bal.free, bal.locked) for asset, bal in held.items()}

    def undo() -> None:
        for asset in [a for a in held if a not in saved]:
            del held[asset]
        for asset, figures in saved.items():
            book.set(asset, *figures)

    return undo

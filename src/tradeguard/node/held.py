"""The mark symbols that move a node's equity, kept per set of held assets.

A fill drops the node's held set, and most fills leave a set of held assets the node has held
before (a pair bought and sold again: its base asset held, then not). What the set depends on
besides the assets (which symbols are marked, by the portfolio's `marks_version`, and whether
venues have marks of their own) is checked on every call, and anything else it reads is fixed
for a portfolio's life (its valuation asset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradeguard.portfolio.portfolio import Portfolio

# distinct held-asset sets kept at most (a wallet with many assets changing: start again)
_KEEP = 256


class HeldSymbols:
    """Symbols whose base asset is held (or owed) anywhere, or that value a held asset."""

    __slots__ = ("_bases", "_by_assets", "_n", "_portfolio", "_tagged")

    def __init__(self) -> None:
        self._bases: dict[str, str] = {}  # symbol of a mark -> its base asset
        self._by_assets: dict[frozenset[str], frozenset[str]] = {}
        self._n = -1  # the portfolio's `marks_version` the kept sets were made for
        self._tagged = False  # whether venues had marks of their own then
        self._portfolio: Portfolio | None = None  # the portfolio they were made for

    def of(self, portfolio: Portfolio) -> frozenset[str]:
        """The held symbols now (balances read without the `total` property)."""
        marks = portfolio.marks
        version = portfolio.marks_version()
        tagged = bool(portfolio.venue_marks)
        by_assets = self._by_assets
        if (
            version != self._n
            or tagged is not self._tagged
            or portfolio is not self._portfolio
            or len(by_assets) >= _KEEP
        ):
            # a symbol marked or dropped (routes may change), venues' own marks begun, another
            # portfolio
            by_assets.clear()
            self._n, self._tagged, self._portfolio = version, tagged, portfolio
        # the books read in place (no list of every balance made); a zero balance, most of
        # them, is passed over without the sum (a Decimal made), which alone says whether a
        # balance both free and locked (owed and held) is held
        assets = frozenset(
            [
                b.asset
                for book in portfolio.books.values()
                for b in book.values()
                if (b.free or b.locked) and b.free + b.locked
            ]
        )
        held = by_assets.get(assets)
        if held is None:
            bases = self._bases
            held = by_assets[assets] = frozenset(
                s for s in marks if (bases.get(s) or _base_of(bases, s)) in assets
            ) | portfolio.route_symbols(assets)
        return held


def _base_of(bases: dict[str, str], symbol: str) -> str:
    base = bases[symbol] = symbol.split("/")[0]
    return base

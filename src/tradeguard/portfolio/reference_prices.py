"""Prices for what the account holds or pays fees in but no strategy trades.

BNB kept on Binance for the fee discount, a coin left from an old trade, gas in ETH: without a
price, such a holding counts nothing in the equity the loss and drawdown halts read, and a fee
paid in it counts 0 in P&L. `ReferencePrices` finds, for each such asset, a market some venue
lists against an asset that is already priced (the valuation asset, a stablecoin, BTC, ETH),
reads its quote (public data, one ticker request) and marks it in the portfolio; later passes
refresh the same markets.

```python
refs = ReferencePrices(node.portfolio, exchange_venues)
await refs.refresh()          # marks e.g. BNB/USDT; nothing to do when every asset is priced
refs.status()                 # {"BNB": "binance BNB/USDT", ...}, "none" where no venue lists one
```
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradeguard.model.errors import VenueError
from tradeguard.model.money import STABLECOINS
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.venues.base import Venue

log = logging.getLogger(__name__)

_HUBS = ("BTC", "ETH")


class ReferencePrices:
    """Marks for held and fee assets that no traded market prices."""

    def __init__(self, portfolio: Portfolio, venues: Mapping[str, Venue]) -> None:
        self.portfolio = portfolio
        self.venues = venues
        self.markets: dict[str, tuple[str, str]] = {}  # asset -> (venue, symbol) marked
        self._marked: dict[str, Decimal] = {}  # symbol -> the mark set here last
        self.unlisted: set[str] = set()  # assets no venue lists a priced market for

    def wanted(self) -> list[str]:
        """Assets held (any venue) or paid as fees that no mark prices, and those marked here."""
        portfolio = self.portfolio
        for asset, (_, symbol) in list(self.markets.items()):
            if portfolio.marks.get(symbol) != self._marked.get(symbol):
                # A stream marks it now (a strategy trades it): fresher than a ticker here.
                del self.markets[asset]
                self._marked.pop(symbol, None)
        assets = {b.asset for b in portfolio.all_balances() if b.total}
        assets |= portfolio.unvalued_fee_assets
        unpriced = {a for a in assets if portfolio.price_of(a) is None}
        return sorted(unpriced | set(self.markets))

    async def refresh(self) -> dict[str, Decimal]:
        """Mark every wanted asset's market from its venue's quote; return the marks set."""
        marked: dict[str, Decimal] = {}
        for asset in self.wanted():
            found = self.markets.get(asset) or self._market_for(asset)
            if found is None:
                if asset not in self.unlisted:
                    log.warning("no venue lists a priced market for %s: it counts nothing", asset)
                    self.unlisted.add(asset)
                continue
            venue, symbol = found
            try:
                quote = await self.venues[venue].fetch_reference_quote(symbol)
            except VenueError as exc:
                log.warning("reference price %s on %s not read: %s", symbol, venue, exc)
                continue
            if quote is None or quote.bid <= 0 or quote.ask <= 0:
                continue
            self.portfolio.mark(symbol, quote.mid)
            self._marked[symbol] = quote.mid
            self.markets[asset] = found
            self.unlisted.discard(asset)
            marked[symbol] = quote.mid
        return marked

    def _market_for(self, asset: str) -> tuple[str, str] | None:
        """A (venue, symbol) pairing `asset` with a priced asset, either way round."""
        portfolio = self.portfolio
        valuation = portfolio.valuation_asset
        others = [valuation, *sorted(STABLECOINS - {valuation}), *_HUBS]
        for other in others:
            if other == asset or (other != valuation and portfolio.price_of(other) is None):
                continue
            for symbol in (f"{asset}/{other}", f"{other}/{asset}"):
                for name, venue in self.venues.items():
                    if venue.lists(symbol):
                        return name, symbol
        return None

    def status(self) -> dict[str, Any]:
        """What prices each asset: `venue symbol`, or "none" where no venue lists a market."""
        out: dict[str, Any] = {a: f"{v} {s}" for a, (v, s) in sorted(self.markets.items())}
        out.update({a: "none" for a in sorted(self.unlisted)})
        return out

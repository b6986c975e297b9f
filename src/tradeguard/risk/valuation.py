"""USD per unit of the valuation asset, for limits named in USD (`*_usd`).

Equity arrives in the portfolio's valuation asset. With a stablecoin there one unit is one USD;
with anything else (BTC, ETH) the USD limits need that asset's USD price: read from the market
(a BTC/USDT or BTC/USD mark, directly or through one hop), else `risk.valuation_asset_usd`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from tradeguard.model.market import Fresh
from tradeguard.model.money import STABLECOINS


class Priced(Protocol):
    """What the valuation reads of a portfolio: one asset's price in another."""

    def price_of(self, asset: str, in_asset: str | None = None) -> Decimal | None: ...

    def price_on(
        self, venue: str, asset: str, in_asset: str | None = None, fresh: Fresh = None
    ) -> Decimal | None:
        """`price_of` at `venue`'s own prices (another venue's only where it has none, or
        where `fresh` refuses the symbol of its own: a silent stream's)."""
        ...


_ONE = Decimal(1)


class Valuation:
    """Track the USD price of the valuation asset (None while none is known)."""

    __slots__ = ("asset", "fixed_usd", "is_usd", "unit", "usd_per_unit")

    def __init__(self, asset: str, fixed_usd: Decimal | None) -> None:
        self.asset = asset
        self.is_usd = asset in STABLECOINS
        self.fixed_usd = fixed_usd
        # the label equity figures are shown in
        self.unit = "USD" if self.is_usd else asset
        self.usd_per_unit: Decimal | None = _ONE if self.is_usd else fixed_usd

    def refresh(self, portfolio: Priced) -> Decimal | None:
        """Read the USD price from the market when it has one; return the price in use."""
        if self.is_usd:
            return _ONE
        price = portfolio.price_of(self.asset, "USDT")
        if price is not None and price > 0:
            self.usd_per_unit = price
        elif self.fixed_usd is None:
            self.usd_per_unit = None
        return self.usd_per_unit

    def usd_on(self, portfolio: Priced, venue: str, fresh: Fresh = None) -> Decimal | None:
        """USD per unit at `venue`'s own marks (a BTC/USDT there, if `fresh` accepts it), else
        `usd_per_unit`."""
        if self.is_usd:
            return _ONE
        own = portfolio.price_on(venue, self.asset, "USDT", fresh)
        return own if own is not None and own > 0 else self.usd_per_unit

    def missing(self, what: str) -> str:
        """Explain that a USD limit cannot be applied for want of a USD price."""
        return (
            f"order rejected: {what} is a limit in USD and no USD price of {self.asset} (the "
            f"valuation asset) is available; feed a {self.asset}/USDT market or set "
            f"risk.valuation_asset_usd"
        )

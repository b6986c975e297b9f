"""Equity in USD, each holding at a rate path that exists for it.

```python
usd = usd_equity(portfolio, fixed_usd=Decimal(40_000))   # fixed_usd: risk.valuation_asset_usd
usd.total            # Decimal, USD
usd.rates            # {"binance:ETH": ("2000", "ETH/USDT on binance"), ...}
usd.unvalued         # {"binance:XYZ"}: holdings no path values (counted as nothing)
```

Percent-of-equity limits compare USD figures. Equity in a valuation asset that is not USD (BTC)
times one BTC/USD rate values every venue's holdings at that one rate: a venue whose BTC is
cheaper or dearer, or cash in USD beside BTC valued at another venue's BTC price, is then worth
what it is not. Here each holding is valued by the first path that exists, in order:

1. its USD price from its own venue's marks (a direct `ASSET/USDT` there, or one hop there);
2. its price in the valuation asset (its venue's marks, else the latest of any venue) times the
   valuation asset's USD price (its venue's, else any venue's, else `risk.valuation_asset_usd`);
3. its USD price from the latest marks of any venue;
4. its USD peg (`node.pegged_assets`).

A holding none of these values is listed in `unvalued`; the risk engine refuses to trade it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.model.money import STABLECOINS, ZERO, plain
from tradeguard.portfolio.portfolio import Portfolio

_ONE = Decimal(1)


@dataclass(slots=True)
class UsdEquity:
    """The total in USD, the rate each holding was valued at and how, what none values."""

    total: Decimal = ZERO
    # "venue:asset" -> (USD per unit, the path that gave it)
    rates: dict[str, tuple[str, str]] = field(default_factory=dict)
    unvalued: set[str] = field(default_factory=set)

    def view(self) -> dict[str, object]:
        """The figures as status and the API show them."""
        return {
            "equity_usd": plain(self.total),
            "rates": {k: {"usd": r, "path": p} for k, (r, p) in sorted(self.rates.items())},
            "unvalued": sorted(self.unvalued),
        }


def usd_rate(
    portfolio: Portfolio, venue: str, asset: str, fixed_usd: Decimal | None
) -> tuple[Decimal, str] | None:
    """USD per unit of `asset` held on `venue`, and the path that gave it; None if none does."""
    if asset in STABLECOINS:
        return _ONE, "stablecoin"
    own = portfolio.marks_of(venue) if venue not in portfolio.untied else None
    if own:
        price = portfolio._market_price(asset, "USDT", own)
        if price is not None:
            return price, f"{asset}/USD on {venue}"
    target = portfolio.valuation_asset
    if asset != target and target not in STABLECOINS:
        in_target = portfolio.price_on(venue, asset, target)
        k = _valuation_usd(portfolio, venue, fixed_usd)
        if in_target is not None and k is not None:
            return in_target * k[0], f"{asset}/{target} × {k[1]}"
    if asset == target:
        k = _valuation_usd(portfolio, venue, fixed_usd)
        if k is not None:
            return k
    price = portfolio._market_price(asset, "USDT")  # no path of its venue's: any venue's
    if price is not None:
        return price, f"{asset}/USD (latest of any venue)"
    peg = portfolio.pegged.get(asset)
    if peg is not None and asset not in portfolio.unbid:
        return peg, f"{asset} peg"
    return None


def _valuation_usd(
    portfolio: Portfolio, venue: str, fixed_usd: Decimal | None
) -> tuple[Decimal, str] | None:
    """The valuation asset's USD price: `venue`'s, any venue's, else the configured one."""
    target = portfolio.valuation_asset
    own = portfolio.marks_of(venue) if venue not in portfolio.untied else None
    if own:
        price = portfolio._market_price(target, "USDT", own)
        if price:
            return price, f"{target}/USD on {venue}"
    price = portfolio._market_price(target, "USDT")
    if price:
        return price, f"{target}/USD (latest of any venue)"
    if fixed_usd:
        return fixed_usd, f"{target} at risk.valuation_asset_usd"
    return None


def usd_equity(portfolio: Portfolio, fixed_usd: Decimal | None = None) -> UsdEquity:
    """Every holding of every venue in USD, each at the first rate path that exists for it."""
    out = UsdEquity()
    for venue, book in portfolio.books.items():
        for bal in book.values():
            qty = bal.free + bal.locked
            if not qty:
                continue
            key = f"{venue}:{bal.asset}"
            rate = usd_rate(portfolio, venue, bal.asset, fixed_usd)
            if rate is None:
                out.unvalued.add(key)
                continue
            out.total += qty * rate[0]
            out.rates[key] = (plain(rate[0]), rate[1])
    return out


__all__ = ["UsdEquity", "usd_equity", "usd_rate"]

"""One balance view across every venue (exchanges, DEX wallets, prediction markets).

```python
view = combine(holdings_of(portfolio), portfolio.valuation_asset)
view.total_value                  # everything priced, in the valuation asset
view.assets["USDT"].venues        # {"binance": Decimal("900"), "dex": Decimal("100")}
```

Each venue's holdings are valued at that venue's own prices; an asset its venue has no price
for is valued at another venue's and named in `priced_elsewhere`. An asset with no price of
its own is valued at its wrapped token's (ETH at WETH: the WETH contract redeems one for one);
an asset without any price is listed, left out of the totals, and named in `unpriced`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from tradeguard.model.balance import Balance
from tradeguard.model.money import ZERO

# native gas assets and the token that wraps them one for one
WRAPPED = {"ETH": "WETH", "MATIC": "WMATIC", "BNB": "WBNB", "AVAX": "WAVAX"}
# Either twin priced values the other: a stored row may hold the native or the wrapped one;
# a WETH market values ETH (gas is paid in ETH, pools hold WETH) and back.
_TWIN = {**WRAPPED, **{wrapped: native for native, wrapped in WRAPPED.items()}}


def aliases(asset: str) -> tuple[str, ...]:
    """`asset`, then its wrapped (or native) twin if it has one."""
    twin = _TWIN.get(asset)
    return (asset,) if twin is None else (asset, twin)


class _Priced(Protocol):
    valuation_asset: str

    def all_balances(self) -> Iterable[Balance]: ...

    def price_of(self, asset: str, in_asset: str | None = None) -> Decimal | None: ...

    def values_on(
        self, venue: str, balances: Iterable[Balance]
    ) -> tuple[dict[str, Decimal], set[str]]: ...


@dataclass(frozen=True, slots=True)
class Holding:
    """One asset on one venue with its value in the valuation asset (None: no price)."""

    venue: str
    asset: str
    total: Decimal
    value: Decimal | None
    elsewhere: bool = False  # valued at another venue's price (its own venue had none)


@dataclass
class AssetTotal:
    asset: str
    total: Decimal = ZERO
    value: Decimal | None = ZERO
    venues: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class CombinedBalances:
    """Per asset totals (with each venue's part) and per venue values."""

    valuation_asset: str
    assets: dict[str, AssetTotal] = field(default_factory=dict)
    venue_values: dict[str, Decimal] = field(default_factory=dict)
    unpriced: list[str] = field(default_factory=list)
    priced_elsewhere: dict[str, list[str]] = field(default_factory=dict)  # venue -> assets

    @property
    def total_value(self) -> Decimal:
        return sum(self.venue_values.values(), ZERO)

    def to_json(self) -> dict[str, Any]:
        """Return the view with amounts as strings (exact decimals)."""
        rows = sorted(self.assets.values(), key=lambda a: (-(a.value or ZERO), a.asset))
        return {
            "valuation_asset": self.valuation_asset,
            "total_value": f"{self.total_value:f}",
            "assets": [
                {
                    "asset": a.asset,
                    "total": f"{a.total:f}",
                    "value": None if a.value is None else f"{a.value:f}",
                    "venues": {v: f"{q:f}" for v, q in sorted(a.venues.items())},
                }
                for a in rows
            ],
            "venues": {v: f"{q:f}" for v, q in sorted(self.venue_values.items())},
            "unpriced": self.unpriced,
            "priced_elsewhere": self.priced_elsewhere,
        }


def price_with_wrapped(portfolio: _Priced, asset: str) -> Decimal | None:
    """Return the asset's price, or its wrapped token's when it has none of its own."""
    price = portfolio.price_of(asset)
    if price is None and asset in WRAPPED:
        price = portfolio.price_of(WRAPPED[asset])
    return price


def holdings_of(portfolio: _Priced) -> list[Holding]:
    """Every non-zero ledger balance, valued at its venue's own marks (else another's)."""
    by_venue: dict[str, list[Balance]] = {}
    for b in portfolio.all_balances():
        if b.total:
            by_venue.setdefault(b.venue, []).append(b)
    out = []
    for venue, balances in by_venue.items():
        values, elsewhere = portfolio.values_on(venue, balances)
        for b in balances:
            value = values.get(b.asset)
            if value is None and b.asset in WRAPPED:
                price = price_with_wrapped(portfolio, b.asset)
                value = None if price is None else b.total * price
            out.append(Holding(venue, b.asset, b.total, value, b.asset in elsewhere))
    return out


def holdings_from_rows(rows: Iterable[dict[str, Any]]) -> list[Holding]:
    """Holdings from stored balance rows (`venue`, `asset`, `total`, `usd_value` = the value
    in the valuation asset when the balance was written)."""
    rows = [r for r in rows if r["total"]]
    unit: dict[str, Decimal] = {}
    for r in rows:
        if r.get("usd_value") is not None:
            unit.setdefault(r["asset"], Decimal(r["usd_value"]) / Decimal(r["total"]))
    out = []
    for r in rows:
        total = Decimal(r["total"])
        value = r.get("usd_value")
        price = unit.get(_TWIN.get(r["asset"], ""))
        if value is None and price is not None:
            value = total * price
        out.append(
            Holding(r["venue"], r["asset"], total, None if value is None else Decimal(value),
                    bool(r.get("priced_elsewhere")))
        )  # fmt: skip
    return out


def combine(holdings: Iterable[Holding], valuation_asset: str) -> CombinedBalances:
    """Sum holdings per asset and per venue; unpriced assets stay out of the values."""
    view = CombinedBalances(valuation_asset)
    unpriced: set[str] = set()
    for h in holdings:
        if not h.total:
            continue
        row = view.assets.setdefault(h.asset, AssetTotal(h.asset))
        row.total += h.total
        row.venues[h.venue] = row.venues.get(h.venue, ZERO) + h.total
        view.venue_values.setdefault(h.venue, ZERO)
        if h.value is None:
            unpriced.add(h.asset)
            continue
        view.venue_values[h.venue] += h.value
        if h.elsewhere:
            view.priced_elsewhere.setdefault(h.venue, []).append(h.asset)
        if row.value is not None:
            row.value += h.value
    for asset in unpriced:
        view.assets[asset].value = None  # part of it has no price: no total to show
    view.unpriced = sorted(unpriced)
    for assets in view.priced_elsewhere.values():
        assets.sort()
    view.priced_elsewhere = dict(sorted(view.priced_elsewhere.items()))
    return view

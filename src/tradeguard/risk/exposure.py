"""Open positions plus open entry orders, summed once and then kept up to date on approval."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.money import STABLECOINS, ZERO
from tradeguard.risk.views import MarketView, PortfolioView

_ONE = Decimal(1)


def quote_of(symbol: str) -> str:
    """Return the quote asset of a `BASE/QUOTE[:SETTLE]` symbol."""
    rest = symbol.split("/", 1)[1] if "/" in symbol else ""
    return rest.split(":", 1)[0]


class Exposure:
    """Position keys, strategies, risk to stop (heat, USD) and stablecoins committed to buys."""

    __slots__ = ("heat_usd", "keys", "pending_stable_usd", "strategies", "ts")

    def __init__(self, ts: int) -> None:
        self.ts = ts
        self.keys: set[tuple[str, str, str]] = set()
        self.strategies: set[str] = set()
        self.heat_usd = ZERO
        self.pending_stable_usd = ZERO


class ExposureMeter:
    """Sum exposure from a portfolio view; remembers which symbols are stablecoin-quoted."""

    __slots__ = ("_quote", "assumed_stop_frac", "stable_quote")

    def __init__(self, assumed_stop_frac: Decimal) -> None:
        self.assumed_stop_frac = assumed_stop_frac
        self.stable_quote: dict[str, bool] = {}
        self._quote: dict[str, str] = {}  # symbol -> its quote asset

    def usd_rate(self, symbol: str, portfolio: PortfolioView, usd_per_unit: Decimal) -> Decimal:
        """USD per unit of the symbol's quote (1 for stablecoins)."""
        stable = self.stable_quote.get(symbol)
        if stable is None:
            stable = self.stable_quote[symbol] = quote_of(symbol) in STABLECOINS
        if stable:
            return _ONE
        # Unpriced quote: count risk as if one unit were worth one USD rather than zero.
        rate = portfolio.price_of(quote_of(symbol))
        return rate * usd_per_unit if rate else _ONE

    def measure(
        self, portfolio: PortfolioView, market: MarketView, now: int, usd_per_unit: Decimal
    ) -> Exposure:
        """Sum open positions and open entry orders: keys, risk to stop, stablecoins committed."""
        exp = Exposure(now)
        assumed = self.assumed_stop_frac
        keys_add = exp.keys.add
        strategies_add = exp.strategies.add
        mid = market.mid
        stable_get = self.stable_quote.get
        # The rate depends on the quote asset only: positions and orders quoted in the same
        # asset (every pair of a BTC-quoted portfolio) price it once per measure.
        quote = self._quote
        rates: dict[str, Decimal] = {}

        def rate_of(symbol: str) -> Decimal:
            q = quote.get(symbol)
            if q is None:  # first sight: `usd_rate` learns whether the quote is a stablecoin
                q = quote[symbol] = quote_of(symbol)
                learnt = rates[q] = self.usd_rate(symbol, portfolio, usd_per_unit)
                return learnt
            rate = rates.get(q)
            if rate is None:
                rate = rates[q] = self.usd_rate(symbol, portfolio, usd_per_unit)
            return rate

        heat = ZERO
        for pos in portfolio.open_positions():
            qty = pos.quantity
            if not qty:
                continue
            symbol = pos.symbol
            keys_add((pos.venue, symbol, pos.strategy_id))
            strategies_add(pos.strategy_id)
            mark = mid(symbol) or pos.avg_entry
            stop = pos.stop_loss
            if stop is None:
                risk = abs(qty) * mark * assumed
            else:
                # Distance from the mark to the stop, on the losing side only.
                risk = (mark - stop) * qty
                if risk <= 0:
                    continue
            # a known stablecoin quote needs no rate (the first sight of a symbol learns it)
            heat += risk if stable_get(symbol) else risk * rate_of(symbol)
        for order in portfolio.open_orders():
            if order.reduce_only or not order.is_open:
                continue
            remaining = order.amount - order.filled
            if remaining <= 0:
                continue
            px = order.price or order.price_bound or mid(order.symbol)
            if px is None:
                continue
            keys_add((order.venue, order.symbol, order.strategy_id))
            strategies_add(order.strategy_id)
            if order.stop_loss is not None:
                risk = remaining * abs(px - order.stop_loss)
            else:
                risk = remaining * px * assumed
            heat += risk * rate_of(order.symbol)
            if order.side is Side.BUY and self.stable_quote.get(order.symbol):
                exp.pending_stable_usd += remaining * px
        exp.heat_usd = heat
        return exp

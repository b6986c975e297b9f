"""Open positions plus open entry orders, summed once and then kept up to date on approval."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.market import Fresh
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

    __slots__ = ("assumed_stop_frac", "quotes", "stable_quote", "stale_ms")

    def __init__(self, assumed_stop_frac: Decimal, stale_ms: int | None = None) -> None:
        self.assumed_stop_frac = assumed_stop_frac
        self.stable_quote: dict[str, bool] = {}
        self.quotes: dict[str, str] = {}  # symbol -> its quote asset
        # a venue's own market older than this (a silent stream) gives way to the latest
        self.stale_ms = stale_ms

    def usd_rate(
        self,
        venue: str,
        symbol: str,
        portfolio: PortfolioView,
        usd_per_unit: Decimal,
        fresh: Fresh = None,
    ) -> Decimal:
        """USD per unit of the symbol's quote on `venue` (1 for stablecoins); with `fresh`,
        from the venue's own markets that it accepts."""
        if self.is_stable(symbol):
            return _ONE
        quote = quote_of(symbol)
        usd = portfolio.price_on(venue, quote, "USDT", fresh)  # BTC at this venue's BTC/USDT
        if usd:
            return usd
        # Unpriced quote: count risk as if one unit were worth one USD rather than zero.
        rate = portfolio.price_on(venue, quote, None, fresh)
        return rate * usd_per_unit if rate else _ONE

    def is_stable(self, symbol: str) -> bool:
        """Whether `symbol` is quoted in a stablecoin (remembered per symbol)."""
        stable = self.stable_quote.get(symbol)
        if stable is None:
            stable = self.stable_quote[symbol] = quote_of(symbol) in STABLECOINS
        return stable

    def _freshness(self, market: MarketView, now: int) -> Callable[[str], Fresh]:
        """Per venue, the test of its own markets' data (None: every mark counts)."""
        limit = self.stale_ms
        tests: dict[str, Fresh] = {}

        def on(venue: str) -> Fresh:
            if limit is None:
                return None
            test = tests.get(venue)
            if test is None:

                def test(symbol: str) -> bool:
                    last = market.last_update_ms(symbol, venue)
                    return last is not None and now - last <= limit

                tests[venue] = test
            return test

        return on

    def measure(
        self, portfolio: PortfolioView, market: MarketView, now: int, usd_per_unit: Decimal
    ) -> Exposure:
        """Sum open positions and open entry orders: keys, risk to stop, stablecoins committed."""
        exp = Exposure(now)
        assumed = self.assumed_stop_frac
        keys_add = exp.keys.add
        strategies_add = exp.strategies.add
        mid = market.mid
        fresh_on = self._freshness(market, now)
        stable_get = self.stable_quote.get
        # The marks hold still during one sum: each (venue, quote) is priced once, not per
        # position and order (seven pairs quoted in BTC: one lookup instead of seven).
        rates: dict[tuple[str, str], Decimal] = {}
        quotes = self.quotes

        def rate_of(venue: str, symbol: str) -> Decimal:
            if self.is_stable(symbol):  # learnt per symbol, as `usd_rate` does
                return _ONE
            quote = quotes.get(symbol)
            if quote is None:
                quote = quotes[symbol] = quote_of(symbol)
            key = (venue, quote)
            rate = rates.get(key)
            if rate is None:
                rate = rates[key] = self.usd_rate(
                    venue, symbol, portfolio, usd_per_unit, fresh_on(venue)
                )
            return rate

        heat = ZERO
        for pos in portfolio.open_positions():
            qty = pos.quantity
            if not qty:
                continue
            symbol = pos.symbol
            keys_add((pos.venue, symbol, pos.strategy_id))
            strategies_add(pos.strategy_id)
            # the position's venue's price; another venue's only while it has none of its own
            mark = mid(symbol, pos.venue) or mid(symbol) or pos.avg_entry
            stop = pos.stop_loss
            if stop is None:
                risk = abs(qty) * mark * assumed
            else:
                # Distance from the mark to the stop, on the losing side only.
                risk = (mark - stop) * qty
                if risk <= ZERO:
                    continue
            # a known stablecoin quote needs no rate (the first sight of a symbol learns it)
            if stable_get(symbol):
                heat += risk
            else:
                heat += risk * rate_of(pos.venue, symbol)
        for order in portfolio.open_orders():
            if order.reduce_only or not order.is_open:
                continue
            remaining = order.amount - order.filled
            if remaining <= ZERO:
                continue
            px = (
                order.price
                or order.price_bound
                or mid(order.symbol, order.venue)
                or mid(order.symbol)
            )
            if px is None:
                continue
            keys_add((order.venue, order.symbol, order.strategy_id))
            strategies_add(order.strategy_id)
            if order.stop_loss is not None:
                risk = remaining * abs(px - order.stop_loss)
            else:
                risk = remaining * px * assumed
            heat += risk * rate_of(order.venue, order.symbol)
            if order.side is Side.BUY and self.stable_quote.get(order.symbol):
                exp.pending_stable_usd += remaining * px
        exp.heat_usd = heat
        return exp

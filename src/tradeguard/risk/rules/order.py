"""Rules every order meets, entry or exit: venue breaker, fresh data, instrument, price, rate."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.instrument import InstrumentViolation
from tradeguard.model.money import ONE, STABLECOINS, ZERO, fmt
from tradeguard.model.order import OrderIntent
from tradeguard.risk.breakers import RateBucket, VenueBreaker
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.observers import LOSS_STREAK_BY
from tradeguard.risk.rules.base import Check, Denial, Rule, frac
from tradeguard.risk.rules.trigger import check_trigger
from tradeguard.risk.views import PortfolioView

_HUNDRED = Decimal(100)
# bound once: enum members read on every check
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_REDUCING = TradingState.REDUCING
_CLOSED = VenueBreaker.CLOSED


def price_bound(side: Side, mid: Decimal, tick: Decimal, slip_frac: Decimal) -> Decimal:
    """The worst price a market order may fill at; rounded toward the mid, within the cap."""
    if side is _BUY:
        raw = mid * (ONE + slip_frac)
        return (raw / tick).to_integral_value(ROUND_FLOOR) * tick if tick > ZERO else raw
    raw = mid * (ONE - slip_frac)
    return (raw / tick).to_integral_value(ROUND_CEILING) * tick if tick > ZERO else raw


def shrinks(net: Decimal, side: Side, amount: Decimal) -> bool:
    """Tell whether an order only shrinks the net position `net`."""
    return net != ZERO and (net < ZERO) is (side is Side.BUY) and amount <= abs(net)


def closes_own(portfolio: PortfolioView, intent: OrderIntent) -> bool:
    """Tell whether reduce-only `intent` only shrinks its own strategy's position: another
    strategy on the symbol makes the account's net differ (its sale can leave the net short of,
    or past, what this strategy holds), and an exit closes what its strategy holds."""
    key = (intent.venue, intent.symbol, intent.strategy_id)
    own = next(
        (p.quantity for p in portfolio.open_positions()
         if (p.venue, p.symbol, p.strategy_id) == key),
        ZERO,
    )  # fmt: skip
    return shrinks(own, intent.side, intent.amount)


class VenueBreakerRule(Rule):
    key, code = "venue_error_threshold", "VENUE_BREAKER_OPEN"
    __slots__ = ("half_open_ms",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.half_open_ms = config.venue_half_open_after_s * 1000

    def check(self, c: Check) -> Denial | None:
        venue = c.intent.venue
        breaker = c.engine.venue_breakers.get(venue)
        if breaker is None or breaker.state == _CLOSED:
            c.breaker = None  # nothing to tell a closed breaker about an approval
            return None
        c.breaker = breaker
        if breaker.allows(c.now, self.half_open_ms):
            return None
        after_s = self.config.venue_half_open_after_s
        return self.deny(
            None,
            None,
            f"order rejected: the error breaker for venue {venue} is {breaker.state} after "
            f"repeated errors ({breaker.last_error}); a probe is allowed {after_s} s after it "
            "opened (risk.venue_half_open_after_s)",
        )


class StaleDataRule(Rule):
    key, code = "stale_data_s", "STALE_MARKET_DATA"
    __slots__ = ("limit_ms",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit_ms = config.stale_data_s * 1000

    def check(self, c: Check) -> Denial | None:
        symbol, venue = c.intent.symbol, c.intent.venue
        last = c.market.last_update_ms(symbol, venue)
        if last is not None and c.now - last <= self.limit_ms:
            if (venue, symbol) in c.engine.stale_data:
                c.engine.data_fresh(c.intent, c.now)
            return None
        limit_s = self.config.stale_data_s
        age = None if last is None else Decimal(c.now - last) / 1000
        c.engine.data_stale(c.intent, c.now, age)
        seen = "never" if age is None else f"{age} s ago"
        return self.deny(
            age,
            Decimal(limit_s),
            f"order rejected: market data for {symbol} on {venue} last updated {seen}, older "
            f"than stale_data_s={limit_s} (risk.stale_data_s)",
        )


class MarkSuspectRule(Rule):
    key, code = "max_mark_jump_pct", "MARK_SUSPECT"
    __slots__ = ()

    def applies(self, valuation_is_usd: bool) -> bool:
        return bool(self.config.max_mark_jump_pct or self.config.max_mark_jump_outcome_pct)

    def check(self, c: Check) -> Denial | None:
        guard = c.engine.mark_guard
        if not guard.suspect:
            return None
        i = c.intent
        held = guard.held(i.venue, i.symbol)
        if held is None:
            return None
        price, accepted = held
        limit = guard.limit_pct(guard.data_venue.get(i.venue, i.venue), i.symbol)
        return self.deny(
            price,
            limit,
            f"order rejected: the mark of {i.symbol} on {i.venue} is suspect: {price} against the "
            f"last accepted {accepted}, more than risk.max_mark_jump_pct={limit}% away; orders "
            "wait for a second update to confirm or drop it",
        )


# An amount more than this many amount steps is beyond any market (and beyond the 28 digits
# Decimal arithmetic keeps, where a step check would fail instead of answering).
_MAX_STEP_DIGITS = 24
_PRICE_FIELDS = ("price", "trigger_price", "stop_loss", "take_profit")


def _shown(value: object) -> str:
    return str(value) if isinstance(value, Decimal) else f"{value!r} ({type(value).__name__})"


def _must_be(value: object, what: str) -> str:
    # A float is not the number it was typed as (0.1 is 0.1000000000000000055...): say so
    if isinstance(value, float) and math.isfinite(value):
        return f'a float is not exact: pass Decimal("{value!r}"), made from a string'
    return f"must be {what}"


def malformed(i: OrderIntent, step: Decimal) -> Denial | None:
    """Deny an intent no market could take: an amount that is not a finite Decimal > 0 or is
    more than 10^24 amount steps, a price, trigger, stop or target that is not a finite Decimal
    (their signs are the price and trigger rules' to judge)."""
    amount = i.amount
    if type(amount) is not Decimal or not amount.is_finite() or amount <= ZERO:
        return Denial(
            "INVALID_AMOUNT",
            "instrument",
            None,
            None,
            f"order rejected: amount {_shown(amount)} on {i.symbol}: "
            f"{_must_be(amount, 'a finite Decimal > 0')}",
        )
    if step > ZERO and amount.adjusted() - step.adjusted() >= _MAX_STEP_DIGITS:
        return Denial(
            "INVALID_AMOUNT",
            "instrument",
            amount,
            None,
            f"order rejected: amount {amount} on {i.symbol} is over 10^{_MAX_STEP_DIGITS} "
            f"amount steps of {step}: beyond any market",
        )
    for name in _PRICE_FIELDS:
        value = getattr(i, name)
        if value is not None and (type(value) is not Decimal or not value.is_finite()):
            return Denial(
                "INVALID_PRICE",
                "instrument",
                None,
                None,
                f"order rejected: {name} {_shown(value)} on {i.symbol}: "
                f"{_must_be(value, 'a finite Decimal')}",
            )
    return None


class InstrumentRule(Rule):
    key, code = "instrument", "UNKNOWN_INSTRUMENT"

    @classmethod
    def default(cls) -> None:
        return None

    def check(self, c: Check) -> Denial | None:
        i = c.intent
        inst = c.market.instrument(i.venue, i.symbol)
        if inst is not None:
            c.inst = inst
            return malformed(i, inst.amount_step)
        return self.deny(
            None,
            None,
            f"order rejected: no instrument rules for {i.symbol} on {i.venue}; load the "
            "venue's markets first",
        )


def band_edge(side: Side, mid: Decimal, tick: Decimal, band_pct: Decimal) -> Decimal:
    """The farthest from `mid` a limit order's price may be and still pass `PriceRule`, to the
    tick: a sell's lowest price, a buy's highest."""
    reach = mid * frac(band_pct)
    if side is Side.SELL:
        return ((mid - reach) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return ((mid + reach) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


class PriceRule(Rule):
    """A reference price; a limit price inside the band; a market order's protective bound."""

    key, code = "price_band_pct", "PRICE_BAND"
    __slots__ = ("band_frac", "slip_frac")

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.band_frac = frac(config.price_band_pct)
        self.slip_frac = frac(config.market_slippage_cap_pct)

    def check(self, c: Check) -> Denial | None:
        i, inst = c.intent, c.inst
        mid = c.market.mid(i.symbol, i.venue)
        if mid is None or mid <= ZERO:
            return self.deny(
                None,
                None,
                f"order rejected: no reference price for {i.symbol} on {i.venue}; wait for "
                "market data",
                "NO_REFERENCE_PRICE",
            )
        # the guarded mark: a book as far off as a held print neither lets a tiny order pass
        # the minimums nor refuses a normal one (the minimums, the band, a market order's bound)
        c.mid = mid = c.engine.mark_guard.mark_for(i.venue, i.symbol, mid)
        if i.type is not _LIMIT:
            if i.type is _MARKET:
                return self._market(c, mid)
            return check_trigger(c, mid, self.band_frac, self.config.price_band_pct)
        price = i.price
        if price is None or price <= ZERO:
            return Denial(
                "INVALID_PRICE",
                "price",
                price,
                None,
                f"order rejected: limit order on {i.symbol} needs a positive price, got {price}",
            )
        if abs(price - mid) > mid * self.band_frac:
            return self._outside_band(price, mid)
        c.price = price
        violation = inst.violation(i.amount, price)
        return None if violation is None else _instrument_denial(c, violation)

    def _outside_band(self, price: Decimal, mid: Decimal) -> Denial:
        band_pct = self.config.price_band_pct
        dev = abs(price - mid) / mid * _HUNDRED
        return self.deny(
            dev,
            band_pct,
            f"order rejected: limit price {price} is {fmt(dev)}% from the mid {mid}, "
            f"beyond price_band_pct={band_pct} (risk.price_band_pct)",
        )

    def _market(self, c: Check, mid: Decimal) -> Denial | None:
        i, inst = c.intent, c.inst
        c.bound = c.price = price_bound(i.side, mid, inst.price_tick, self.slip_frac)
        violation = inst.violation(i.amount, None)
        notional = i.amount * mid
        if violation is None and notional < inst.min_notional:
            return Denial(
                "MIN_NOTIONAL",
                "instrument.min_notional",
                notional,
                inst.min_notional,
                f"order rejected: notional {notional} {inst.quote} is below the minimum "
                f"{inst.min_notional} for {i.symbol}",
            )
        return None if violation is None else _instrument_denial(c, violation)


class MaxTxValueRule(Rule):
    """A venue's per-transaction value cap (a DEX wallet's `max_tx_value`), before the journal.

    The order is valued at the higher of the mid and its price (a market order's bound), so a
    swap the venue would refuse from fresh reserves is refused here first, with a reason code.
    """

    key, code = "instrument.max_notional", "TX_VALUE_CAP"

    @classmethod
    def default(cls) -> None:
        return None

    def check(self, c: Check) -> Denial | None:
        cap = c.inst.max_notional
        if cap <= ZERO:
            return None
        i = c.intent
        value = i.amount * max(c.price, c.mid)
        if value <= cap:
            return None
        q = c.inst.quote
        return self.deny(
            value,
            cap,
            f"order rejected: {i.symbol} order value {fmt(value)} {q} exceeds the venue's "
            f"per-transaction cap max_tx_value={fmt(cap)} {q} (venues.{i.venue}); split it, or "
            "move larger amounts through a multi-sig by hand",
        )


def _instrument_denial(c: Check, violation: InstrumentViolation) -> Denial:
    return Denial(
        violation.code,
        "instrument",
        None,
        None,
        f"order rejected: {violation.message} (instrument rules of {c.intent.venue})",
    )


class ReduceOnlyRule(Rule):
    key, code = "reduce_only", "REDUCE_ONLY_WOULD_GROW"

    @classmethod
    def default(cls) -> None:
        return None

    def check(self, c: Check) -> Denial | None:
        i = c.intent
        c.net = net = c.portfolio.net_quantity(i.venue, i.symbol)
        c.reducing = bool(net) and shrinks(net, i.side, i.amount)
        if not i.reduce_only:
            return None
        # A fill is booked to its order's strategy: a reduce-only order passes only when it
        # shrinks that strategy's own position (a close under another id, even one that shrinks
        # the account's net, would open a position for that id beside the holder's).
        if closes_own(c.portfolio, i):
            c.reducing = True
            return None
        c.reducing = False
        return self.deny(
            i.amount,
            abs(net),
            f"order rejected: reduce-only {i.side.value} {i.amount} would not shrink strategy "
            f"{i.strategy_id}'s position on {i.symbol} (a fill is booked to its order's "
            f"strategy){_holders(c.portfolio, i)}",
        )


def _holders(portfolio: PortfolioView, intent: OrderIntent) -> str:
    """Name the strategies whose position on the intent's symbol its side would shrink."""
    found = [
        p for p in portfolio.open_positions()
        if (p.venue, p.symbol) == (intent.venue, intent.symbol)
        and p.strategy_id != intent.strategy_id
        and p.quantity != ZERO and (p.quantity > ZERO) is (intent.side is Side.SELL)
    ]  # fmt: skip
    held = [f"strategy_id {p.strategy_id!r} holds {p.quantity}" for p in found if p.strategy_id]
    # a position of no strategy (trades the node did not make opened it): no order carries
    # its id "", but a trade made on the venue outside the node is booked to it
    loose = [p.quantity for p in found if not p.strategy_id]
    why = (
        "; to close a strategy's position send it under that strategy's id: " + ", ".join(held)
        if held else ""
    )  # fmt: skip
    if loose:
        why += (f"; no strategy holds {loose[0]} (opened by trades the node did not make): no "
                "order can be sent under its empty id; `tradeguard kill --flatten` closes it, "
                "as does a trade made on the venue outside the node")  # fmt: skip
    return why or "; no strategy holds a position it would shrink there"


class ReducingStateRule(Rule):
    key, code = "state", "TRADING_REDUCING"
    inactive_only = True

    @classmethod
    def default(cls) -> None:
        return None

    def check(self, c: Check) -> Denial | None:
        engine = c.engine
        # An arbitrage unwind trades a stranded asset back to where the cycle started: it
        # shrinks exposure though no position of its own says so.
        if engine.state is not _REDUCING or c.reducing or c.unwind:
            return None
        # A losing streak's timed pause ends by itself: "until resume" alone would say otherwise.
        timed = engine.reducing_until is not None and engine.state_by == LOSS_STREAK_BY
        until = "the pause ends or `tradeguard resume`" if timed else "`tradeguard resume`"
        return self.deny(
            None,
            None,
            f"order rejected: trading is REDUCING ({engine.state_reason}); only orders that "
            f"shrink a position pass until {until}",
        )


class OrderRateRule(Rule):
    key, code = "max_orders_per_s", "ORDER_RATE"
    __slots__ = ("buckets",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.buckets: dict[str, RateBucket] = {}

    def check(self, c: Check) -> Denial | None:
        venue = c.intent.venue
        bucket = self.buckets.get(venue)
        if bucket is None:
            bucket = self.buckets[venue] = RateBucket(float(self.config.max_orders_per_s), c.now)
        if bucket.available(c.now):
            c.bucket = bucket
            return None
        limit = self.config.max_orders_per_s
        return self.deny(
            None,
            limit,
            f"order rejected: more than max_orders_per_s={limit} orders per second on {venue} "
            "(risk.max_orders_per_s)",
        )


class ValuationPriceRule(Rule):
    """Read the valuation asset's USD price from the market before the order is valued."""

    key, code = "valuation_asset_usd", "NO_USD_PRICE"

    def applies(self, valuation_is_usd: bool) -> bool:
        return not valuation_is_usd

    def check(self, c: Check) -> Denial | None:
        c.engine.valuation.refresh(c.portfolio)
        return None  # a missing price is refused by the rules that need one


class UsdPriceRule(Rule):
    """The order's value in USD: its quote asset needs a USD price."""

    key, code = "valuation_asset_usd", "NO_USD_PRICE"
    __slots__ = ("limit_ms",)

    def __init__(self, config: RiskConfig) -> None:
        super().__init__(config)
        self.limit_ms = config.stale_data_s * 1000  # an own market older than this is silent

    def check(self, c: Check) -> Denial | None:
        quote = c.inst.quote
        if quote in STABLECOINS:  # one unit is one USD: no multiplication by one
            c.stable_buy = c.intent.side is _BUY
            c.usd_rate = ONE
            c.notional_usd = c.intent.amount * c.price
            return None
        c.stable_buy = False
        # the order's venue's rates: its quote in the valuation asset, that asset in USD; a
        # market of its own whose data is stale (a silent stream) gives way to the latest
        venue, market, now, limit_ms = c.intent.venue, c.market, c.now, self.limit_ms

        def fresh(symbol: str) -> bool:
            last = market.last_update_ms(symbol, venue)
            return last is not None and now - last <= limit_ms

        rate = c.portfolio.price_on(venue, quote, None, fresh)
        k = c.engine.valuation.usd_on(c.portfolio, venue, fresh)
        if rate is None or k is None:
            return self._missing(c, quote, rate is None)
        c.usd_rate = usd_rate = rate * k
        c.notional_usd = c.intent.amount * c.price * usd_rate
        return None

    def _missing(self, c: Check, quote: str, no_rate: bool) -> Denial:
        if no_rate:
            reason = (
                f"order rejected: no price to value {quote} in USD; mark a {quote}/USDT "
                "market first"
            )
            return Denial(self.code, "valuation", None, None, reason)
        reason = c.engine.valuation.missing(f"the order value of {c.intent.symbol}")
        return Denial(self.code, "valuation", None, None, reason)

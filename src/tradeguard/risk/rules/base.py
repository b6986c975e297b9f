"""What a pre-trade rule is: a config key, a reason code and `check(ctx) -> Denial | None`.

A new rule is one subclass of `Rule` and its tests; the engine evaluates the ordered tuples in
`rules/__init__.py` and stops at the first denial.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ZERO
from tradeguard.model.order import OrderIntent
from tradeguard.risk.breakers import RateBucket, VenueBreaker
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.exposure import Exposure
from tradeguard.risk.views import MarketView, PortfolioView

if TYPE_CHECKING:
    from tradeguard.risk.engine import RiskEngine

_HUNDRED = Decimal(100)


class Denial:
    """Why an intent is refused: reason code, rule (config key), value, limit and message."""

    __slots__ = ("code", "limit", "reason", "rule", "value")

    def __init__(
        self, code: str, rule: str, value: Decimal | None, limit: Decimal | None, reason: str
    ) -> None:
        self.code = code
        self.rule = rule
        self.value = value
        self.limit = limit
        self.reason = reason


class Check:
    """The intent under check; rules fill in the figures the later rules and the engine read.

    The engine keeps one and reuses it for every check: each figure is written by the rule that
    owns it before anything reads it, so only the inputs and `bound` (set for market orders
    only) are reset per check.
    """

    __slots__ = (
        "ahead",
        "ahead_stable_usd",
        "bound",
        "breaker",
        "bucket",
        "engine",
        "equity",
        "equity_usd",
        "exposure",
        "held",
        "inst",
        "intent",
        "limits",
        "market",
        "mid",
        "net",
        "notional_usd",
        "now",
        "order_risk",
        "portfolio",
        "price",
        "reducing",
        "stable_buy",
        "unwind",
        "usd_rate",
    )
    # inputs, set by the engine
    intent: OrderIntent
    portfolio: PortfolioView
    market: MarketView
    now: int
    # figures without a neutral value: set by their rule before any read
    breaker: VenueBreaker | None  # VenueBreakerRule: the venue's breaker unless closed
    inst: Instrument  # InstrumentRule
    price: Decimal  # PriceRule: the limit price or a market order's bound
    bucket: RateBucket  # OrderRateRule: the venue's bucket an approval takes a token from
    exposure: Exposure  # the engine, before the entry rules
    limits: tuple[Decimal, Decimal, Decimal, Decimal | None]  # DailyLossLimit: loss_limits()

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self.mid = ZERO
        self.bound: Decimal | None = None
        self.net = ZERO
        self.reducing = False
        self.unwind = False  # an arb-unwind giving back its own cycle's holding (the engine)
        self.stable_buy = False  # a buy paid in a stablecoin
        self.usd_rate = ZERO
        self.notional_usd = ZERO
        self.equity = ZERO  # in the valuation asset
        self.equity_usd = ZERO
        self.order_risk = ZERO
        self.held = False  # the intent's (venue, symbol, strategy) already holds exposure
        self.ahead = 0  # a dry run's earlier legs of the same plan, approved but not counted
        self.ahead_stable_usd = ZERO  # the stablecoins those earlier legs spend


class Rule:
    """One pre-trade rule. `key` names its `[risk]` setting (also the decision's `rule`)."""

    key: ClassVar[str]
    code: ClassVar[str]
    # True for a rule that can deny only while trading is not ACTIVE (left out while it is)
    inactive_only: ClassVar[bool] = False
    __slots__ = ("config",)

    def __init__(self, config: RiskConfig) -> None:
        self.config = config

    @classmethod
    def default(cls) -> Any:
        """Return the setting's default, as `RiskConfig` declares it."""
        return RiskConfig.model_fields[cls.key].default

    def applies(self, valuation_is_usd: bool) -> bool:
        """Tell whether this rule can deny anything under its config (off rules are skipped)."""
        return True

    def check(self, c: Check) -> Denial | None:
        """Return a Denial when the intent breaks this rule, else None."""
        raise NotImplementedError

    def deny(
        self, value: Decimal | None, limit: Decimal | None, reason: str, code: str = ""
    ) -> Denial:
        return Denial(code or self.code, self.key, value, limit, reason)


def frac(pct: Decimal) -> Decimal:
    """Return a percentage as a fraction."""
    return pct / _HUNDRED

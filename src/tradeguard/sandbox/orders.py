"""What the matching engine deals in: markets, accounts, orders, trades, executions, results."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.model.money import ZERO

FEE_ACCOUNT = "__fees__"
HOUSE_ACCOUNT = "__house__"

BUY = "BUY"
SELL = "SELL"
LIMIT = "LIMIT"
MARKET = "MARKET"
LIMIT_MAKER = "LIMIT_MAKER"
STOP_LOSS = "STOP_LOSS"
STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
TAKE_PROFIT = "TAKE_PROFIT"
TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
# What a stop order becomes once its stop price is crossed.
TRIGGERED_KIND = {
    STOP_LOSS: MARKET,
    STOP_LOSS_LIMIT: LIMIT,
    TAKE_PROFIT: MARKET,
    TAKE_PROFIT_LIMIT: LIMIT,
}
ORDER_TYPES = (
    LIMIT,
    LIMIT_MAKER,
    MARKET,
    STOP_LOSS,
    STOP_LOSS_LIMIT,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
)

NEW = "NEW"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
EXPIRED = "EXPIRED"
REJECTED = "REJECTED"
FINAL = frozenset({FILLED, CANCELED, EXPIRED, REJECTED})


class EngineReject(Exception):
    """An order or cancel the exchange refuses, with Binance's error code and HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status


INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A spot market and its filters (PRICE_FILTER, LOT_SIZE, NOTIONAL) and fee rates."""

    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    min_price: Decimal = Decimal("0")
    max_price: Decimal = Decimal("1000000")
    max_qty: Decimal = Decimal("9000000")
    # Kraken charges both sides' fees in the quote asset; a buy then locks its taker fee too.
    fee_in_quote: bool = False
    # Kraken's self-trade prevention (stptype cancel-newest): an arriving order that would trade
    # with a resting order of its own account is cancelled there (the house is exempt).
    self_trade_cancels_newest: bool = False


@dataclass(slots=True)
class AssetBalance:
    """Free and locked amounts of one asset."""

    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(slots=True)
class Account:
    """Balances of one account, keyed by asset."""

    account_id: str
    balances: dict[str, AssetBalance] = field(default_factory=dict)
    # Binance's "use BNB to pay fees": fees taken in BNB at a discount while BNB covers them
    bnb_fees: bool = False
    # What the exchange created for this account beyond deposits (the house market maker only)
    issued: dict[str, Decimal] = field(default_factory=dict)

    def bal(self, asset: str) -> AssetBalance:
        """Return the balance of `asset`, created at zero on first use."""
        b = self.balances.get(asset)
        if b is None:
            b = self.balances[asset] = AssetBalance()
        return b


@dataclass(slots=True)
class EngineOrder:
    """An order as the exchange keeps it."""

    order_id: int
    client_order_id: str
    account_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal  # 0 for market orders
    orig_qty: Decimal  # 0 for market orders by quote amount
    orig_quote_qty: Decimal
    created_ms: int
    updated_ms: int
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = NEW
    lock_asset: str = ""
    locked: Decimal = ZERO  # still held for this order
    seq: int = 0
    on_book: bool = False
    working: bool = False  # being filled in slices (fault injection), not on the book
    stop_price: Decimal = ZERO
    triggered: bool = False  # a stop order whose stop price was crossed
    order_list_id: int = -1
    # A quote-fee buy's cost charged a fee so far, by fee rate (see trade_settlement)
    quote_fee_basis: dict[Decimal, Decimal] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """How the order matches: LIMIT, LIMIT_MAKER or MARKET (a stop order once triggered)."""
        return TRIGGERED_KIND.get(self.type, self.type)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True, slots=True)
class Trade:
    """One match between a taker and a maker order."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time_ms: int
    buyer_order_id: int
    seller_order_id: int
    buyer_account: str
    seller_account: str
    buyer_is_maker: bool
    buyer_fee: Decimal
    seller_fee: Decimal
    buyer_fee_asset: str = ""  # "" = the asset received (base for the buyer, quote for the seller)
    seller_fee_asset: str = ""


@dataclass(frozen=True, slots=True)
class Execution:
    """A snapshot of an order at one event, the payload of a Binance `executionReport`."""

    account_id: str
    exec_type: str  # NEW, TRADE, CANCELED, EXPIRED, REJECTED
    order_id: int
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    status: str
    executed_qty: Decimal
    cum_quote: Decimal
    created_ms: int
    event_ms: int
    on_book: bool
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    commission: Decimal = ZERO
    commission_asset: str | None = None
    trade_id: int = -1
    is_maker: bool = False
    stop_price: Decimal = ZERO
    order_list_id: int = -1


@dataclass(slots=True)
class Result:
    """What one engine call did: the order, its trades, the events, the accounts it touched."""

    order: EngineOrder | None = None
    trades: list[Trade] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    touched: dict[str, set[str]] = field(default_factory=dict)  # account -> assets

    def touch(self, account_id: str, *assets: str) -> None:
        self.touched.setdefault(account_id, set()).update(assets)

    def merge(self, other: Result) -> None:
        self.trades.extend(other.trades)
        self.executions.extend(other.executions)
        for acc, assets in other.touched.items():
            self.touch(acc, *assets)

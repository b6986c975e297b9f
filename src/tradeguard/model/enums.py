"""Enumerations shared across the engine."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    # Resting until the market reaches `trigger_price`, then a market (or, `_limit`, a limit)
    # order. A stop-loss sell triggers on a fall, a take-profit sell on a rise; buys mirror.
    STOP_LOSS = "stop_loss"
    STOP_LOSS_LIMIT = "stop_loss_limit"
    TAKE_PROFIT = "take_profit"
    TAKE_PROFIT_LIMIT = "take_profit_limit"

    @property
    def is_trigger(self) -> bool:
        return self in _TRIGGERED

    @property
    def has_limit(self) -> bool:
        """Whether the order carries a limit price (plain limit or a triggered limit)."""
        return self in _WITH_LIMIT


_TRIGGERED = frozenset(
    {OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT,
     OrderType.TAKE_PROFIT_LIMIT}
)  # fmt: skip
_WITH_LIMIT = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})


def trigger_on_fall(type_: OrderType, side: Side) -> bool:
    """Whether a trigger order fires when the price falls to its trigger (else on a rise)."""
    stop = type_ in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
    return stop is (side is Side.SELL)


def trigger_crossed(
    type_: OrderType, side: Side, trigger: Decimal, low: Decimal, high: Decimal
) -> bool:
    """Whether prices spanning [low, high] reach the trigger of an order of this type and side."""
    return low <= trigger if trigger_on_fall(type_, side) else high >= trigger


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        return not self.is_terminal


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class LiquiditySide(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class TradingState(StrEnum):
    """Whether new orders may pass: all, only exposure-reducing ones, or none."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class TradingMode(StrEnum):
    PAPER = "paper"
    BACKTEST = "backtest"
    SANDBOX = "sandbox"
    LIVE = "live"

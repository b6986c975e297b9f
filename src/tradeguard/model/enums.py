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

    # Each member's own attributes (set below), read on every order: an attribute read, not a
    # property's Python call.
    is_trigger: bool  # resting until its trigger price is reached
    has_limit: bool  # carries a limit price (plain limit or a triggered limit)


_TRIGGERED = frozenset(
    {OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT,
     OrderType.TAKE_PROFIT_LIMIT}
)  # fmt: skip
_WITH_LIMIT = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
for _type in OrderType:
    _type.is_trigger = _type in _TRIGGERED
    _type.has_limit = _type in _WITH_LIMIT


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

    # set below for each member, as OrderType's flags (several reads an order)
    is_terminal: bool  # filled, cancelled, rejected or expired: nothing more happens to it
    is_open: bool  # not terminal


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
for _status in OrderStatus:
    _status.is_terminal = _status in _TERMINAL
    _status.is_open = not _status.is_terminal


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

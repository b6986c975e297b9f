"""Domain model: instruments, orders, fills, positions, balances, market data, events.

Everything here is plain data and pure logic over `Decimal`; nothing imports the rest of
tradeguard.
"""

from tradeguard.model.balance import Balance, BalanceBook
from tradeguard.model.enums import (
    LiquiditySide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TradingMode,
    TradingState,
)
from tradeguard.model.errors import (
    AmbiguousVenueError,
    ConfigError,
    DefinitiveVenueError,
    InvalidOrderTransition,
    TradeguardError,
    VenueError,
)
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.ids import ClientOrderIdFactory
from tradeguard.model.instrument import Instrument, InstrumentViolation
from tradeguard.model.market import BookLevel, Candle, Quote, TradeTick
from tradeguard.model.money import ZERO, dec, quantize_down
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.position import ClosedTrade, Position
from tradeguard.model.reports import OrderReport

__all__ = [
    "ZERO",
    "AmbiguousVenueError",
    "Balance",
    "BalanceBook",
    "BookLevel",
    "Candle",
    "ClientOrderIdFactory",
    "ClosedTrade",
    "ConfigError",
    "DefinitiveVenueError",
    "Event",
    "EventKind",
    "Fill",
    "Instrument",
    "InstrumentViolation",
    "InvalidOrderTransition",
    "LiquiditySide",
    "Order",
    "OrderIntent",
    "OrderReport",
    "OrderStatus",
    "OrderType",
    "Position",
    "Quote",
    "Side",
    "TimeInForce",
    "TradeTick",
    "TradeguardError",
    "TradingMode",
    "TradingState",
    "VenueError",
    "dec",
    "quantize_down",
]

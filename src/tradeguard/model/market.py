"""Market data records: candles, quotes, trades and book levels (prices as Decimal)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

Fresh = Callable[[str], bool] | None
"""Whether a venue's own mark of a symbol counts (None: every mark does)."""


@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV bar; `ts` is the bar's open time in epoch milliseconds, volume in base units.

    `venue` names the venue whose market made the bar ("" for a file replayed for every venue).
    """

    symbol: str
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    interval_s: int = 60
    venue: str = ""

    @property
    def close_ts(self) -> int:
        return self.ts + self.interval_s * 1000


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask with sizes at one instant, and the book's depth when the feed has it.

    `bids` (highest first) and `asks` (lowest first) hold (price, size) levels including the
    best one; they are empty when the source gives only the top of the book.
    """

    symbol: str
    ts: int
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    bids: tuple[tuple[Decimal, Decimal], ...] = ()
    asks: tuple[tuple[Decimal, Decimal], ...] = ()
    venue: str = ""

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class TradeTick:
    """One public trade; `side` is the aggressor's side ("buy" or "sell"), `venue` where it
    printed ("" when one feed serves every venue)."""

    symbol: str
    ts: int
    trade_id: str
    price: Decimal
    amount: Decimal
    side: str
    venue: str = ""


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    amount: Decimal

"""Book events as loaded from files or feeds: a full snapshot, or one message of level changes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

Level = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Replace the whole book of `symbol`; `seq` is the venue's last update id (0 if unknown)."""

    symbol: str
    ts: int
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """Set price levels of one venue message; an amount of 0 removes the level.

    `seq` is the message's last update id (Binance `u`, Bybit `u`). `first_seq` is Binance `U`
    and `prev_seq` Binance futures `pu`; both are None when the venue does not send them.
    """

    symbol: str
    ts: int
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    first_seq: int | None = None
    prev_seq: int | None = None

    @property
    def level_count(self) -> int:
        return len(self.bids) + len(self.asks)


BookEvent = BookSnapshot | BookDelta
